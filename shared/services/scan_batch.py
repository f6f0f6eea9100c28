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

from shared.core.domains import parse
from shared.core.inputs import InputRow
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


_scanners: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Scanner, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


def _scanner(settings: Settings) -> tuple[Scanner, asyncio.Semaphore]:
    """One scanner (one DNS client, one cache) per event loop, shared by every batch it runs,
    and one bound on the domains in flight (``scan_concurrency``) across all of those batches:
    a worker holding 24 messages of 100 domains must not start 2,400 scans at once."""
    loop = asyncio.get_running_loop()
    pair = _scanners.get(loop)
    if pair is None:
        pair = _scanners[loop] = (Scanner(settings), asyncio.Semaphore(settings.scan_concurrency))
    return pair


async def _scan(scanner: Scanner, limit: asyncio.Semaphore, item) -> object:  # type: ignore[no-untyped-def]
    async with limit:
        return await scanner.scan_row(InputRow(item.input, item.company, item.row), parse(item.domain).domain, None)


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
        scanner, limit = _scanner(runtime.settings)
        results = await asyncio.gather(*(_scan(scanner, limit, item) for item in items))
        guard = claim_guard(request.job, {item.domain: item.seq for item in items if item.domain})
        await asyncio.to_thread(AfterScan(runtime).save, list(results), guard=guard)
    await asyncio.to_thread(jobs.finish_if_complete, request.job)
