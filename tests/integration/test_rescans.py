"""Rescans: on demand and when due, asking DNS afresh, recording what changed, never overlapping."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from shared import aio
from shared.config import Settings
from shared.core.inputs import InputRow
from shared.core.rescans import default_policy, parse_policy
from shared.http.dispatch import dispatch
from shared.http.types import HttpRequest
from shared.local.worker import QueueWorker
from shared.queues.hostjson import QueueOptions
from shared.runtime import Runtime, set_runtime
from shared.scan.pipeline import run_pipeline
from shared.services import rescans
from shared.services.after_scan import AfterScan
from shared.store import leases
from shared.store.models import ChangeEventRow, LeadRow, utcnow
from shared.triggers.registry import QUEUE_FUNCTIONS

BEFORE = """
moved.com.tr. MX 1 aspmx.l.google.com.
moved.com.tr. TXT "v=spf1 include:_spf.google.com ~all"
stays.com.tr. MX 10 stays-com-tr.mail.protection.outlook.com.
stays.com.tr. TXT "v=spf1 include:spf.protection.outlook.com -all"
"""
AFTER = """
moved.com.tr. MX 0 moved-com-tr.mail.protection.outlook.com.
moved.com.tr. TXT "v=spf1 include:spf.protection.outlook.com -all"
stays.com.tr. MX 10 stays-com-tr.mail.protection.outlook.com.
stays.com.tr. TXT "v=spf1 include:spf.protection.outlook.com -all"
"""
FAST = QueueOptions(batch_size=16, new_batch_threshold=8, max_dequeue_count=5, visibility_timeout=0.0)
SCANS = tuple(f for f in QUEUE_FUNCTIONS if f.queue == "scan-requests")


@pytest.fixture
def world(dns_server_factory, database_url):
    dns = dns_server_factory(BEFORE)
    settings = Settings(
        database_url=database_url,
        dns_nameservers=[dns.address],
        dns_timeout=0.5,
        whois_enabled=False,
        queue_retry_base=0,
    )
    runtime = Runtime(settings)
    set_runtime(runtime)
    rows = [InputRow("moved.com.tr", "Taşınan A.Ş."), InputRow("stays.com.tr", "Kalan Ltd")]
    aio.run(run_pipeline(rows, settings, AfterScan(runtime)))
    yield runtime, dns
    set_runtime(None)


def drain(runtime: Runtime) -> QueueWorker:
    worker = QueueWorker(SCANS, options=FAST, exit_when_idle=True, runtime=runtime)
    aio.run(worker.run())
    return worker


def call(runtime: Runtime, body: dict, scope: str = "scan"):
    key = runtime.keys.create(f"k-{utcnow().timestamp()}-{scope}", [scope])[0]
    headers = {"x-api-key": key, "content-type": "application/json"}
    reply = dispatch(HttpRequest("POST", "/v1/rescans", headers=headers, body=json.dumps(body).encode()), runtime)
    return reply.status, json.loads(reply.body_bytes()), reply.headers


def lead(runtime: Runtime, domain: str) -> LeadRow:
    return runtime.leads.lead(domain)


def test_a_rescan_asks_dns_afresh_and_records_the_move(world):
    runtime, dns = world
    assert lead(runtime, "moved.com.tr").provider == "Google"
    # Warm every cache a worker has (in process, and the scanner of this loop) with the old world.
    drain(runtime)
    dns.reload(AFTER)  # Monday: moved.com.tr left Google for Microsoft 365
    status, job, headers = call(runtime, {"domains": ["moved.com.tr", "https://www.stays.com.tr/", "nolead.com.tr"]})
    assert status == 202 and job["source"] == "rescan" and headers["Location"] == job["status_url"]
    assert job["totals"]["unique"] == 2 and job["not_leads"] == ["nolead.com.tr"]
    drain(runtime)
    assert lead(runtime, "moved.com.tr").provider == "M365"
    with runtime.engine.connect() as connection:
        kinds = (
            connection.execute(sa.select(ChangeEventRow.kind).where(ChangeEventRow.domain == "moved.com.tr"))
            .scalars()
            .all()
        )
    assert "provider_changed" in kinds
    with runtime.engine.connect() as connection:  # the unchanged lead has no change event
        assert not connection.execute(
            sa.select(ChangeEventRow.id).where(ChangeEventRow.domain == "stays.com.tr")
        ).first()


def test_rescan_requests_are_validated(world):
    runtime, _ = world
    assert call(runtime, {})[0] == 422  # none of the three
    assert call(runtime, {"domains": ["a.com.tr"], "due": True})[0] == 422  # two of them
    assert call(runtime, {"domains": ["10.0.0.1"]})[0] == 422
    assert call(runtime, {"domains": ["never-scanned.com.tr"]})[0] == 404
    assert call(runtime, {"filter": {"provider": ["Gmail"]}})[0] == 422  # unknown filter value
    assert call(runtime, {"due": True}, scope="read")[0] == 403
    status, job, _ = call(runtime, {"filter": {}})  # an empty filter: every lead
    assert status == 202 and job["totals"]["unique"] == 2
    status, job, _ = call(runtime, {"filter": {"provider": ["Google"]}})
    assert status == 202 and job["totals"]["unique"] == 1


def test_the_policy_picks_what_is_due_and_the_timer_never_overlaps(world):
    runtime, _ = world
    policy = default_policy()
    assert policy.interval_for("P1") == timedelta(days=7) and policy.interval_for("P6") == timedelta(days=90)
    assert rescans.due_leads(runtime, limit=100) == []  # both were scanned just now
    old = utcnow() - timedelta(days=400)
    with runtime.engine.begin() as connection:
        connection.execute(sa.update(LeadRow).where(LeadRow.domain == "stays.com.tr").values(scanned_at=old))
    assert [d for d, _ in rescans.due_leads(runtime, limit=100)] == ["stays.com.tr"]

    holder = leases.new_holder()  # another run is submitting
    assert leases.acquire(runtime.engine, rescans.LEASE, holder, 60)
    assert rescans.rescan_due(runtime, trigger="timer").status == "skipped"
    leases.release(runtime.engine, rescans.LEASE, holder)
    run = rescans.rescan_due(runtime, trigger="timer")
    assert run.status == "ok" and run.job is not None and run.job.unique_domains == 1
    status = rescans.status(runtime)
    assert status["last_run"]["status"] == "ok" and status["last_run"]["submitted"] == 1
    assert status["next_run_at"]


def test_failed_scans_are_retried_sooner_and_the_budget_caps_a_run(world):
    runtime, _ = world
    two_days = utcnow() - timedelta(days=2)
    with runtime.engine.begin() as connection:
        connection.execute(sa.update(LeadRow).values(scanned_at=two_days))
        connection.execute(sa.update(LeadRow).where(LeadRow.domain == "moved.com.tr").values(status="timeout"))
    assert [d for d, _ in rescans.due_leads(runtime, limit=100)] == ["moved.com.tr"]
    old = utcnow() - timedelta(days=400)
    with runtime.engine.begin() as connection:
        connection.execute(sa.update(LeadRow).values(scanned_at=old))
    assert len(rescans.due_leads(runtime, limit=1)) == 1


def test_policy_file_is_validated():
    with pytest.raises(ValueError):
        parse_policy("intervals_days: {P9: 3}")
    with pytest.raises(ValueError):
        parse_policy("intervals_days: {P1: 0}")
    policy = parse_policy("intervals_days: {P1: 1}\nfailed_retry_days: 2")
    now = utcnow()
    assert policy.is_due("P1", now - timedelta(days=1), now)
    assert not policy.is_due("P3", now - timedelta(days=29), now)  # P3 falls back to unscored (30 days)
    assert policy.is_due("P3", now - timedelta(days=1), now, failed=True) is False  # retry after 2 days


def test_hunter_rescan_submits_without_waiting(world):
    runtime, _ = world
    from shared.cli.main import main

    url = runtime.settings.database_url
    result = CliRunner().invoke(main, ["rescan", "--priority", "P1", "--priority", "P2", "--no-wait", "--db", url])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["rescan", "--all", "--no-wait", "--db", url])
    assert result.exit_code == 0 and "2 leads queued" in result.output
    result = CliRunner().invoke(main, ["rescan", "--due", "--all", "--db", url])
    assert result.exit_code != 0  # one kind at a time


def test_a_rescan_ignores_answers_cached_in_redis(dns_server_factory, tmp_path):
    """With Redis, DNS answers outlive a worker: a plain scan after the move still reads the old
    ones there, a rescan asks the server."""
    from tests.integration.test_redis import RedisServer

    (tmp_path / "redis").mkdir()
    redis = RedisServer(tmp_path / "redis")
    dns = dns_server_factory(BEFORE)
    try:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'hunter.db'}",
            dns_nameservers=[dns.address],
            dns_timeout=0.5,
            whois_enabled=False,
            queue_retry_base=0,
            redis_url=redis.url,
        )
        runtime = Runtime(settings)
        set_runtime(runtime)
        aio.run(run_pipeline([InputRow("moved.com.tr")], settings, AfterScan(runtime)))
        dns.reload(AFTER)
        aio.run(run_pipeline([InputRow("moved.com.tr")], settings, AfterScan(runtime)))  # a plain scan
        assert lead(runtime, "moved.com.tr").provider == "Google"  # served from Redis: the old world
        status, job, _ = call(runtime, {"domains": ["moved.com.tr"]})
        assert status == 202
        drain(runtime)
        assert lead(runtime, "moved.com.tr").provider == "M365"
    finally:
        set_runtime(None)
        redis.stop()
