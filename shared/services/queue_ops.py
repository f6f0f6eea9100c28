"""Operator actions on queues: stats, peek, poison handling, redrive and purge.

The same functions serve ``hunter queue …`` and the admin HTTP routes. Nothing is deleted
unless asked: a redrive moves each chosen poison message back to its queue (body unchanged,
dequeue count starting again from zero) and writes one audit line per message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from shared.config import Settings
from shared.queues import Queue, QueueMessage, open_queue, poison_name
from shared.store.queue_audit import QueueAudit, body_sha256
from shared.triggers.registry import QUEUE_FUNCTIONS

REDRIVE_LEASE = 30.0  # seconds a poison message is held while being redriven


@dataclass(frozen=True)
class QueueStats:
    name: str
    length: int
    poison_length: int
    oldest_age_seconds: float | None
    poison_oldest_age_seconds: float | None


@dataclass(frozen=True)
class PoisonMessage:
    id: str
    body: str
    enqueued_at: datetime | None
    dequeue_count: int | None  # deliveries before poisoning, as recorded at the last failure
    last_error: str | None
    failed_at: datetime | None


def known_queues() -> list[str]:
    return sorted({function.queue for function in QUEUE_FUNCTIONS})


def check_known(name: str) -> str:
    base = name.removesuffix("-poison")
    if base not in known_queues():
        raise KeyError(f"unknown queue {name!r}; queues: {', '.join(known_queues())}")
    return base


class QueueOps:
    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.audit = QueueAudit(engine)

    def queue(self, name: str) -> Queue:
        return open_queue(name, self.settings, self.engine)

    def stats(self) -> list[QueueStats]:
        out = []
        for name in known_queues():
            main, poison = self.queue(name), self.queue(poison_name(name))
            out.append(QueueStats(name, main.length(), poison.length(), main.oldest_age(), poison.oldest_age()))
        return out

    def peek_poison(self, name: str, limit: int = 32) -> list[PoisonMessage]:
        base = check_known(name)
        messages = self.queue(poison_name(base)).peek(limit)
        return self._describe(base, messages)

    def peek(self, name: str, limit: int = 32) -> list[QueueMessage]:
        check_known(name)
        return self.queue(name).peek(limit)

    def _describe(self, base: str, messages: list[QueueMessage]) -> list[PoisonMessage]:
        failures = self.audit.failures(base, (m.body for m in messages))
        out = []
        for m in messages:
            failure = failures.get(body_sha256(m.body))
            out.append(
                PoisonMessage(
                    id=m.id,
                    body=m.body,
                    enqueued_at=m.enqueued_at,
                    dequeue_count=failure.dequeue_count if failure else None,
                    last_error=failure.last_error if failure else None,
                    failed_at=failure.failed_at if failure else None,
                )
            )
        return out

    def redrive(self, name: str, *, ids: list[str] | None = None, actor: str) -> list[str]:
        """Move poison messages (``ids``, or all when None) back to ``name``; returns the moved ids."""
        base = check_known(name)
        main, poison = self.queue(base), self.queue(poison_name(base))
        wanted = None if ids is None else set(ids)
        moved: list[str] = []
        seen: set[str] = set()
        held: list[QueueMessage] = []  # not chosen: released again at the end
        try:
            while wanted is None or wanted - set(moved):
                batch = [m for m in poison.receive(32, visibility_timeout=REDRIVE_LEASE) if m.id not in seen]
                if not batch:
                    break
                for message in batch:
                    seen.add(message.id)
                    if wanted is not None and message.id not in wanted:
                        held.append(message)
                        continue
                    new_id = main.send(message.body)
                    poison.delete(message)
                    self.audit.log(base, "redriven", message.id, message.body, actor, f"new message id {new_id}")
                    moved.append(message.id)
        finally:
            for message in held:
                try:
                    poison.update_visibility(message, 0)
                except Exception:
                    pass
        return moved

    def purge_poison(self, name: str, *, actor: str) -> int:
        base = check_known(name)
        count = self.queue(poison_name(base)).purge()
        self.audit.log(base, "purged", "*", "", actor, f"{count if count >= 0 else 'all'} poison messages deleted")
        return count
