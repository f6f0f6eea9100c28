"""The Partner Center referral sync: one run reads the referrals updated since the last run and
upserts them, queues scans of new company domains, and rescores the leads they link to.

* Never two at once: a lease in the store (``partner-center-sync``), renewed while the run
  lasts. The Azure timer's singleton covers one function app; the lease also covers the local
  runner's workers, several apps on one database, and a manual run during a timer run. A run
  that finds the lease taken is recorded as ``skipped``.
* Incremental: the watermark is the newest ``updatedDateTime`` a successful run stored; the next
  run asks for ``updatedDateTime ge watermark - OVERLAP``. The overlap re-reads a few referrals
  (unchanged ones write nothing) so that a change the service committed late, or several
  changes within the same second, is not skipped. Only a successful run moves the watermark.
* A sign-in only a person can repair ends the run as ``needs_login`` and sets that integration
  state; the timer then stays idle (no request at all) until ``hunter pc login`` succeeds.
* Scoring: a referral carries evidence DNS cannot see (co-sell, a known Entra ID tenant). The
  run passes it to the pure scorer (:mod:`shared.services.lead_facts`) for every lead whose
  referrals changed and for every referral-linked lead scanned again since the previous run,
  and stores the result on the lead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.integrations.identity import SignInError
from shared.integrations.partner_center.auth import STATE_NAME, acquire_token
from shared.logs import log_failure
from shared.services.lead_facts import facts_from
from shared.store import leases
from shared.store import referrals as store
from shared.store.integrations import get_states, set_state

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from shared.config import Settings
    from shared.runtime import Runtime
    from shared.store.models import SyncRunRow

log = logging.getLogger("hunter.partner_center")
LEASE = "partner-center-sync"
LEASE_SECONDS = 300.0  # a run killed mid-way frees the lease this long after its last renewal
OVERLAP = timedelta(minutes=15)
MAX_ERROR_CHARS = 2000
PROGRESS = ("pages", "fetched", "created", "updated", "unchanged", "domain_missing")


class PartnerCenterDisabled(RuntimeError):
    """``HUNTER_PARTNER_CENTER_ENABLED`` is off."""


@dataclass
class SyncOutcome:
    run_id: int
    trigger: str
    status: str  # ok | failed | needs_login | skipped
    pages: int = 0
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    domain_missing: int = 0
    scans_queued: int = 0
    rescored: int = 0
    watermark: datetime | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["watermark"] = self.watermark.isoformat() if self.watermark else None
        return data


def _require_enabled(settings: Settings) -> None:
    if not settings.partner_center_enabled:
        raise PartnerCenterDisabled("the Partner Center integration is off (HUNTER_PARTNER_CENTER_ENABLED)")


async def _keep_lease(engine: Engine, holder: str, lost: asyncio.Event) -> None:
    while True:
        await asyncio.sleep(LEASE_SECONDS / 3)
        try:
            if not await asyncio.to_thread(leases.acquire, engine, LEASE, holder, LEASE_SECONDS):
                lost.set()
                return
        except Exception as exc:  # the store hiccuped: try again at the next beat, the lease has time
            log.warning("sync lease renewal failed", extra={"error": type(exc).__name__})


def rescore_leads(engine: Engine, domains: list[str]) -> int:
    """Score each lead again with its referral facts; returns how many leads changed."""
    from shared.core.scoring import score_record
    from shared.store.leads import LeadStore

    lead_store = LeadStore(engine)
    grouped = store.referral_rows_for(engine, domains)
    changed = 0
    for domain in domains:
        record = lead_store.latest_record(domain, usable=True) or lead_store.latest_record(domain)
        if record is None:
            continue
        score = score_record(record, extra=facts_from(grouped.get(domain, [])))
        values = {
            "score": score.score,
            "segment": score.segment.value,
            "commercial_segment": score.commercial_segment.value,
            "priority_category": score.priority_category,
            "priority_score": score.priority_score,
            "rules_version": score.rules_version,
            "breakdown": [item.model_dump() for item in score.breakdown],
        }
        changed += store.update_lead_score(engine, domain, values)
    return changed


def runtime_of(settings: Settings) -> Runtime:
    """The runtime to publish events through (the process's, when it is for these settings)."""
    from shared.runtime import Runtime, get_runtime

    runtime = get_runtime()
    return runtime if runtime.settings is settings else Runtime(settings)


def _publish_referrals(runtime: Runtime, referrals: list[dict[str, Any]]) -> None:
    """A ``referral.received`` alert for each referral seen for the first time."""
    from shared.core.alerts import make_event
    from shared.services.notifications import publish

    now = _now().isoformat()
    events = [
        make_event(
            "referral.received",
            domain=fields.get("domain") or "",
            at=(fields["created_at"] or _now()).isoformat() if fields.get("created_at") else now,
            company_name=fields.get("customer_name"),
            before=None,
            after=fields.get("type"),
            priority=None,
            score=None,
            public_url=runtime.settings.public_url,
            identity=str(fields.get("id")),
        )
        for fields in referrals
        if fields.get("domain")
    ]
    try:
        publish(runtime, events)
    except Exception as exc:  # an alert must never fail the sync
        log_failure(log, "referral alerts not published", exc)


def _queue_scans(settings: Settings, engine: Engine) -> int:
    from shared.core.inputs import InputRow
    from shared.jobs.submit import submit_job

    wanted = store.domains_to_scan(engine)
    if not wanted:
        return 0
    job = submit_job(
        [InputRow(domain, company) for domain, company in wanted],
        settings,
        engine,
        source=store.SCAN_SOURCE,
        submitted_by="partner-center-sync",
    )
    log.info("referral domains queued for scanning", extra={"job": job.id, "domains": job.unique_domains})
    return job.unique_domains


async def run_sync(settings: Settings, engine: Engine, *, trigger: str = "manual") -> SyncOutcome:
    """One sync run (see the module docstring). Never raises for Partner Center or sign-in
    trouble: the outcome, the ``sync_runs`` row and the integration state say what happened."""
    from shared.integrations.partner_center.client import PartnerCenterError, ReferralsClient

    _require_enabled(settings)
    holder = leases.new_holder()
    if not await asyncio.to_thread(leases.acquire, engine, LEASE, holder, LEASE_SECONDS):
        reason = "another Partner Center sync is running"
        run_id = await asyncio.to_thread(store.start_run, engine, trigger, status="skipped", error=reason)
        log.info("partner center sync skipped: another run holds the lease", extra={"trigger": trigger})
        return SyncOutcome(run_id, trigger, "skipped", error=reason)

    outcome = SyncOutcome(0, trigger, "failed", error="cancelled")
    lost = asyncio.Event()
    keeper: asyncio.Task | None = None
    try:
        outcome.run_id = await asyncio.to_thread(store.start_run, engine, trigger)
        keeper = asyncio.create_task(_keep_lease(engine, holder, lost))
        await asyncio.to_thread(store.interrupt_stale_runs, engine, outcome.run_id)
        previous = await asyncio.to_thread(store.last_success, engine)
        outcome.watermark = previous.watermark if previous else None
        since = outcome.watermark - OVERLAP if outcome.watermark else None
        rescanned_since = previous.started_at if previous else None
        touched: set[str] = set()
        missing: set[str] = set()
        newest = outcome.watermark

        async def token(force: bool) -> str:
            return (await asyncio.to_thread(acquire_token, settings, engine, force_refresh=force)).access_token

        async with ReferralsClient(settings.pc_api_url, token) as client:
            async for page in client.pages(since):
                if lost.is_set():
                    raise RuntimeError("the sync lease was lost (the store was unreachable too long)")
                result = await asyncio.to_thread(store.upsert_page, engine, page)
                outcome.pages += 1
                outcome.fetched += len(page)
                outcome.created += result.created
                outcome.updated += result.updated
                outcome.unchanged += result.unchanged
                missing.difference_update(str(item.get("id")) for item in page)  # the newest reading counts
                missing |= result.domain_missing
                outcome.domain_missing = len(missing)
                touched |= result.touched_domains
                if result.new_referrals:
                    await asyncio.to_thread(_publish_referrals, runtime_of(settings), result.new_referrals)
                if result.newest and (newest is None or result.newest > newest):
                    newest = result.newest
                await asyncio.to_thread(
                    store.update_run,
                    engine,
                    outcome.run_id,
                    **{k: getattr(outcome, k) for k in PROGRESS},
                )
        outcome.scans_queued = await asyncio.to_thread(_queue_scans, settings, engine)
        domains = await asyncio.to_thread(store.leads_to_rescore, engine, touched, rescanned_since)
        outcome.rescored = await asyncio.to_thread(rescore_leads, engine, domains)
        outcome.watermark = newest
        outcome.status, outcome.error = "ok", None
        await asyncio.to_thread(set_state, engine, STATE_NAME, "ok", None)
    except SignInError as exc:
        outcome.status = "needs_login" if exc.needs_login else "failed"
        outcome.error = str(exc)
        await asyncio.to_thread(set_state, engine, STATE_NAME, "needs_login" if exc.needs_login else "error", str(exc))
        log.warning(
            "partner center sync: sign-in failed",
            extra={"code": exc.code, "needs_login": exc.needs_login, "error": str(exc)},
        )
    except PartnerCenterError as exc:
        outcome.status, outcome.error = "failed", exc.describe()
        await asyncio.to_thread(set_state, engine, STATE_NAME, "error", exc.describe())
        log.warning("partner center sync failed", extra={"code": exc.code, "error": exc.describe()})
    except Exception as exc:
        outcome.status, outcome.error = "failed", f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
        log_failure(log, "partner center sync failed", exc)
        with contextlib.suppress(Exception):
            await asyncio.to_thread(set_state, engine, STATE_NAME, "error", outcome.error)
    finally:
        if keeper is not None:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
        try:
            if outcome.run_id:
                await asyncio.to_thread(
                    store.update_run,
                    engine,
                    outcome.run_id,
                    status=outcome.status,
                    finished_at=_now(),
                    pages=outcome.pages,
                    fetched=outcome.fetched,
                    created=outcome.created,
                    updated=outcome.updated,
                    unchanged=outcome.unchanged,
                    domain_missing=outcome.domain_missing,
                    scans_queued=outcome.scans_queued,
                    watermark=outcome.watermark if outcome.status == "ok" else None,
                    error=(outcome.error or "")[:MAX_ERROR_CHARS] or None,
                )
        finally:
            await asyncio.to_thread(leases.release, engine, LEASE, holder)
    log.info("partner center sync finished", extra={"sync_" + key: value for key, value in outcome.as_dict().items()})
    return outcome


def _now() -> datetime:
    from shared.store.models import utcnow

    return utcnow()


def sync_now(settings: Settings, engine: Engine, *, trigger: str = "manual") -> SyncOutcome:
    """:func:`run_sync` from synchronous code (the HTTP handler, the CLI)."""
    from shared import aio

    return aio.run(run_sync(settings, engine, trigger=trigger))


async def scheduled_sync(runtime: Runtime) -> None:
    """The ``pc_sync_timer`` handler (Azure timer and the local worker): nothing when the flag is
    off or a person must sign in first; otherwise one run (skipped if one is already running)."""
    settings, engine = runtime.settings, runtime.engine
    if not settings.partner_center_enabled:
        log.debug("partner center sync timer: integration off")
        return
    state = (await asyncio.to_thread(get_states, engine)).get(STATE_NAME)
    if state is not None and state.state == "needs_login":
        log.warning("partner center sync timer idle: sign-in needed (hunter pc login)")
        return
    await run_sync(settings, engine, trigger="timer")


# -- status for /healthz/ready and the dashboard -------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def run_dict(row: SyncRunRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "trigger": row.trigger,
        "status": row.status,
        "started_at": _iso(row.started_at),
        "finished_at": _iso(row.finished_at),
        "pages": row.pages,
        "fetched": row.fetched,
        "created": row.created,
        "updated": row.updated,
        "unchanged": row.unchanged,
        "domain_missing": row.domain_missing,
        "scans_queued": row.scans_queued,
        "watermark": _iso(row.watermark),
        "error": row.error,
    }


def partner_center_status(engine: Engine, settings: Settings | None = None) -> dict[str, Any]:
    """The integration at a glance, as JSON-ready values: sign-in state (``needs_login``), the
    last run (time, status, counts, error), whether one runs now, and the referral counts.

    Never raises: it feeds health probes, which Partner Center trouble must not fail."""
    try:
        state = get_states(engine).get(STATE_NAME)
        last = store.last_run(engine)
        success = store.last_success(engine)
        status: dict[str, Any] = {
            "state": state.state if state else "unknown",
            "needs_login": bool(state and state.state == "needs_login"),
            "detail": state.detail if state else None,
            "state_updated_at": _iso(state.updated_at) if state else None,
            "running": leases.holder_of(engine, LEASE) is not None,
            "last_run": run_dict(last) if last else None,
            "last_success_at": _iso(success.finished_at) if success else None,
            "referrals": store.counts(engine),
        }
    except Exception as exc:
        status = {"state": "unknown", "needs_login": False, "detail": f"status unavailable: {type(exc).__name__}"}
    if settings is not None:
        status = {"enabled": settings.partner_center_enabled, **status}
    return status
