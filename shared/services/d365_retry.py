"""Retry failed Dynamics 365 pushes: redrive their poison messages through the queue contract,
and queue afresh the failed leads whose poison message is gone (purged)."""

from __future__ import annotations

import json

from sqlalchemy import Engine

from shared.config import Settings
from shared.queues import open_queue, poison_name
from shared.services.d365_push import D365_QUEUE, enqueue_pushes, mark_queued
from shared.services.queue_ops import QueueOps
from shared.store import d365 as sync_store

SCAN_LIMIT = 10_000  # poison messages looked at per retry


def _domain_of(body: str) -> str | None:
    try:
        value = json.loads(body).get("domain")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def retry_failed_pushes(
    settings: Settings, engine: Engine, domains: list[str] | None, *, actor: str
) -> tuple[int, int]:
    """(poison messages redriven, leads queued afresh) for ``domains`` or every failed lead."""
    failed = sync_store.failed_domains(engine, domains)
    if not failed:
        return 0, 0
    poison = open_queue(poison_name(D365_QUEUE), settings, engine)
    ids: list[str] = []
    covered: set[str] = set()
    # Walk the poison queue by receiving with a lease; every message is released again at the end
    # (releasing at once would hand the same message back on the next receive).
    held = []
    try:
        while len(held) < SCAN_LIMIT:
            batch = poison.receive(32, visibility_timeout=60)
            if not batch:
                break
            held.extend(batch)
            for message in batch:
                domain = _domain_of(message.body)
                if domain in failed and domain not in covered:
                    ids.append(message.id)
                    covered.add(domain)
    finally:
        for message in held:
            poison.update_visibility(message, 0)
    mark_queued(engine, covered)  # before the redrive: a worker may finish a redriven push at once
    redriven = QueueOps(settings, engine).redrive(D365_QUEUE, ids=ids, actor=actor) if ids else []
    rest = sorted(failed - covered)
    requeued = enqueue_pushes(settings, engine, rest)[0] if rest else 0
    return len(redriven), requeued
