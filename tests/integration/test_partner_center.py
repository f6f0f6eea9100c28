"""Partner Center referral sync against the identity and Referrals stand-ins over real HTTPS:
the real MSAL (device code, silent refresh from the cache stored encrypted in the database) and
the real httpx; nothing of ours is mocked. Paging with re-reads, company domains from contacts
(free mail skipped, none → domain_missing), tenant ids, scans of new domains through the local
queue, scoring with referral facts, throttling, token expiry mid-run, a revoked refresh token,
overlapping timer fires (lease), the flag off, Partner Center down, and the CLI as processes.
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from devtools.msstandins import make_referral, start_standins
from shared import aio
from shared.config import Settings
from shared.core.inputs import InputRow
from shared.core.scoring import LeadFacts
from shared.http.dispatch import dispatch
from shared.http.types import HttpRequest
from shared.integrations.partner_center import auth
from shared.local.worker import QueueWorker
from shared.queues.hostjson import QueueOptions
from shared.runtime import Runtime, set_runtime
from shared.scan.pipeline import run_pipeline
from shared.services.lead_facts import facts_of
from shared.services.pc_sync import (
    OVERLAP,
    PartnerCenterDisabled,
    partner_center_status,
    run_sync,
    scheduled_sync,
)
from shared.store.integrations import get_states
from shared.store.keys import ApiKeyStore
from shared.store.models import LeadRow, ReferralRow, ScanJobRow, SyncRunRow, TokenCacheRow, utcnow
from shared.triggers.registry import QUEUE_FUNCTIONS, TIMER_FUNCTIONS

ROOT = Path(__file__).resolve().parents[2]
FAST = QueueOptions(
    max_dequeue_count=3, visibility_timeout=0, batch_size=16, new_batch_threshold=8, max_polling_interval=0.2
)
SCANS = tuple(f for f in QUEUE_FUNCTIONS if f.queue == "scan-requests")
SEEDED = ["co1.com.tr", "co3.com.tr", "co4.com.tr", "co8.com.tr", "co9.com.tr"]  # m365, google, hosting, google, local
TENANT = "0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"


@pytest.fixture(scope="module")
def ms():
    with start_standins() as standins:
        yield standins


@pytest.fixture
def env(ms, synthetic_dns, database_url, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(ms.ca_path))
    ms.reset()
    ms.referrals.page_size = 3
    ms.referrals.latency = 0.0
    ms.identity.access_token_lifetime = 3599
    ms.identity.device_code_interval = 1
    settings = Settings(
        database_url=database_url,
        dns_nameservers=[synthetic_dns],
        whois_enabled=False,
        partner_center_enabled=True,
        pc_api_url=ms.partner_center_url,
        pc_tenant_id=ms.tenant_id,
        pc_client_id=ms.public_client_id,
        authority_host=ms.authority_host,
        token_cache_key=Fernet.generate_key().decode(),
    )
    context = Runtime(settings, time.monotonic())
    set_runtime(context)
    aio.run(run_pipeline([InputRow(d, f"Firma {d}") for d in SEEDED], settings, context.leads))
    keys = ApiKeyStore(context.engine)
    yield {
        "settings": settings,
        "context": context,
        "engine": context.engine,
        "admin": keys.create("ops", ["admin"])[0],
        "read": keys.create("sales", ["read"])[0],
        "ms": ms,
        "database_url": database_url,
    }
    set_runtime(None)


def call(env, method: str, path: str, *, key: str = "read", query: dict | None = None):
    headers = {"x-api-key": env[key]}
    params = {name: [str(value)] for name, value in (query or {}).items()}
    reply = dispatch(HttpRequest(method, path, query=params, headers=headers), env["context"])
    return reply.status, json.loads(reply.body_bytes() or b"null")


def sign_in(env, user: str = "seller@contoso.com") -> str | None:
    """`hunter pc login` in-process: a device code, the person approves, MSAL redeems it."""
    flow = auth.start_device_flow(env["settings"], env["engine"])
    env["ms"].identity.approve_device_code(flow["user_code"], user)
    return auth.complete_device_flow(env["settings"], env["engine"], flow)


def lead(env, domain: str) -> LeadRow:
    with Session(env["engine"]) as session:
        row = session.scalar(select(LeadRow).where(LeadRow.domain == domain))
    assert row is not None, domain
    return row


def referral_row(env, referral_id: str) -> ReferralRow:
    with Session(env["engine"]) as session:
        row = session.get(ReferralRow, referral_id)
    assert row is not None
    return row


def runs(env) -> list[SyncRunRow]:
    with Session(env["engine"]) as session:
        return list(session.scalars(select(SyncRunRow).order_by(SyncRunRow.id)))


def rules(item: LeadRow) -> set[str]:
    return {entry["rule"] for entry in item.breakdown or []}


def drain_scans() -> None:
    aio.run(QueueWorker(SCANS, options=FAST, exit_when_idle=True).run())


def seed_referrals(ms) -> dict[str, dict]:
    """Ten referrals over four pages of three."""
    add = ms.referrals.add_referral
    made = {
        "cosell": add(make_referral(customer_name="Google Co 3", contact_email="it@co3.com.tr",
                                    referral_type="Shared", status="Active", substatus="Accepted")),
        "tenant": add(make_referral(customer_name="Google Co 8", contact_email="bt@co8.com.tr",
                                    ids={"AzureAdTenantId": TENANT, "Duns": "123456789"})),
        "freemail_first": add(make_referral(customer_name="Local Co 9", contact_email="ayse.yilmaz@hotmail.com")),
        "same_company": add(make_referral(customer_name="Local Co 9 (again)", contact_email="satis@co9.com.tr")),
        "freemail_only": add(make_referral(customer_name="Mehmet Usta", contact_email="mehmet.usta@gmail.com")),
        "no_email": add(make_referral(customer_name="No Contact Ltd", contact_email="")),
        "new_domain": add(make_referral(customer_name="Local Co 14", contact_email="info@co14.com.tr",
                                        referral_type="Shared", status="New")),
    }  # fmt: skip
    # The contact on a company domain comes second: the free-mail address before it is skipped.
    team = made["freemail_first"]["customerProfile"]["team"]
    team.append({**team[0], "email": "it@co9.com.tr"})
    made["freemail_first"] = add(made["freemail_first"])
    made["no_email"]["customerProfile"]["team"] = [{"firstName": "No", "lastName": "Mail", "phoneNumber": "+90"}]
    made["no_email"] = add(made["no_email"])
    for index in range(3):
        made[f"filler{index}"] = add(
            make_referral(customer_name=f"Hosting Co 4 #{index}", contact_email=f"user{index}@co4.com.tr")
        )
    return made


# -- the sync ---------------------------------------------------------------------------------------


def test_sync_pages_links_scans_scores_and_rereads_change_nothing(env):
    ms = env["ms"]
    made = seed_referrals(ms)
    before = {d: lead(env, d) for d in SEEDED}
    sign_in(env)

    status, run = call(env, "POST", "/v1/partner-center/sync", key="admin")
    assert status == 200, run
    assert run["status"] == "ok" and run["pages"] == 4 and run["fetched"] == 10
    assert (run["created"], run["updated"], run["unchanged"]) == (10, 0, 0)
    assert run["domain_missing"] == 2 and run["scans_queued"] == 1  # co14 is new; the rest are leads
    assert ms.referrals.snapshot().pages == 4
    # A referral.received alert for each new referral with a company domain (8 of 10), stored once.
    from shared.store import notifications as alerts

    received = [
        e for e in alerts.events_between(env["engine"], utcnow() - timedelta(days=1), utcnow() + timedelta(days=1))
        if e["type"] == "referral.received"
    ]  # fmt: skip
    assert len(received) == 8 and len({e["data"]["event_id"] for e in received}) == 8

    # domains from contacts; free mail skipped; none → kept for a person
    expect = {"cosell": "co3.com.tr", "tenant": "co8.com.tr", "freemail_first": "co9.com.tr",
              "same_company": "co9.com.tr", "new_domain": "co14.com.tr",
              "freemail_only": None, "no_email": None}  # fmt: skip
    for name, domain in expect.items():
        row = referral_row(env, made[name]["id"])
        assert row.domain == domain, name
        assert row.link_status == ("linked" if domain else "domain_missing"), name
    assert referral_row(env, made["freemail_first"]["id"]).contact_domain == "hotmail.com"
    assert referral_row(env, made["freemail_only"]["id"]).contact_domain == "gmail.com"
    tenant_row = referral_row(env, made["tenant"]["id"])
    assert tenant_row.customer_tenant_id == TENANT and tenant_row.status == "New" and tenant_row.type == "Independent"
    cosell_row = referral_row(env, made["cosell"]["id"])
    assert (cosell_row.type, cosell_row.status, cosell_row.substatus) == ("Shared", "Active", "Accepted")
    assert cosell_row.deal_value == 10000 and cosell_row.customer_country == "TR"
    assert cosell_row.engagement_id == made["cosell"]["engagementId"]

    # scoring: co-sell boosts, a known tenant makes the lead Existing; others keep their score
    boosted, plain = lead(env, "co3.com.tr"), before["co3.com.tr"]
    assert "referral_cosell" in rules(boosted) and boosted.score == min(100, plain.score + 15)
    assert before["co8.com.tr"].segment != "Existing" and lead(env, "co8.com.tr").segment == "Existing"
    assert lead(env, "co8.com.tr").score == before["co8.com.tr"].score
    assert lead(env, "co9.com.tr").score == before["co9.com.tr"].score  # Independent: no boost
    assert facts_of(env["engine"], "co3.com.tr").referral_type == "co-sell"
    assert facts_of(env["engine"], "co8.com.tr").known_tenant
    assert facts_of(env["engine"], "co1.com.tr") == LeadFacts()

    # the lead list filters and the lead detail
    status, page = call(env, "GET", "/v1/leads", query={"has_referral": "true", "sort": "domain"})
    assert status == 200 and [i["domain"] for i in page["items"]] == ["co3.com.tr", "co4.com.tr", "co8.com.tr",
                                                                      "co9.com.tr"]  # fmt: skip
    assert {i["domain"]: i["referral_count"] for i in page["items"]}["co4.com.tr"] == 3
    status, page = call(env, "GET", "/v1/leads", query={"has_referral": "false"})
    assert [i["domain"] for i in page["items"]] == ["co1.com.tr"]
    status, page = call(env, "GET", "/v1/leads", query={"referral_type": "Shared"})
    assert [i["domain"] for i in page["items"]] == ["co3.com.tr"]
    status, detail = call(env, "GET", "/v1/leads/co9.com.tr")
    assert status == 200 and {r["id"] for r in detail["referrals"]} == {
        made["freemail_first"]["id"],
        made["same_company"]["id"],
    }
    assert call(env, "GET", "/v1/leads/co1.com.tr")[1]["referrals"] == []

    # re-reading: the overlap brings every referral again; nothing changes, not even synced_at
    synced = {r: referral_row(env, made[r]["id"]).synced_at for r in made}
    status, again = call(env, "POST", "/v1/partner-center/sync", key="admin")
    assert status == 200 and again["fetched"] == 10 and again["unchanged"] == 10
    assert (again["created"], again["updated"], again["scans_queued"], again["rescored"]) == (0, 0, 0, 0)
    assert {r: referral_row(env, made[r]["id"]).synced_at for r in made} == synced

    # the new domain is scanned through the bulk-scan queue and stored already scored with its referral
    # (the store adds referral facts to every scan of a referred domain), so the next run changes nothing
    with Session(env["engine"]) as session:
        (job,) = session.scalars(select(ScanJobRow))
    assert (job.source, job.unique_domains) == ("partner-center", 1)
    drain_scans()
    assert "referral_cosell" in rules(lead(env, "co14.com.tr"))
    status, third = call(env, "POST", "/v1/partner-center/sync", key="admin")
    assert status == 200 and third["rescored"] == 0 and third["scans_queued"] == 0
    assert "referral_cosell" in rules(lead(env, "co14.com.tr"))

    # a referral that changes is updated; a closed co-sell no longer boosts
    ms.referrals.update_referral(made["cosell"]["id"], status="Closed", substatus="Won")
    status, fourth = call(env, "POST", "/v1/partner-center/sync", key="admin")
    assert status == 200 and fourth["updated"] == 1 and fourth["unchanged"] == 9
    assert referral_row(env, made["cosell"]["id"]).substatus == "Won"
    assert "referral_cosell" not in rules(lead(env, "co3.com.tr")) and lead(env, "co3.com.tr").score == plain.score


def test_referral_endpoints_filter_page_and_show_one(env):
    made = seed_referrals(env["ms"])
    sign_in(env)
    assert call(env, "POST", "/v1/partner-center/sync", key="admin")[0] == 200

    status, missing = call(env, "GET", "/v1/partner-center/referrals", query={"link_status": "domain_missing"})
    assert status == 200 and missing["total"] == 2
    assert {i["id"] for i in missing["items"]} == {made["freemail_only"]["id"], made["no_email"]["id"]}
    assert all(i["domain"] is None and i["website"] is None for i in missing["items"])
    status, first = call(env, "GET", "/v1/partner-center/referrals", query={"limit": 4})
    assert first["total"] == 10 and len(first["items"]) == 4 and first["next_offset"] == 4
    status, last = call(env, "GET", "/v1/partner-center/referrals", query={"limit": 4, "offset": 8})
    assert len(last["items"]) == 2 and last["next_offset"] is None
    every = [i["id"] for i in first["items"]] + [
        i["id"] for i in call(env, "GET", "/v1/partner-center/referrals", query={"limit": 4, "offset": 4})[1]["items"]
    ] + [i["id"] for i in last["items"]]  # fmt: skip
    assert sorted(every) == sorted(r["id"] for r in made.values())
    status, shared = call(env, "GET", "/v1/partner-center/referrals", query={"type": "shared"})
    assert {i["id"] for i in shared["items"]} == {made["cosell"]["id"], made["new_domain"]["id"]}
    status, by_domain = call(env, "GET", "/v1/partner-center/referrals", query={"domain": "https://www.CO9.com.tr/"})
    assert by_domain["total"] == 2
    assert call(env, "GET", "/v1/partner-center/referrals", query={"link_status": "lost"})[0] == 422
    assert call(env, "GET", "/v1/partner-center/referrals", query={"domain": "not a domain"})[0] == 422

    status, one = call(env, "GET", f"/v1/partner-center/referrals/{made['cosell']['id']}")
    assert status == 200 and one["website"] == "https://co3.com.tr" and one["link_status"] == "linked"
    assert one["lead"]["domain"] == "co3.com.tr" and one["lead"]["score"] == lead(env, "co3.com.tr").score
    # A read key sees no personal data of the referral's people; an admin key sees the referral as sent.
    contact = one["raw"]["customerProfile"]["team"][0]
    assert contact["email"] == contact["firstName"] == contact["phoneNumber"] == "[redacted]"
    assert contact["emailDomain"] == "co3.com.tr"
    assert all(member["email"] == "[redacted]" for member in one["raw"]["team"])
    assert "it@co3.com.tr" not in json.dumps(one) and "+90" not in json.dumps(one)
    admin_view = call(env, "GET", f"/v1/partner-center/referrals/{made['cosell']['id']}", key="admin")[1]
    assert admin_view["raw"]["customerProfile"]["team"][0]["email"] == "it@co3.com.tr"
    status, pending = call(env, "GET", f"/v1/partner-center/referrals/{made['new_domain']['id']}")
    assert status == 200 and pending["lead"] is None  # not scanned yet
    status, problem = call(env, "GET", "/v1/partner-center/referrals/no-such-referral")
    assert status == 404 and problem["title"] == "Referral not found"
    assert call(env, "POST", "/v1/partner-center/sync", key="read")[0] == 403  # admin scope


def test_watermark_asks_only_for_recent_changes_with_overlap(env):
    ms = env["ms"]
    old = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    for index in range(4):
        ms.referrals.add_referral(make_referral(contact_email=f"it@co{index + 30}.com.tr", created=old))
    sign_in(env)
    first = aio.run(run_sync(env["settings"], env["engine"]))
    assert first.status == "ok" and first.fetched == 4 and first.watermark == old
    # Within the overlap of the watermark: read again (and unchanged); older: not asked for at all.
    ms.referrals.add_referral(make_referral(contact_email="it@co40.com.tr", created=old - OVERLAP / 2))
    ms.referrals.add_referral(make_referral(contact_email="it@co41.com.tr", created=old - OVERLAP * 2))
    newer = ms.referrals.add_referral(make_referral(contact_email="it@co42.com.tr", created=old + timedelta(days=1)))
    second = aio.run(run_sync(env["settings"], env["engine"]))
    assert (second.fetched, second.created, second.unchanged) == (6, 2, 4)
    assert second.watermark == datetime.fromisoformat(newer["updatedDateTime"][:26] + "+00:00")
    assert [r.watermark for r in runs(env)] == [old, second.watermark]


def test_throttling_and_server_errors_are_retried_after_retry_after(env):
    ms = env["ms"]
    seed_referrals(ms)
    sign_in(env)
    ms.referrals.throttle.force(1, retry_after=1)
    ms.referrals.failures.force(1, 503)
    started = time.monotonic()
    outcome = aio.run(run_sync(env["settings"], env["engine"]))
    assert outcome.status == "ok" and outcome.fetched == 10 and outcome.created == 10
    stats = ms.referrals.snapshot()
    assert stats.throttled == 1 and stats.unavailable == 1 and stats.rate_limit_violations == 0
    assert stats.requests_in_retry_window == 0 and time.monotonic() - started >= 1.0


def test_token_expiry_mid_run_is_refreshed_silently_once(env):
    ms = env["ms"]
    seed_referrals(ms)
    sign_in(env)
    ms.referrals.latency = 0.1
    ms.referrals.page_size = 2
    refreshes = ms.identity.stats.token_requests.get("refresh_token", 0)

    async def scenario():
        run = asyncio.create_task(run_sync(env["settings"], env["engine"]))
        while ms.referrals.snapshot().pages < 1:
            await asyncio.sleep(0.005)
        ms.identity.expire_access_tokens()  # the token the run holds stops working between pages
        return await run

    outcome = aio.run(scenario())
    assert outcome.status == "ok" and outcome.fetched == 10 and outcome.pages == 5
    assert ms.referrals.snapshot().unauthorized == 1
    assert ms.identity.stats.token_requests.get("refresh_token", 0) == refreshes + 1
    assert get_states(env["engine"])["partner_center"].state == "ok"
    with Session(env["engine"]) as session:
        cache = session.get(TokenCacheRow, "partner_center")
    assert cache is not None and cache.encrypted and "refresh_token" not in cache.data  # stored encrypted


def test_revoked_refresh_token_is_needs_login_not_a_retry_loop(env):
    ms = env["ms"]
    seed_referrals(ms)
    sign_in(env, "leaver@contoso.com")
    ms.identity.revoke_refresh_tokens("leaver@contoso.com")
    ms.identity.expire_access_tokens()
    invalid_grants = ms.identity.stats.token_errors.get("invalid_grant", 0)

    status, problem = call(env, "POST", "/v1/partner-center/sync", key="admin")
    assert status == 409 and problem["title"] == "Partner Center sign-in needed"
    assert "hunter pc login" in problem["detail"] and "AADSTS50173" in problem["detail"]
    assert ms.identity.stats.token_errors.get("invalid_grant", 0) == invalid_grants + 1
    assert ms.referrals.snapshot().unauthorized == 1  # one 401, one refused refresh, then stop
    (run,) = runs(env)
    assert run.status == "needs_login" and run.watermark is None
    status_now = partner_center_status(env["engine"], env["settings"])
    assert status_now["needs_login"] and status_now["state"] == "needs_login" and status_now["enabled"]
    assert status_now["last_run"]["status"] == "needs_login"

    # the timer stays idle: no run, not a single request, until a person signs in again
    requests, tokens = ms.referrals.snapshot().requests, dict(ms.identity.stats.token_requests)
    aio.run(scheduled_sync(env["context"]))
    assert len(runs(env)) == 1 and ms.referrals.snapshot().requests == requests
    assert ms.identity.stats.token_requests == tokens
    sign_in(env, "seller@contoso.com")
    assert get_states(env["engine"])["partner_center"].state == "ok"
    aio.run(scheduled_sync(env["context"]))
    assert [r.status for r in runs(env)] == ["needs_login", "ok"] and runs(env)[-1].trigger == "timer"
    assert not partner_center_status(env["engine"])["needs_login"]


def test_without_a_sign_in_the_run_says_needs_login(env):
    env["ms"].referrals.add_referral(make_referral())
    outcome = aio.run(run_sync(env["settings"], env["engine"]))
    assert outcome.status == "needs_login" and "hunter pc login" in (outcome.error or "")
    assert env["ms"].referrals.snapshot().requests == 0


# -- never two at once ------------------------------------------------------------------------------


def test_overlapping_timer_fires_run_once(env):
    ms = env["ms"]
    seed_referrals(ms)
    sign_in(env)
    ms.referrals.latency = 0.2

    async def both():
        await asyncio.gather(scheduled_sync(env["context"]), scheduled_sync(env["context"]))

    aio.run(both())
    assert sorted(r.status for r in runs(env)) == ["ok", "skipped"]
    assert ms.referrals.snapshot().pages == 4  # one run read the pages, once
    skipped = next(r for r in runs(env) if r.status == "skipped")
    assert skipped.error == "another Partner Center sync is running" and skipped.trigger == "timer"
    assert not partner_center_status(env["engine"])["running"]


def test_local_workers_fire_the_timer_on_schedule_without_overlap(env):
    ms = env["ms"]
    seed_referrals(ms)
    sign_in(env)
    ms.referrals.latency = 0.15  # 4 pages: a run lasts longer than half a second
    env["context"].settings = env["settings"].model_copy(update={"pc_sync_schedule": "* * * * * *"})
    timers = tuple(t for t in TIMER_FUNCTIONS if t.name == "pc_sync_timer")

    async def two_workers():
        first, second = QueueWorker((), timers=timers), QueueWorker((), timers=timers)

        async def stop_later():
            await asyncio.sleep(3.4)
            first.stopping.set()
            second.stopping.set()

        await asyncio.gather(first.run(), second.run(), stop_later())
        return first.fired + second.fired

    fired = aio.run(two_workers())
    done = runs(env)
    ok = [r for r in done if r.status == "ok"]
    assert fired >= 4 and len(done) == fired and len(ok) >= 2
    assert any(r.status == "skipped" for r in done)
    for earlier, later in zip(ok, ok[1:], strict=False):
        assert earlier.finished_at <= later.started_at  # never two at once
    assert ok[0].created == 10 and all(r.unchanged == 10 for r in ok[1:])


# -- the flag off, Partner Center down ----------------------------------------------------------------


def test_flag_off_routes_answer_problems_and_the_timer_does_nothing(env):
    ms = env["ms"]
    ms.referrals.add_referral(make_referral(contact_email="it@co3.com.tr"))
    sign_in(env)
    off = env["settings"].model_copy(update={"partner_center_enabled": False})
    env["context"].settings = off
    status, problem = call(env, "POST", "/v1/partner-center/sync", key="admin")
    assert status == 409 and "HUNTER_PARTNER_CENTER_ENABLED" in problem["detail"]
    assert problem["title"] == "Partner Center integration is off"
    for path in ("/v1/partner-center/referrals", "/v1/partner-center/referrals/anything"):
        status, problem = call(env, "GET", path)
        assert status == 404 and problem["title"] == "Partner Center integration is off"
    aio.run(scheduled_sync(env["context"]))
    with pytest.raises(PartnerCenterDisabled):
        aio.run(run_sync(off, env["engine"]))
    assert runs(env) == [] and ms.referrals.snapshot().requests == 0
    # the rest of Hunter is unaffected
    assert call(env, "GET", "/v1/leads")[0] == 200
    status, detail = call(env, "GET", "/v1/leads/co3.com.tr")
    assert status == 200 and detail["referrals"] == []
    assert call(env, "GET", "/healthz/ready")[0] == 200


def test_partner_center_down_fails_the_run_not_the_rest(env):
    sign_in(env)
    down = env["settings"].model_copy(update={"pc_api_url": "https://127.0.0.1:9"})  # nothing listens there
    env["context"].settings = down
    status, problem = call(env, "POST", "/v1/partner-center/sync", key="admin")
    assert status == 502 and "network" in problem["detail"]
    status_now = partner_center_status(env["engine"], down)
    assert status_now["state"] == "error" and not status_now["needs_login"]
    assert status_now["last_run"]["status"] == "failed"
    assert call(env, "GET", "/healthz/ready")[0] == 200 and call(env, "GET", "/v1/leads")[0] == 200


# -- the command line, as processes -------------------------------------------------------------------


def hunter(env, *args: str, **kwargs) -> subprocess.Popen:
    settings = env["settings"]
    variables = {
        **os.environ,
        "SSL_CERT_FILE": str(env["ms"].ca_path),
        "HUNTER_DATABASE_URL": env["database_url"],
        "HUNTER_PARTNER_CENTER_ENABLED": "true",
        "HUNTER_PC_API_URL": settings.pc_api_url,
        "HUNTER_PC_TENANT_ID": settings.pc_tenant_id,
        "HUNTER_PC_CLIENT_ID": settings.pc_client_id,
        "HUNTER_AUTHORITY_HOST": settings.authority_host,
        "HUNTER_TOKEN_CACHE_KEY": settings.token_cache_key.get_secret_value(),
        "HUNTER_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "shared", *args],
        cwd=ROOT,
        env=variables,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def finish(process: subprocess.Popen, timeout: float = 60) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def test_cli_login_sync_referrals_status_logout(env):
    ms = env["ms"]
    made = seed_referrals(ms)
    login = hunter(env, "pc", "login")
    lines = []
    while not any(line.startswith("user_code: ") for line in lines):
        line = login.stdout.readline()  # type: ignore[union-attr]
        assert line, f"login printed no code: {lines} {login.stderr.read()}"  # type: ignore[union-attr]
        lines.append(line.strip())
    code = next(line for line in lines if line.startswith("user_code: ")).split(": ", 1)[1]
    assert any(line == f"verification_uri: {ms.authority_host}/devicelogin" for line in lines)
    time.sleep(0.3)  # the process is waiting for the person now
    assert login.poll() is None
    ms.identity.approve_device_code(code, "seller@contoso.com")
    status, _, err = finish(login)
    assert status == 0 and "signed in to Partner Center as seller@contoso.com" in err

    # another process (another instance) syncs with the stored sign-in: no login of its own
    status, out, err = finish(hunter(env, "pc", "sync", "--json"))
    assert status == 0, err
    run = json.loads(out)
    assert run["status"] == "ok" and run["created"] == 10 and run["domain_missing"] == 2
    status, out, _ = finish(hunter(env, "pc", "referrals", "--link-status", "domain_missing", "--json"))
    assert status == 0 and {json.loads(line)["id"] for line in out.splitlines()} == {
        made["freemail_only"]["id"],
        made["no_email"]["id"],
    }
    status, out, _ = finish(hunter(env, "pc", "referrals"))
    assert status == 0 and "10 of 10 referral(s)" in out and "(gmail.com)" in out
    status, out, _ = finish(hunter(env, "pc", "status", "--json"))
    state = json.loads(out)
    assert state["state"] == "ok" and state["last_run"]["status"] == "ok" and state["referrals"]["total"] == 10

    status, _, _ = finish(hunter(env, "pc", "logout"))
    assert status == 0 and get_states(env["engine"])["partner_center"].state == "needs_login"
    status, out, err = finish(hunter(env, "pc", "sync"))
    assert status == 2 and "hunter pc login" in err
