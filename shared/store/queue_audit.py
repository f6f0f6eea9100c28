"""What the store remembers about queue messages: the last error of a failing body, and one
audit line per poisoning, redrive or purge (operators' questions: why, who, when)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable

from sqlalchemy import Engine, select

from shared.store.db import upsert
from shared.store.models import QueueAuditRow, QueueFailureRow, utcnow


def body_sha256(body: str) -> str:
    """A message's identity across queues and deliveries (the body is moved unchanged to ``-poison``)."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()

log = logging.getLogger("hunter.queues")


class QueueAudit:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record_failure(self, queue: str, message_id: str, body: str, dequeue_count: int, error: str) -> None:
        values = {
            "queue": queue,
            "body_sha256": body_sha256(body),
            "message_id": message_id,
            "dequeue_count": dequeue_count,
            "last_error": error,
            "failed_at": utcnow(),
        }
        stmt = upsert(self.engine, QueueFailureRow.__table__).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["queue", "body_sha256"],
            set_={k: stmt.excluded[k] for k in ("message_id", "dequeue_count", "last_error", "failed_at")},
        )
        with self.engine.begin() as connection:
            connection.execute(stmt)

    def failures(self, queue: str, bodies: Iterable[str]) -> dict[str, QueueFailureRow]:
        """The recorded failure of each body (by hash) on ``queue``."""
        hashes = {body_sha256(b) for b in bodies}
        if not hashes:
            return {}
        from sqlalchemy.orm import Session

        with Session(self.engine) as session:
            rows = session.scalars(
                select(QueueFailureRow).where(QueueFailureRow.queue == queue, QueueFailureRow.body_sha256.in_(hashes))
            )
            return {row.body_sha256: row for row in rows}

    def log(self, queue: str, action: str, message_id: str, body: str, actor: str, detail: str | None = None) -> None:
        row = {
            "at": utcnow(),
            "queue": queue,
            "action": action,
            "message_id": message_id,
            "body_sha256": body_sha256(body),
            "actor": actor,
            "detail": detail,
        }
        with self.engine.begin() as connection:
            connection.execute(QueueAuditRow.__table__.insert(), [row])
        log.info("queue audit", extra={k: v for k, v in row.items() if k != "at"})

    def history(self, queue: str | None = None, limit: int = 100) -> list[QueueAuditRow]:
        from sqlalchemy.orm import Session

        query = select(QueueAuditRow).order_by(QueueAuditRow.id.desc()).limit(limit)
        if queue:
            query = query.where(QueueAuditRow.queue == queue)
        with Session(self.engine) as session:
            return list(session.scalars(query))
