"""Dynamics 365 push against the Dataverse and identity stand-ins over real HTTPS (MSAL + httpx),
through the local queue: idempotent upserts, throttling, permanent errors → poison → fix →
retry, token expiry, flag off. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from devtools.msstandins import start_standins
from shared import aio
from shared.config import Settings
from shared.core.inputs import InputRow
from shared.core.results import ScanResult
from shared.core.scoring import score_record
from shared.http.dispatch import dispatch
from shared.http.types import HttpRequest
from shared.integrations.d365.mapping import BUNDLED, mapping_for
from shared.local.worker import QueueWorker
from shared.queues import Delivery, open_queue, poison_name
from shared.queues.hostjson import QueueOptions
from shared.runtime import Runtime, set_runtime
from shared.scan.pipeline import run_pipeline
from shared.services.d365_push import D365_QUEUE, handle_push, repush_changed
from shared.store.keys import ApiKeyStore
from shared.store.models import D365SyncRow, LeadRow
from shared.triggers.registry import QUEUE_FUNCTIONS

ROOT = Path(__file__).resolve().parents[2]
FAST = QueueOptions(
    max_dequeue_count=3, visibility_timeout=0, batch_size=16, new_batch_threshold=8, max_polling_interval=0.2
)
PUSH = tuple(f for f in QUEUE_FUNCTIONS if f.queue == D365_QUEUE)
LEADS = 40


@pytest.fixture(scope="module")
def ms():
    with start_standins(d365_mapping=BUNDLED) as standins:
        yield standins


@pytest.fixture
def env(ms, synthetic_dns, database_url, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(ms.ca_path))
    ms.dataverse.reset()
    ms.dataverse.latency = 0.0
    ms.dataverse.throttle.rate = 0.0
    settings = Settings(
        database_url=database_url,
        dns_nameservers=[synthetic_dns],
        whois_enabled=False,
        d365_enabled=True,
        d365_url=ms.dataverse_url,
        d365_tenant_id=ms.tenant_id,
        d365_client_id=ms.confidential_client_id,
        d365_client_secret=ms.confidential_client_secret,
        authority_host=ms.authority_host,
        queue_retry_base=0,  # failed messages come back at once (FAST's old visibility_timeout=0)
    )
    context = Runtime(settings, time.monotonic())
    set_runtime(context)
    rows = [InputRow(f"co{i}.com.tr", f"Firma {i} A.Ş.") for i in range(1, LEADS + 1)]
    aio.run(run_pipeline(rows, settings, context.leads))
    keys = ApiKeyStore(context.engine)
    yield {
        "settings": settings,
        "context": context,
        "key": keys.create("sales", ["scan"])[0],
        "admin": keys.create("operator", ["admin"])[0],
        "ms": ms,
    }
    set_runtime(None)


def call(env, method: str, path: str, body=None, *, key: str = "key"):
    headers = {"x-api-key": env[key], "content-type": "application/json"}
    raw = json.dumps(body).encode() if body is not None else b""
    reply = dispatch(HttpRequest(method, path, headers=headers, body=raw), env["context"])
    return reply.status, json.loads(reply.body_bytes() or b"null")


def drain() -> QueueWorker:
    worker = QueueWorker(PUSH, options=FAST, exit_when_idle=True)
    aio.run(worker.run())
    return worker


def sync_row(env, domain: str) -> D365SyncRow | None:
    with Session(env["context"].engine) as session:
        return session.scalar(select(D365SyncRow).where(D365SyncRow.domain == domain))


def test_push_one_lead_upserts_once_with_mapped_columns(env):
    ms = env["ms"]
    assert call(env, "POST", "/v1/leads/co1.com.tr/d365-push") == (
        202,
        {"queued": 1, "already_queued": 0, "not_leads": [], "invalid": []},
    )
    status, again = call(env, "POST", "/v1/leads/co1.com.tr/d365-push")  # still queued: not queued twice
    assert status == 202 and again["queued"] == 0 and again["already_queued"] == 1
    assert sync_row(env, "co1.com.tr").status == "queued"
    drain()
    stats = ms.dataverse.snapshot()
    assert stats.creates == 1 and stats.updates == 0 and stats.rate_limit_violations == 0
    row = ms.dataverse.row_by_key("co1.com.tr")
    mapping = mapping_for(None)
    lead = env["context"].leads.lead("co1.com.tr")
    assert row["companyname"] == "Firma 1 A.Ş." and row["websiteurl"] == "https://co1.com.tr"
    assert row["new_hunterscore"] == lead.score
    assert row["new_prioritycategory"] == mapping.columns["new_prioritycategory"].options[lead.priority_category]
    assert row["new_hunterurl"].endswith("/#/leads/co1.com.tr")
    state = sync_row(env, "co1.com.tr")
    assert state.status == "synced" and state.lead_id == row["leadid"] and state.last_error is None
    assert state.lead_url == f"{ms.dataverse_url}/main.aspx?pagetype=entityrecord&etn=lead&id={row['leadid']}"

    call(env, "POST", "/v1/leads/co1.com.tr/d365-push")  # a later push updates the same Dataverse lead
    drain()
    stats = ms.dataverse.snapshot()
    assert (stats.creates, stats.updates) == (1, 1) and len(ms.dataverse.rows()) == 1


def test_redelivered_message_updates_the_same_lead(env):
    ms = env["ms"]
    body = json.dumps({"v": 1, "domain": "co2.com.tr"})
    for count in (1, 2, 3):
        aio.run(handle_push(body, Delivery("m", D365_QUEUE, count), env["context"]))
    assert ms.dataverse.snapshot().creates == 1 and ms.dataverse.count() == 1


def test_push_by_filter_and_a_throttling_storm_loses_and_duplicates_nothing(env):
    ms = env["ms"]
    ms.dataverse.throttle.rate = 0.1
    ms.dataverse.throttle.retry_after = 1
    ms.dataverse.latency = 0.02
    status, result = call(env, "POST", "/v1/d365/push", {"min_score": 0})
    with Session(env["context"].engine) as session:
        scored = len(list(session.scalars(select(LeadRow.domain).where(LeadRow.score >= 0))))
    assert status == 202 and result["queued"] == scored > LEADS // 2  # every lead the filter matches
    queued = result["queued"]
    drain()
    stats = ms.dataverse.snapshot()
    assert stats.throttled > 0, "the storm did not happen"
    assert stats.creates == queued and ms.dataverse.count() == queued  # exactly once each
    assert stats.rate_limit_violations == 0  # nobody sent a request inside a Retry-After window
    with Session(env["context"].engine) as session:
        statuses = set(session.scalars(select(D365SyncRow.status)))
    assert statuses == {"synced"}


def test_permanent_error_goes_to_poison_then_fix_and_retry_syncs(env, tmp_path):
    ms = env["ms"]
    settings = env["settings"]
    broken = yaml.safe_load(BUNDLED.read_text())
    broken["columns"]["new_notacolumn"] = {"field": "domain"}
    bad_path = tmp_path / "mapping.yaml"
    bad_path.write_text(yaml.safe_dump(broken, allow_unicode=True))
    env["context"].settings = settings.model_copy(update={"d365_mapping_file": str(bad_path)})
    call(env, "POST", "/v1/leads/co3.com.tr/d365-push")
    worker = drain()
    assert worker.failed == 0  # permanent: straight to poison, not retried
    state = sync_row(env, "co3.com.tr")
    assert state.status == "failed" and "HTTP 400" in state.last_error and "new_notacolumn" in state.last_error
    from datetime import timedelta

    from shared.store import notifications as alerts
    from shared.store.models import utcnow

    window = (utcnow() - timedelta(days=1), utcnow() + timedelta(days=1))
    failed = [e for e in alerts.events_between(env["context"].engine, *window) if e["type"] == "d365.push_failed"]
    assert [e["data"]["domain"] for e in failed] == ["co3.com.tr"] and "HTTP 400" in failed[0]["data"]["to"]
    poison = open_queue(poison_name(D365_QUEUE), settings, env["context"].engine)
    assert [json.loads(m.body)["domain"] for m in poison.peek()] == ["co3.com.tr"]
    assert ms.dataverse.count() == 0

    env["context"].settings = settings  # the mapping is fixed
    assert call(env, "POST", "/v1/d365/retry", {"domains": ["co3.com.tr"]})[0] == 403  # a scan key may not redrive
    status, retried = call(env, "POST", "/v1/d365/retry", {"domains": ["co3.com.tr"]}, key="admin")
    assert status == 202 and retried == {"redriven": 1, "requeued": 0}
    assert poison.length() == 0 and sync_row(env, "co3.com.tr").status == "queued"
    drain()
    assert sync_row(env, "co3.com.tr").status == "synced" and ms.dataverse.count() == 1


def test_an_expired_token_is_refreshed_once(env):
    """One worker's client holds a token; it expires mid-run; the next request's 401 fetches a new one."""
    ms = env["ms"]
    call(env, "POST", "/v1/d365/push", {"domains": ["co4.com.tr", "co5.com.tr"]})

    async def run() -> None:
        await handle_push(json.dumps({"v": 1, "domain": "co4.com.tr"}), Delivery("a", D365_QUEUE, 1), env["context"])
        ms.identity.expire_access_tokens()
        await handle_push(json.dumps({"v": 1, "domain": "co5.com.tr"}), Delivery("b", D365_QUEUE, 1), env["context"])

    aio.run(run())
    stats = ms.dataverse.snapshot()
    assert stats.unauthorized == 1 and ms.dataverse.count() == 2
    assert sync_row(env, "co5.com.tr").status == "synced"


def test_flag_off_answers_409_and_pushes_nothing(env):
    env["context"].settings = env["settings"].model_copy(update={"d365_enabled": False})
    status, problem = call(env, "POST", "/v1/leads/co6.com.tr/d365-push")
    assert status == 409 and "HUNTER_D365_ENABLED" in problem["detail"]
    assert call(env, "POST", "/v1/d365/push", {"domains": ["co6.com.tr"]})[0] == 409
    # The scope is checked before the integration's state: a scan key learns nothing from /retry.
    assert call(env, "POST", "/v1/d365/retry", {})[0] == 403
    assert call(env, "POST", "/v1/d365/retry", {}, key="admin")[0] == 409


def test_bad_push_requests(env):
    assert call(env, "POST", "/v1/leads/unknown-lead.com.tr/d365-push")[0] == 404
    status, problem = call(env, "POST", "/v1/d365/push", {})
    assert status == 422 and problem["errors"][0]["field"] == "domains"
    status, result = call(env, "POST", "/v1/d365/push", {"domains": ["co7.com.tr", "nope.com.tr", "not a domain"]})
    assert status == 202 and result == {
        "queued": 1,
        "already_queued": 0,
        "not_leads": ["nope.com.tr"],
        "invalid": ["not a domain"],
    }
    assert call(env, "POST", "/v1/d365/push", {"domains": ["a.com"], "priority": "P9"})[0] == 422


def test_a_rescan_that_changes_a_synced_lead_pushes_it_again_when_asked(env):
    ms = env["ms"]
    call(env, "POST", "/v1/leads/co10.com.tr/d365-push")
    drain()
    assert sync_row(env, "co10.com.tr").status == "synced"
    repository, engine = env["context"].leads, env["context"].engine
    record = repository.latest_record("co10.com.tr")
    same = ScanResult(record, score_record(record))
    changed = ScanResult(record, same.score.model_copy(update={"score": same.score.score + 1}))
    assert repush_changed(env["settings"], engine, [changed]) == 0  # the setting is off by default
    on = env["settings"].model_copy(update={"d365_repush_on_change": True})
    assert repush_changed(on, engine, [same]) == 0  # same score and priority: nothing to send
    assert repush_changed(on, engine, [changed]) == 1
    assert sync_row(env, "co10.com.tr").status == "queued"
    drain()
    assert ms.dataverse.snapshot().updates == 1 and ms.dataverse.count() == 1
