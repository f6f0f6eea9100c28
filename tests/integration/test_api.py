"""One contract suite for both hosts: the Azure functions and the local runner over HTTP."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from devtools.api_server import start_api_server
from shared import aio
from shared.config import Settings
from shared.core.inputs import InputRow
from shared.runtime import Runtime, set_runtime
from shared.scan.pipeline import run_pipeline
from shared.store.db import engine_for
from shared.store.keys import ApiKeyStore
from shared.store.leads import LeadStore
from shared.triggers.registry import ROUTES
from tests.integration.api_clients import AzureClient, LocalClient, indexed_functions
from tests.integration.zones import RECORDS

ROOT = Path(__file__).resolve().parents[2]
SEED = [
    ("m365.com.tr", "M365 Bilişim A.Ş."),
    ("google.com.tr", "Gökyüzü Yazılım"),
    ("gw.com.tr", None),
    ("godaddy.com.tr", "Şişli İnşaat"),
    ("own.com.tr", "Öztürk Gıda"),
    ("nomx.com", None),
]


@pytest.fixture(scope="module")
def api(tmp_path_factory, dns_server_factory):
    """A seeded database, keys, the Azure context in-process and a local runner subprocess."""
    dns = dns_server_factory(RECORDS)
    db_url = f"sqlite:///{tmp_path_factory.mktemp('api') / 'hunter.db'}"
    env = {
        "HUNTER_DATABASE_URL": db_url,
        "HUNTER_DNS_NAMESERVERS": dns.address,
        "HUNTER_DNS_TIMEOUT": "0.3",
        "HUNTER_WHOIS_ENABLED": "false",
        "HUNTER_CORS_ORIGINS": "https://app.example.com",
        "HUNTER_AUTH_FAILURES_PER_MINUTE": "100000",  # this module sends wrong keys on purpose, many times
    }
    settings = Settings(**{k.removeprefix("HUNTER_").lower(): v for k, v in env.items()})
    repository = LeadStore(engine_for(db_url))
    aio.run(run_pipeline((InputRow(d, c) for d, c in SEED), settings, repository))
    store = ApiKeyStore(engine_for(db_url))
    keys = {
        "admin": store.create("admin", ["admin"])[0],
        "read": store.create("reader", ["read"])[0],
        "scan": store.create("scanner", ["scan"])[0],
        "slow": store.create("slow", ["read"], rate_limit_per_minute=2)[0],
        "revoked": store.create("gone", ["admin"])[0],
        "fuzz": store.create("fuzz", ["admin"], rate_limit_per_minute=1_000_000)[0],
    }
    store.revoke("gone")
    context = Runtime(settings, time.monotonic())
    set_runtime(context)
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    log = log_path.open("wb")  # a file, not a pipe: nobody reads a pipe and a full one would stall the server
    server, base = start_api_server(env, workers=2, log=log)  # two processes, as on a 2-core machine
    yield {
        "keys": keys,
        "base": base,
        "clients": {"azure": AzureClient(), "local": LocalClient(base.removesuffix("/api"))},
        "settings": settings,
        "context": context,
    }
    server.terminate()
    server.wait(timeout=10)
    log.close()
    set_runtime(None)
    errors = [line for line in log_path.read_text().splitlines() if '"level": "error"' in line]
    assert not errors, errors[:3]  # no request of the whole suite hit an unhandled error


@pytest.fixture(params=["azure", "local"])
def client(request, api):
    return api["clients"][request.param]


def auth(api, key: str = "admin") -> dict[str, str]:
    return {"X-API-Key": api["keys"][key]}


def assert_problem(reply, status: int, field: str | None = None) -> dict:
    assert reply.status == status, reply.body
    assert reply.content_type.startswith("application/problem+json")
    body = reply.json()
    assert body["status"] == status and body["title"]
    assert "Traceback" not in reply.body.decode()
    if field is not None:
        assert field in {e["field"] for e in body.get("errors", [])}, body
    return body


# -- metadata the Functions host indexes ----------------------------------------------------


def test_function_metadata_matches_the_routing_table():
    """What the Functions host indexes: names, routes, methods, auth levels and bindings."""
    import json

    from shared.triggers.registry import QUEUE_FUNCTIONS, TIMER_FUNCTIONS

    indexed = {}
    queue_triggers = {}
    timer_triggers = {}
    for function in indexed_functions():
        meta = json.loads(function.get_function_json())
        if meta["bindings"][0]["type"] == "queueTrigger":
            (binding,) = meta["bindings"]
            assert binding["direction"] == "IN" and binding["connection"] == "AzureWebJobsStorage"
            queue_triggers[function.get_function_name()] = binding["queueName"]
            continue
        if meta["bindings"][0]["type"] == "timerTrigger":
            (binding,) = meta["bindings"]
            assert binding["direction"] == "IN" and binding["name"] == "timer"
            assert binding["runOnStartup"] is False and binding["useMonitor"] is True
            timer_triggers[function.get_function_name()] = binding["schedule"]
            continue
        trigger, output = meta["bindings"]
        assert (trigger["type"], trigger["direction"], output["type"], output["direction"]) == (
            "httpTrigger",
            "IN",
            "http",
            "OUT",
        )
        indexed[function.get_function_name()] = (trigger["route"], trigger["methods"], trigger["authLevel"])
    expected = {r.name: (r.path.lstrip("/"), [r.method], "ANONYMOUS") for r in ROUTES}
    assert indexed == expected
    assert queue_triggers == {f.name: f.queue for f in QUEUE_FUNCTIONS}
    # The schedule is an app-setting binding expression, the setting the local worker reads too.
    assert timer_triggers == {f.name: f"%{f.app_setting}%" for f in TIMER_FUNCTIONS}
    assert timer_triggers == {
        "pc_sync_timer": "%HUNTER_PC_SYNC_SCHEDULE%",
        "rescan_timer": "%HUNTER_RESCAN_SCHEDULE%",
        "digest_timer": "%HUNTER_DIGEST_SCHEDULE%",
    }


def test_host_json_keeps_the_api_prefix():
    import json

    assert json.loads((ROOT / "host.json").read_text())["extensions"]["http"]["routePrefix"] == "api"


def test_importing_function_app_stays_light():
    code = (
        "import sys, time; t=time.perf_counter(); import function_app; "
        "heavy=[m for m in ('openpyxl','sqlalchemy','msal','boto3','shared.api.leads') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- health ---------------------------------------------------------------------------------


def test_health_probes_need_no_key(client):
    for probe in ("live", "ready", "startup"):
        reply = client.request("GET", f"/api/healthz/{probe}")
        assert reply.status == 200 and reply.json()["status"] == "ok"
    assert client.request("GET", "/api/healthz/ready").json()["checks"]["database"] == "ok"


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/api/v1/leads", "read"),
        ("/api/v1/leads/export?format=csv", "read"),
        ("/api/v1/leads/export?format=xlsx", "read"),
        ("/api/v1/leads/m365.com.tr", "read"),
        ("/api/v1/leads/unknown-lead.com.tr", "read"),  # a 404 problem
        ("/api/v1/dashboard", None),  # a 401 problem
        ("/api/v1/admin/keys", "read"),  # a 403 problem
        ("/api/v1/openapi.json", "read"),
    ],
)
def test_api_answers_are_never_cached_or_sniffed(client, api, path, key):
    reply = client.request("GET", path, headers=auth(api, key) if key else {})
    assert reply.headers.get("cache-control") == "no-store", (reply.status, reply.headers)
    assert reply.headers.get("x-content-type-options") == "nosniff"


def test_the_public_probe_shows_states_only_and_admins_get_the_details(client, api):
    body = client.request("GET", "/api/healthz/ready").json()
    assert body == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "not_configured"},
        "integrations": {"d365": "disabled", "partner_center": "disabled"},
    }
    assert_problem(client.request("GET", "/api/v1/health"), 401)
    assert_problem(client.request("GET", "/api/v1/health", headers=auth(api, "read")), 403)
    details = client.request("GET", "/api/v1/health", headers=auth(api, "admin")).json()
    assert details["checks"] == {"database": "ok", "redis": "not configured"}
    assert details["integrations"]["d365"] == {"enabled": False, "state": "disabled"}


def test_metrics_need_a_key_and_speak_prometheus(client, api):
    assert_problem(client.request("GET", "/api/healthz/metrics"), 401)
    client.request("GET", "/api/v1/dashboard", headers=auth(api, "read"))
    reply = client.request("GET", "/api/healthz/metrics", headers=auth(api, "read"))
    assert reply.status == 200 and reply.content_type.startswith("text/plain")
    assert 'hunter_http_requests_total{method="GET",route="get_dashboard",status="200"}' in reply.body.decode()


def _dashboard_count(client, api) -> float:
    text = client.request("GET", "/api/healthz/metrics", headers=auth(api, "read")).body.decode()
    sample = 'hunter_http_requests_total{method="GET",route="get_dashboard",status="200"} '
    return next(float(line.removeprefix(sample)) for line in text.splitlines() if line.startswith(sample))


def test_local_runner_metrics_add_up_every_server_process(api):
    """``hunter serve`` runs two processes here; requests from four threads at once land on both, and
    a scrape answered by either one counts all of them (test_metrics_processes.py: the mechanism)."""
    from concurrent.futures import ThreadPoolExecutor

    local = api["clients"]["local"]
    local.request("GET", "/api/v1/dashboard", headers=auth(api, "read"))
    before = _dashboard_count(local, api)
    with ThreadPoolExecutor(4) as pool:
        statuses = list(
            pool.map(lambda _: local.request("GET", "/api/v1/dashboard", headers=auth(api, "read")).status, range(16))
        )
    assert statuses == [200] * 16
    assert [_dashboard_count(local, api) - before for _ in range(3)] == [16, 16, 16]


# -- auth, scopes, limits -------------------------------------------------------------------


def test_missing_invalid_and_revoked_keys_are_401(client, api):
    body = assert_problem(client.request("GET", "/api/v1/leads"), 401)
    assert "X-API-Key" in body["detail"]
    assert "www-authenticate" in client.request("GET", "/api/v1/leads").headers
    assert_problem(client.request("GET", "/api/v1/leads", headers={"X-API-Key": "hunter_nope_nope"}), 401)
    assert_problem(client.request("GET", "/api/v1/leads", headers=auth(api, "revoked")), 401)


def test_bearer_token_works_too(client, api):
    reply = client.request("GET", "/api/v1/dashboard", headers={"Authorization": f"Bearer {api['keys']['read']}"})
    assert reply.status == 200


def test_me_names_the_key_and_its_scopes(client, api):
    assert client.request("GET", "/api/v1/me", headers=auth(api, "read")).json() == {
        "name": "reader",
        "scopes": ["read"],
    }
    me = client.request("GET", "/api/v1/me", headers=auth(api, "admin")).json()
    assert me == {"name": "admin", "scopes": ["read", "scan", "admin"]}  # admin includes scan and read
    assert_problem(client.request("GET", "/api/v1/me"), 401)


def refused_soon(client, key: str):
    """The first 401 for ``key`` (at once on the in-process Azure host, within the revocation check
    interval on the local runner, whose other process may have trusted the key a moment ago)."""
    from shared.store.keys import REVOCATION_CHECK_SECONDS

    deadline = time.monotonic() + REVOCATION_CHECK_SECONDS + 1
    while True:
        reply = client.request("GET", "/api/v1/me", headers={"X-API-Key": key})
        if reply.status != 200 or client.name == "azure" or time.monotonic() > deadline:
            return reply
        time.sleep(0.1)


def test_admins_create_list_and_revoke_keys(client, api):
    import uuid

    name = f"satış-{uuid.uuid4().hex[:6]}"
    reply = client.request(
        "POST", "/api/v1/admin/keys", headers=auth(api), json={"name": f"  {name} ", "scopes": ["read", "read"]}
    )
    assert reply.status == 201, reply.body
    assert reply.headers["cache-control"] == "no-store"
    created = reply.json()
    assert created["name"] == name and created["scopes"] == ["read"] and created["revoked_at"] is None
    key = created["key"]
    assert key.startswith(f"hunter_{created['id']}_")
    assert client.request("GET", "/api/v1/me", headers={"X-API-Key": key}).json()["name"] == name

    listed = client.request("GET", "/api/v1/admin/keys", headers=auth(api)).json()["items"]
    mine = next(item for item in listed if item["id"] == created["id"])
    assert "key" not in mine and "secret_hash" not in mine
    assert all("hunter_" not in str(item) for item in listed)  # no key, and no hash, is ever listed
    assert next(item for item in listed if item["name"] == "gone")["revoked_at"] is not None

    revoked = client.request("POST", f"/api/v1/admin/keys/{created['id']}/revoke", headers=auth(api))
    assert revoked.status == 200 and revoked.json()["revoked_at"] is not None
    # At once in the process that revoked it; the local runner's other process re-reads the key
    # within REVOCATION_CHECK_SECONDS (test_a_key_revoked_elsewhere_stops_working_on_every_server_process).
    assert_problem(refused_soon(client, key), 401)


def test_key_administration_errors(client, api):
    assert_problem(client.request("GET", "/api/v1/admin/keys", headers=auth(api, "scan")), 403)
    taken = client.request("POST", "/api/v1/admin/keys", headers=auth(api), json={"name": "admin", "scopes": ["read"]})
    assert "already exists" in assert_problem(taken, 409)["detail"]
    bad = client.request("POST", "/api/v1/admin/keys", headers=auth(api), json={"name": "x", "scopes": ["root"]})
    assert_problem(bad, 422, "scopes.0")
    blank = client.request("POST", "/api/v1/admin/keys", headers=auth(api), json={"name": "  ", "scopes": ["read"]})
    assert_problem(blank, 422, "name")
    assert_problem(client.request("POST", "/api/v1/admin/keys/nope/revoke", headers=auth(api)), 404)
    me_id = api["keys"]["admin"].split("_")[1]
    itself = client.request("POST", f"/api/v1/admin/keys/{me_id}/revoke", headers=auth(api))
    assert "another admin key" in assert_problem(itself, 409)["detail"]


def test_web_app_is_served_without_a_key_on_both_hosts(client):
    reply = client.request("GET", "/api/ui/")
    assert reply.status == 200 and reply.content_type.startswith("text/html")
    assert "unsafe-inline" not in reply.headers["content-security-policy"]
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert client.request("GET", "/api/ui/js/app.js").content_type.startswith("text/javascript")
    assert client.request("GET", "/api/ui/../host.json").status == 404


def test_wrong_scope_is_403(client, api):
    assert_problem(client.request("POST", "/api/v1/scan", headers=auth(api, "read"), json={"domain": "x.com"}), 403)
    assert client.request("GET", "/api/v1/dashboard", headers=auth(api, "scan")).status == 200  # scan implies read


def test_a_key_revoked_elsewhere_stops_working_on_every_server_process(api):
    """Revoked from another process (as ``hunter apikey revoke`` does): both server processes,
    which verified and cached the key, refuse it within REVOCATION_CHECK_SECONDS."""
    from concurrent.futures import ThreadPoolExecutor

    from shared.store.keys import REVOCATION_CHECK_SECONDS

    store = ApiKeyStore(engine_for(api["settings"].database_url))
    key, row = store.create("revoked-elsewhere", ["read"])
    local = api["clients"]["local"]

    def me(_: int) -> int:
        return local.request("GET", "/api/v1/me", headers={"X-API-Key": key}).status

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(me, range(16))) == [200] * 16  # from four threads: both processes answer
        store.revoke(row.id, by_id=True)
        time.sleep(REVOCATION_CHECK_SECONDS + 0.5)
        assert list(pool.map(me, range(16))) == [401] * 16


def test_rate_limit_answers_429_with_retry_after(api):
    """A key allowed 2 requests a minute. In one process (the Azure host in this test) the third is
    a 429. Without Redis each server process holds its own bucket, so ``hunter serve``'s two
    processes let at most 2 x 2 through; with Redis they share one (tests/integration/test_redis.py)."""
    azure = api["clients"]["azure"]
    statuses = [azure.request("GET", "/api/v1/dashboard", headers=auth(api, "slow")).status for _ in range(3)]
    assert statuses == [200, 200, 429]
    local = api["clients"]["local"]
    replies = [local.request("GET", "/api/v1/dashboard", headers=auth(api, "slow")) for _ in range(5)]
    assert [r.status for r in replies[:2]] == [200, 200]  # every process has at least two tokens
    limited = [r for r in replies if r.status == 429]
    assert len(limited) >= 1 and len(replies) - len(limited) <= 2 * 2
    assert_problem(limited[0], 429)
    assert int(limited[0].headers["retry-after"]) >= 1


# -- leads ----------------------------------------------------------------------------------


def test_list_leads_sorted_and_filtered(client, api):
    page = client.request("GET", "/api/v1/leads", headers=auth(api)).json()
    assert page["total"] == 6 and page["limit"] == 50 and page["next"] is None
    scores = [item["priority_score"] for item in page["items"]]
    assert scores == sorted(scores, reverse=True)
    google = client.request("GET", "/api/v1/leads", headers=auth(api), params={"provider": "Google"}).json()
    assert [i["domain"] for i in google["items"]] == ["google.com.tr"]
    assert google["items"][0]["company_name"] == "Gökyüzü Yazılım"
    both = client.request(
        "GET", "/api/v1/leads", headers=auth(api), params={"priority": ["P2", "P6"], "sort": "domain"}
    ).json()
    assert {i["priority_category"] for i in both["items"]} <= {"P2", "P6"}
    assert [i["domain"] for i in both["items"]] == sorted(i["domain"] for i in both["items"])
    comma = client.request("GET", "/api/v1/leads", headers=auth(api), params={"priority": "P2,P6"}).json()
    assert comma["total"] == both["total"]
    search = client.request("GET", "/api/v1/leads", headers=auth(api), params={"q": "şişli"}).json()
    assert [i["domain"] for i in search["items"]] == ["godaddy.com.tr"]
    for typed in ("SISLI", "Şişli İnş", "ozturk"):  # case, accents and Turkish i folded away
        found = client.request("GET", "/api/v1/leads", headers=auth(api), params={"q": typed}).json()
        assert found["total"] == 1, typed
    wildcard = client.request("GET", "/api/v1/leads", headers=auth(api), params={"q": "%"}).json()
    assert wildcard["total"] == 0  # LIKE wildcards are escaped
    scored = client.request("GET", "/api/v1/leads", headers=auth(api), params={"min_score": 50, "max_score": 100})
    assert all(50 <= i["score"] <= 100 for i in scored.json()["items"])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("provider", "Gmail"),
        ("segment", "Warm"),
        ("status", "maybe"),
        ("commercial_segment", "VIP"),
        ("referral_type", "Partner"),
        ("priority", "P7"),
    ],
)
def test_unknown_filter_values_are_422_naming_the_value(client, api, field, value):
    reply = client.request("GET", "/api/v1/leads", headers=auth(api, "read"), params={field: value})
    problem = assert_problem(reply, 422)
    assert value in json.dumps(problem["errors"]) and field in json.dumps(problem["errors"])


def test_filter_lists_are_capped_and_matched_case_insensitively(client, api):
    many = ",".join(f"X{i}" for i in range(700))
    assert_problem(client.request("GET", "/api/v1/leads", headers=auth(api, "read"), params={"provider": many}), 422)
    all_twice = ",".join(["M365", "Google", "Yandex", "Zoho", "Amazon", "SendGrid", "Mailgun", "Hosting", "Local"] * 3)
    reply = client.request("GET", "/api/v1/leads", headers=auth(api, "read"), params={"provider": all_twice})
    assert reply.status == 200
    lower = client.request("GET", "/api/v1/leads", headers=auth(api, "read"), params={"provider": "m365"}).json()
    upper = client.request("GET", "/api/v1/leads", headers=auth(api, "read"), params={"provider": "M365"}).json()
    assert lower["total"] == upper["total"] > 0
    statuses = ",".join(["ok"] * 21)  # repeats collapse: one value, not 21
    assert client.request("GET", "/api/v1/leads", headers=auth(api, "read"), params={"status": statuses}).status == 200


def test_cursor_pagination_walks_every_lead_once(client, api):
    seen, cursor = [], None
    while True:
        params = {"limit": 2, "sort": "domain", **({"cursor": cursor} if cursor else {})}
        page = client.request("GET", "/api/v1/leads", headers=auth(api), params=params).json()
        seen += [i["domain"] for i in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 6


@pytest.mark.parametrize("sort", ["-priority", "score", "-scanned_at", "changed_at", "provider", "-provider"])
def test_keyset_cursor_follows_every_sort_through_ties_and_nulls(client, api, sort):
    """Cursors continue after the last lead's (sort value, domain): the order of one big page, one lead at a time."""
    whole = client.request("GET", "/api/v1/leads", headers=auth(api), params={"sort": sort}).json()
    assert whole["next"] is None
    seen, cursor, totals = [], None, set()
    while True:
        params = {"limit": 1, "sort": sort, **({"cursor": cursor} if cursor else {})}
        page = client.request("GET", "/api/v1/leads", headers=auth(api), params=params).json()
        seen += [i["domain"] for i in page["items"]]
        totals.add(page["total"])
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [i["domain"] for i in whole["items"]] and totals == {6}


def test_cursors_are_checked(client, api):
    def cursor(payload: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")

    first = client.request("GET", "/api/v1/leads", headers=auth(api), params={"limit": 2, "sort": "domain"}).json()
    body = assert_problem(
        client.request("GET", "/api/v1/leads", headers=auth(api), params={"cursor": first["next"], "sort": "-score"}),
        422,
        "cursor",
    )
    assert "sort=domain" in body["detail"]  # a cursor continues the sort it came from
    for bad in (
        {"s": "-priority", "v": "high", "d": "m365.com.tr"},  # priority_score is a number
        {"s": "-priority", "v": True, "d": "m365.com.tr"},
        {"s": "domain", "d": None},
        {"s": "-scanned_at", "v": None, "d": "m365.com.tr"},  # never NULL
        {"s": "-priority", "v": 10, "d": 5},
        {"s": "-scanned_at", "v": "yesterday", "d": "m365.com.tr"},
        {"s": "-scanned_at", "v": "2026-11-01T09:00:00", "d": "m365.com.tr"},  # no time zone
        {"o": -1},
        ["o"],
    ):
        sort = bad["s"] if isinstance(bad, dict) and "s" in bad else "-priority"
        params = {"cursor": cursor(bad), "sort": sort}
        assert_problem(client.request("GET", "/api/v1/leads", headers=auth(api), params=params), 422, "cursor")
    # Offset cursors of earlier versions still work.
    everything = client.request("GET", "/api/v1/leads", headers=auth(api), params={"sort": "domain"}).json()["items"]
    old = client.request(
        "GET", "/api/v1/leads", headers=auth(api), params={"cursor": cursor({"o": 4}), "sort": "domain"}
    )
    assert [i["domain"] for i in old.json()["items"]] == [i["domain"] for i in everything][4:]
    # The longest domain still makes a cursor the parameter accepts.
    longest = ".".join(["z" * 63, "z" * 63, "z" * 63, "z" * 61])
    for sort in ("domain", "-provider"):
        payload = {"s": sort, "d": longest, **({"v": "x" * 32} if sort != "domain" else {})}
        reply = client.request(
            "GET", "/api/v1/leads", headers=auth(api), params={"cursor": cursor(payload), "sort": sort}
        )
        assert reply.status == 200, reply.body


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort": "password"}, "sort"),
        ({"limit": 501}, "limit"),
        ({"limit": 0}, "limit"),
        ({"min_score": "lots"}, "min_score"),
        ({"priority": "P9"}, "priority"),
        ({"colour": "red"}, "colour"),
        ({"cursor": "bm9wZQ"}, "cursor"),
        ({"offset": 2**63}, "offset"),
        ({"changed_since": "yesterday"}, "changed_since"),
    ],
)
def test_bad_list_parameters_are_422_naming_the_field(client, api, params, field):
    assert_problem(client.request("GET", "/api/v1/leads", headers=auth(api), params=params), 422, field)


def test_lead_detail(client, api):
    detail = client.request("GET", "/api/v1/leads/M365.COM.TR", headers=auth(api)).json()
    assert detail["lead"]["domain"] == "m365.com.tr" and detail["lead"]["provider"] == "M365"
    assert sum(item["points"] for item in detail["breakdown"]) == detail["lead"]["score"]
    assert detail["snapshot"]["m365"]["tenant_domain"] == "m365tr.onmicrosoft.com"
    assert detail["evidence"] and isinstance(detail["changes"], list)
    priority = detail["priority"]  # Microsoft 365 mail: an existing customer, technically hot
    assert priority["priority_category"] == detail["lead"]["priority_category"]
    assert priority["commercial_segment"] == detail["lead"]["commercial_segment"]
    assert priority["technical_heat"] == "Hot" and priority["commercial_heat"] in ("HIGH", "MEDIUM", "LOW")
    assert_problem(client.request("GET", "/api/v1/leads/unknown-firm.com.tr", headers=auth(api)), 404)
    assert_problem(client.request("GET", "/api/v1/leads/not a domain", headers=auth(api)), 422, "domain")


def test_sales_summary_in_both_languages(client, api):
    tr = client.request("GET", "/api/v1/leads/google.com.tr/sales-summary", headers=auth(api)).json()
    en = client.request(
        "GET", "/api/v1/leads/google.com.tr/sales-summary", headers=auth(api), params={"lang": "en"}
    ).json()
    assert tr["metadata"]["lang"] == "tr" and en["metadata"]["lang"] == "en"
    assert "google.com.tr" in tr["one_liner"] and tr["one_liner"] != en["one_liner"]
    assert_problem(
        client.request("GET", "/api/v1/leads/google.com.tr/sales-summary", headers=auth(api), params={"lang": "de"}),
        422,
        "lang",
    )


def test_dashboard(client, api):
    assert_problem(client.request("GET", "/api/v1/dashboard", headers=auth(api), params={"x": 1}), 422, "x")
    body = client.request("GET", "/api/v1/dashboard", headers=auth(api)).json()
    assert body["total"] == 6
    assert sum(c["count"] for c in body["by_priority"]) == 6
    assert {c["key"] for c in body["by_provider"]} >= {"M365", "Google", "Hosting", "Local"}


# -- exports --------------------------------------------------------------------------------


def test_csv_export_is_excel_friendly(client, api):
    reply = client.request("GET", "/api/v1/leads/export", headers=auth(api), params={"delimiter": ";"})
    assert reply.status == 200 and reply.content_type.startswith("text/csv")
    assert reply.body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(reply.body.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["domain", "domain_unicode", "company_name"]
    assert len(rows) == 7
    assert "Şişli İnşaat" in {r[2] for r in rows}


def test_xlsx_export_opens_in_openpyxl(client, api):
    from openpyxl import load_workbook

    reply = client.request(
        "GET", "/api/v1/leads/export", headers=auth(api), params={"format": "xlsx", "provider": "M365"}
    )
    assert reply.status == 200
    sheet = load_workbook(io.BytesIO(reply.body), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert (
        rows[0][0] == "domain"
        and [r[0] for r in rows[1:]] == ["m365.com.tr", "gw.com.tr"]
        or sorted(r[0] for r in rows[1:]) == ["gw.com.tr", "m365.com.tr"]
    )
    assert_problem(
        client.request("GET", "/api/v1/leads/export", headers=auth(api), params={"format": "pdf"}), 422, "format"
    )


# -- scans ----------------------------------------------------------------------------------


def test_scan_now(client, api):
    reply = client.request(
        "POST",
        "/api/v1/scan",
        headers=auth(api, "scan"),
        json={"domain": "https://www.newmx.com/contact", "lang": "en"},
    )
    assert reply.status == 200, reply.body
    body = reply.json()
    assert (body["domain"], body["provider"], body["status"]) == ("newmx.com", "M365", "ok")
    assert body["sales_summary"]["metadata"]["lang"] == "en"
    assert sum(i["points"] for i in body["breakdown"]) == body["score"]
    listed = client.request("GET", "/api/v1/leads/newmx.com", headers=auth(api))
    assert listed.status == 200


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{bad json", 400, None),
        (b"", 400, None),
        (b'{"domain": "web sitesi"}', 422, "domain"),
        (b'{"domain": "acme.com", "colour": 1}', 422, "colour"),
        (b'{"domain": 5}', 422, "domain"),
        (b'{"domain": "acme.com", "lang": "de"}', 422, "lang"),
        (b"[1, 2]", 422, None),
    ],
)
def test_bad_scan_requests(client, api, body, status, field):
    reply = client.request("POST", "/api/v1/scan", headers={**auth(api), "Content-Type": "application/json"}, body=body)
    assert_problem(reply, status, field)


def test_rescan_reports_changes(client, api):
    reply = client.request("POST", "/api/v1/leads/gw.com.tr/rescan", headers=auth(api))
    assert reply.status == 200 and reply.json()["changes"] == []
    assert_problem(client.request("POST", "/api/v1/leads/never-seen.com.tr/rescan", headers=auth(api)), 404)


# -- the rest of HTTP -----------------------------------------------------------------------


def test_unknown_route_and_wrong_method(client, api):
    assert_problem(client.request("GET", "/api/v2/nothing", headers=auth(api)), 404)
    if client.name == "local":  # on Azure the host itself answers 405 for a route without that method
        reply = client.request("DELETE", "/api/v1/leads", headers=auth(api))
        assert_problem(reply, 405)
        assert reply.headers["allow"] == "GET"


def test_cors_for_the_configured_origin(api):
    client = api["clients"]["local"]
    pre = client.request(
        "OPTIONS",
        "/api/v1/leads",
        headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"},
    )
    assert pre.status == 204 and pre.headers["access-control-allow-origin"] == "https://app.example.com"
    other = client.request("GET", "/api/v1/dashboard", headers={**auth(api), "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_openapi_documents_are_served(client, api):
    doc = client.request("GET", "/api/v1/openapi.json", headers=auth(api, "read")).json()
    assert doc["openapi"].startswith("3.1") and "/v1/leads" in doc["paths"]
    swagger = client.request("GET", "/api/v1/swagger.json", headers=auth(api, "read")).json()
    assert swagger["swagger"] == "2.0" and swagger["securityDefinitions"]["api_key"]["name"] == "X-API-Key"
    assert_problem(client.request("GET", "/api/v1/openapi.json"), 401)


def test_api_key_cli(tmp_path):
    env = {**os.environ, "HUNTER_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}"}

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "shared", "apikey", *args], capture_output=True, text=True, env=env, cwd=ROOT
        )

    created = run("create", "--name", "power-automate", "--scopes", "read,scan")
    assert created.returncode == 0 and created.stdout.startswith("hunter_")
    key = created.stdout.strip()
    listed = run("list")
    assert "power-automate" in listed.stdout and key.split("_", 2)[2] not in listed.stdout  # the secret is never shown
    assert run("create", "--name", "x", "--scopes", "root").returncode == 1
    assert run("create", "--name", "power-automate").returncode == 1  # names are unique
    assert run("revoke", "power-automate").returncode == 0
    from shared.store.db import engine_for

    store = ApiKeyStore(engine_for(env["HUNTER_DATABASE_URL"]))
    assert store.authenticate(key) is None
    with engine_for(env["HUNTER_DATABASE_URL"]).connect() as conn:
        stored = conn.exec_driver_sql("SELECT secret_hash FROM api_keys").scalar_one()
    assert stored.startswith("$argon2") and key.split("_", 2)[2] not in stored


def test_connector_export_matches_the_committed_files(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "shared", "connector", "export", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    for name in ("apiDefinition.swagger.json", "apiProperties.json"):
        assert (tmp_path / name).read_text() == (ROOT / "connector" / name).read_text()


def test_schemathesis_finds_no_server_error(api, tmp_path):
    """Property-based requests generated from our own OpenAPI document: never a 5xx."""
    schemathesis = Path(sys.executable).with_name("schemathesis")
    if not schemathesis.exists():
        pytest.fail("schemathesis is not installed (requirements-dev.txt)")
    key = api["keys"]["fuzz"]
    done = subprocess.run(
        [
            str(schemathesis),
            "run",
            f"{api['base']}/v1/openapi.json",
            "--url",
            api["base"],
            "-H",
            f"X-API-Key: {key}",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "25",
            "--request-timeout",
            "30",
            "--suppress-health-check",
            "all",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert key not in done.stdout  # the key travels in headers, never in our output


def test_an_unexpected_failure_is_a_500_with_an_id_and_no_details(api, monkeypatch, caplog):
    """Break the database under the in-process dispatcher: the answer and the log say no more than needed."""
    import logging

    from shared.http.dispatch import dispatch
    from shared.http.types import HttpRequest

    def broken(*args, **kwargs):
        raise __import__("sqlalchemy").exc.OperationalError("SELECT secret FROM leads", {}, Exception("boom"))

    context = api["context"]  # this module's database, whatever another module did to the global context
    key = context.keys.create(f"broken-db-{time.monotonic_ns()}", ["read"])[0]
    monkeypatch.setattr(context.leads, "lead_page", broken)
    with caplog.at_level(logging.ERROR, logger="hunter.http"):
        reply = dispatch(HttpRequest("GET", "/v1/leads", headers={"x-api-key": key}), context)
    assert reply.status == 500 and reply.headers["Content-Type"] == "application/problem+json", reply.body_bytes()
    body = __import__("json").loads(reply.body_bytes())
    (record,) = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    logged = " ".join(f"{k}={v}" for k, v in vars(record).items())
    assert record.error == "OperationalError(Exception)" and record.error_id in body["detail"]
    for leaked in ("SELECT", "Traceback", "boom", key):
        assert leaked not in reply.body_bytes().decode()
        assert leaked not in logged


@pytest.mark.postgres
def test_several_server_processes_on_postgresql(tmp_path):
    """`hunter serve --workers 2` on PostgreSQL under concurrent requests: every answer is a 200.

    Regression: a pooled connection opened before gunicorn forked was shared by both workers and
    interleaved their protocol messages (500s under load).
    """
    from tests.conftest import _postgres_database

    databases = _postgres_database()
    url = next(databases)
    try:
        repository = LeadStore(engine_for(url))
        settings = Settings(database_url=url, whois_enabled=False)
        from shared.core.models import MxHost, ScanRecord, ScanStatus
        from shared.core.providers import classify
        from shared.core.results import ScanResult
        from shared.core.scoring import score_record

        records = [
            classify(
                ScanRecord(
                    input=f"f{i}.com.tr",
                    domain=f"f{i}.com.tr",
                    status=ScanStatus.OK,
                    mx=[MxHost(preference=10, host="aspmx.l.google.com")],
                )
            )
            for i in range(60)
        ]
        repository.save([ScanResult(r, score_record(r)) for r in records])
        key = ApiKeyStore(engine_for(url)).create("load", ["read"], rate_limit_per_minute=100_000)[0]
        engine_for(url).dispose()
        log = (tmp_path / "server.log").open("wb")
        server, base = start_api_server({"HUNTER_DATABASE_URL": url}, workers=2, log=log)
        try:
            import asyncio

            async def hammer() -> list[int]:
                async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, timeout=30) as client:
                    replies = await asyncio.gather(
                        *(
                            client.get("/v1/leads", params={"offset": i % 50, "limit": 10, "sort": "domain"})
                            for i in range(120)
                        )
                    )
                return [r.status_code for r in replies]

            assert set(asyncio.run(hammer())) == {200}
        finally:
            server.terminate()
            server.wait(timeout=10)
            log.close()
        assert settings.database_url == url
    finally:
        databases.close()
