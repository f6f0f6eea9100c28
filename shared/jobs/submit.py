"""Create a bulk scan job and put its batches on the ``scan-requests`` queue."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from sqlalchemy import Engine

from shared import telemetry
from shared.config import Settings
from shared.core.inputs import InputRow
from shared.jobs import SCAN_QUEUE
from shared.queues import open_queue
from shared.store.jobs import JobStore
from shared.store.models import ScanJobRow


def batch_message(job_id: str, batch: int, trace: Mapping[str, str] | None = None) -> str:
    """The body of one ``scan-requests`` message; ``trace``: the submitter's W3C trace context
    (``traceparent``/``tracestate``), so the batches continue its trace (absent when tracing is off)."""
    return json.dumps({"v": 1, "job": job_id, "batch": batch, **(trace or {})}, separators=(",", ":"))


def enqueue_batches(job_id: str, batches: Iterable[int], settings: Settings, engine: Engine) -> int:
    trace = telemetry.inject()
    bodies = [batch_message(job_id, b, trace) for b in batches]
    queue = open_queue(SCAN_QUEUE, settings, engine)
    queue.send_many(bodies)
    return len(bodies)


def submit_job(
    rows: Iterable[InputRow],
    settings: Settings,
    engine: Engine,
    *,
    source: str,
    lang: str | None = None,
    submitted_by: str | None = None,
) -> ScanJobRow:
    """Store the job (items first, so a batch message never points at nothing), then enqueue it.

    If enqueueing fails the job stays in the store with queued items; :func:`resume_job`
    enqueues whatever is unfinished (scanning is idempotent, so resuming twice is harmless).
    """
    job = JobStore(engine).create(
        rows,
        source=source,
        lang=lang or settings.default_lang,
        batch_size=settings.bulk_batch_size,
        submitted_by=submitted_by,
    )
    enqueue_batches(job.id, range(job.batches), settings, engine)
    return job


def resume_job(job_id: str, settings: Settings, engine: Engine) -> int:
    """Re-enqueue every batch of ``job_id`` that still has unscanned domains; returns how many."""
    batches = JobStore(engine).unfinished_batches(job_id)
    return enqueue_batches(job_id, batches, settings, engine) if batches else 0
