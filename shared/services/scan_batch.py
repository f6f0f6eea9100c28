"""The ``scan-requests`` queue function: scan one batch of a bulk job.

Idempotent by construction: the batch's items that are still ``queued`` are scanned, and the
results are written in one transaction with the claim of those items (see
:func:`shared.store.jobs.claim_guard`). A redelivered batch therefore re-does only what the
previous delivery did not finish, and never writes a snapshot or counts a domain twice.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from shared import telemetry
from shared.core.domains import parse
from shared.core.inputs import InputRow
from shared.jobs import RESCAN_SOURCE
from shared.queues import Delivery
from shared.scan.pipeline import Scanner
from shared.services.after_scan import AfterScan
from shared.store.jobs import claim_guard

if TYPE_CHECKING:
    from shared.config import Settings
    from shared.runtime import Runtime


class ScanBatchMessage(BaseModel):
    """The body of a ``scan-requests`` message: which batch of which job (the domains are in the store)."""

    model_config = ConfigDict(extra="forbid")

    v: int = Field(1, ge=1, le=1)
    job: str = Field(pattern=r"^[0-9a-f]{32}$")
    batch: int = Field(ge=0)
    # The submitter's W3C trace context (shared.telemetry); older messages have none.
    traceparent: str | None = Field(None, max_length=128)
    tracestate: str | None = Field(None, max_length=512)


_scanners: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Scanner, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


_fresh_scanners: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Scanner] = weakref.WeakKeyDictionary()


def _scanner(settings: Settings, *, fresh: bool = False) -> tuple[Scanner, asyncio.Semaphore]:
    """One scanner (one DNS client, one cache) per event loop, shared by every batch it runs,
    and one bound on the domains in flight (``scan_concurrency``) across all of those batches:
    a worker holding 24 messages of 100 domains must not start 2,400 scans at once.

    ``fresh`` (rescans): a second scanner of the loop whose DNS, WHOIS and tenant-recon caches are off, in
    process and in Redis, so a rescan sees today's records; it shares the bound on domains in flight."""
    loop = asyncio.get_running_loop()
    pair = _scanners.get(loop)
    if pair is None:
        pair = _scanners[loop] = (Scanner(settings), asyncio.Semaphore(settings.scan_concurrency))
    if not fresh:
        return pair
    scanner = _fresh_scanners.get(loop)
    if scanner is None:
        uncached = settings.model_copy(update={"cache_dns_ttl": 0, "cache_whois_ttl": 0, "tenant_recon_cache_ttl": 0})
        scanner = _fresh_scanners[loop] = Scanner(uncached)
    return scanner, pair[1]


async def _scan(scanner: Scanner, limit: asyncio.Semaphore, item, sample: float = 0.0) -> object:  # type: ignore[no-untyped-def]
    """Scan one item; with telemetry on, a span per domain (``hunter.domain``, status, provider) for the
    ``sample`` share of the domains (``HUNTER_TRACE_DOMAIN_SAMPLE``)."""
    async with limit:
        if not telemetry.sampled(item.domain or item.input, sample):
            return await scanner.scan_row(InputRow(item.input, item.company, item.row), parse(item.domain).domain, None)
        with telemetry.span("scan domain", attributes={"hunter.domain": item.domain, "hunter.row": item.row}) as span:
            result = await scanner.scan_row(
                InputRow(item.input, item.company, item.row), parse(item.domain).domain, None
            )
            record = result.record
            span.set_attributes(
                {
                    "hunter.scan.status": record.status.value,
                    "hunter.provider": str(getattr(record.provider, "value", record.provider) or ""),
                    "hunter.scan.duration_ms": record.duration_ms or 0.0,
                    "hunter.priority": (result.score.priority_category if result.score is not None else None) or "",
                }
            )
            if record.status.value == "error":
                telemetry.failed(span, "scan_error")
            return result


def _forget_cached(runtime: Runtime, domains: list[str]) -> None:
    for domain in domains:
        runtime.scan_cache.delete(domain)


async def handle_scan_batch(body: str, delivery: Delivery, runtime: Runtime) -> None:
    request = ScanBatchMessage.model_validate_json(body)
    jobs = runtime.jobs
    # One read for the job and the batch's pending items (JobNotFound: retried, then poisoned
    # for an operator). Write transactions are kept to what must be written: on SQLite every
    # worker shares one write lock, so each extra one costs every other worker time.
    job, items = await asyncio.to_thread(jobs.batch_work, request.job, request.batch)
    if items:
        if job.started_at is None:
            await asyncio.to_thread(jobs.mark_started, request.job)
        rescan = job.source == RESCAN_SOURCE
        scanner, limit = _scanner(runtime.settings, fresh=rescan)
        sample = runtime.settings.trace_domain_sample
        results = await asyncio.gather(*(_scan(scanner, limit, item, sample) for item in items))
        guard = claim_guard(request.job, {item.domain: item.seq for item in items if item.domain})
        saved = await asyncio.to_thread(AfterScan(runtime).save, list(results), guard=guard)
        if rescan:  # the scan cache of POST /v1/scan must not answer with the result this rescan replaced
            await asyncio.to_thread(_forget_cached, runtime, [r.record.domain for r in saved if r.record.domain])
    await asyncio.to_thread(jobs.finish_if_complete, request.job)
