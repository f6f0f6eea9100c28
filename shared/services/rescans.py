"""Rescans: scan known leads again, on demand (``POST /v1/rescans``, ``hunter rescan``) or when due
(the ``rescan_timer`` function, nightly by default), so a lead that moved from Google to Microsoft 365
on Monday is not a "Migration" lead for months.

A rescan is an ordinary bulk job with the source ``rescan``: the same queue, progress and results
as ``POST /v1/scans``. Its batches ask DNS afresh (no answer cached in process or in Redis is used)
and replace the scan cache of each domain; what changed is stored as change events by the after-scan
step, exactly as for any scan (a failed or timed-out rescan records no change).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.core.inputs import InputRow
from shared.core.rescans import RescanPolicy, default_policy
from shared.jobs import RESCAN_SOURCE
from shared.jobs.submit import submit_job
from shared.store import leases
from shared.store import rescans as rescan_store
from shared.store.models import utcnow

if TYPE_CHECKING:
    from shared.runtime import Runtime
    from shared.store.models import ScanJobRow
    from shared.store.queries import LeadFilter

log = logging.getLogger("hunter.rescans")
LEASE = "rescan-timer"
LEASE_SECONDS = 600.0
MAX_RESCAN_DOMAINS = 100_000  # one job's cap


class NothingToRescan(LookupError):
    """The request named no lead that has been scanned."""


@dataclass
class RescanRun:
    status: str  # ok | skipped | nothing_due | failed
    due: int = 0
    job: ScanJobRow | None = None
    error: str | None = None


def rescan(runtime: Runtime, leads: list[tuple[str, str | None]], *, submitted_by: str | None) -> ScanJobRow:
    """Submit a rescan job for ``leads`` ((domain, company) pairs); they must be known leads."""
    if not leads:
        raise NothingToRescan("no lead to rescan")
    rows = [InputRow(domain, company) for domain, company in leads]
    return submit_job(rows, runtime.settings, runtime.engine, source=RESCAN_SOURCE, submitted_by=submitted_by)


def known_leads(runtime: Runtime, domains: list[str]) -> tuple[list[tuple[str, str | None]], list[str]]:
    """(the leads among ``domains`` with their company, the domains that are not leads)."""
    found = dict(rescan_store.leads_named(runtime.engine, domains))
    return [(d, found[d]) for d in dict.fromkeys(domains) if d in found], [d for d in domains if d not in found]


def filtered_leads(runtime: Runtime, lead_filter: LeadFilter) -> list[tuple[str, str | None]]:
    return rescan_store.matching_leads(runtime.engine, lead_filter, MAX_RESCAN_DOMAINS)


def due_leads(runtime: Runtime, *, limit: int, policy: RescanPolicy | None = None) -> list[tuple[str, str | None]]:
    return rescan_store.due_leads(runtime.engine, policy or default_policy(), utcnow(), limit)


def rescan_due(runtime: Runtime, *, trigger: str, submitted_by: str | None = None) -> RescanRun:
    """One run of the policy: at most ``HUNTER_RESCAN_BUDGET`` due leads in one job; never two runs
    at once (a lease in the store: the Azure timer's singleton covers one app, not the local runner
    or a manual run). Every run, skipped or not, is recorded for the dashboard."""
    engine = runtime.engine
    holder = leases.new_holder()
    if not leases.acquire(engine, LEASE, holder, LEASE_SECONDS):
        rescan_store.record_run(engine, trigger, "skipped", error="another rescan run holds the lease")
        return RescanRun("skipped", error="another rescan run is submitting")
    try:
        due = due_leads(runtime, limit=runtime.settings.rescan_budget)
        if not due:
            rescan_store.record_run(engine, trigger, "nothing_due")
            return RescanRun("nothing_due")
        job = rescan(runtime, due, submitted_by=submitted_by or f"rescan-{trigger}")
        rescan_store.record_run(engine, trigger, "ok", due=len(due), submitted=job.unique_domains)
        log.info("rescan submitted", extra={"job": job.id, "domains": job.unique_domains, "trigger": trigger})
        return RescanRun("ok", due=len(due), job=job)
    except Exception as exc:
        rescan_store.record_run(engine, trigger, "failed", error=f"{type(exc).__name__}"[:200])
        raise
    finally:
        leases.release(engine, LEASE, holder)


async def scheduled_rescan(runtime: Runtime) -> None:
    """The ``rescan_timer`` handler (Azure timer and the local worker)."""
    await asyncio.to_thread(rescan_due, runtime, trigger="timer")


def next_run(runtime: Runtime) -> str | None:
    """When the timer fires next (UTC, ISO 8601), for the dashboard."""
    from shared.triggers.schedule import Schedule

    try:
        return Schedule.parse(runtime.settings.rescan_schedule).next_after(utcnow()).isoformat()
    except ValueError:
        return None


def status(runtime: Runtime) -> dict[str, object]:
    """The last rescan run and the next one, JSON-ready (never raises: it feeds the dashboard)."""
    try:
        run = rescan_store.last_run(runtime.engine)
    except Exception as exc:
        return {"state": "unknown", "detail": type(exc).__name__}
    return {
        "schedule": runtime.settings.rescan_schedule,
        "budget": runtime.settings.rescan_budget,
        "next_run_at": next_run(runtime),
        "last_run": None
        if run is None
        else {
            "at": run.started_at.isoformat(),
            "trigger": run.trigger,
            "status": run.status,
            "due": run.fetched,
            "submitted": run.scans_queued,
        },
    }

