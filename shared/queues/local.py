"""The ``local`` queue backend: a table in the Hunter database (the embedded default).

Receiving is one ``UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING`` statement: on PostgreSQL
the inner select takes ``FOR UPDATE SKIP LOCKED``, so concurrent workers skip each other's rows
instead of queueing behind them; on SQLite the statement runs under the database's single write
lock, so two worker processes can never take the same message either. Every receive stamps a
fresh receipt, which ``delete`` and ``update_visibility`` must present (Azure's pop receipt).
Rows have no time-to-live: a message, poison or not, stays until it is deleted (completed, redriven
or purged), like Azure's ``time_to_live=-1``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

from sqlalchemy import Engine, and_, delete, func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from shared.queues.base import Queue, QueueError, QueueMessage, check_queue_name
from shared.store.models import QueueMessageRow

T = QueueMessageRow.__table__
MAX_RECEIVE = 32  # as Azure


def _epoch_to_datetime(seconds: float):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC)


class LocalQueue(Queue):
    def __init__(self, name: str, engine: Engine) -> None:
        self.name = check_queue_name(name)
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    def _message(self, row, receipt: str | None) -> QueueMessage:  # type: ignore[no-untyped-def]
        return QueueMessage(
            id=row.id,
            body=row.body,
            dequeue_count=row.dequeue_count,
            receipt=receipt,
            enqueued_at=_epoch_to_datetime(row.enqueued_at),
        )

    def send(self, body: str, *, delay: float = 0) -> str:
        return self.send_many([body], delay=delay)[0]

    def send_many(self, bodies: Iterable[str], *, delay: float = 0) -> list[str]:
        now = time.time()
        rows = [
            {
                "id": uuid.uuid4().hex,
                "queue": self.name,
                "body": body,
                "enqueued_at": now,
                "visible_at": now + max(0.0, delay),
                "dequeue_count": 0,
                "receipt": None,
            }
            for body in bodies
        ]
        if rows:
            try:
                with self.engine.begin() as connection:
                    connection.execute(T.insert(), rows)
            except SQLAlchemyError as exc:
                raise QueueError(f"could not send to {self.name}: {type(exc).__name__}") from exc
        return [row["id"] for row in rows]

    def receive(self, max_messages: int = 1, *, visibility_timeout: float = 30) -> list[QueueMessage]:
        now = time.time()
        receipt = uuid.uuid4().hex
        candidates = (
            select(T.c.id)
            .where(T.c.queue == self.name, T.c.visible_at <= now)
            .order_by(T.c.visible_at)
            .limit(max(1, min(max_messages, MAX_RECEIVE)))
        )
        if self._postgres:
            candidates = candidates.with_for_update(skip_locked=True)
        stmt = (
            update(T)
            .where(T.c.id.in_(candidates.scalar_subquery()))
            .values(receipt=receipt, visible_at=now + visibility_timeout, dequeue_count=T.c.dequeue_count + 1)
            .returning(T.c.id, T.c.body, T.c.dequeue_count, T.c.enqueued_at)
        )
        try:
            with self.engine.begin() as connection:
                rows = connection.execute(stmt).all()
        except SQLAlchemyError as exc:
            raise QueueError(f"could not receive from {self.name}: {type(exc).__name__}") from exc
        rows.sort(key=lambda row: row.enqueued_at)
        return [self._message(row, receipt) for row in rows]

    def delete(self, message: QueueMessage) -> bool:
        if message.receipt is None:
            return False
        with self.engine.begin() as connection:
            result = connection.execute(
                delete(T).where(T.c.id == message.id, T.c.queue == self.name, T.c.receipt == message.receipt)
            )
        return result.rowcount == 1

    def update_visibility(self, message: QueueMessage, timeout: float) -> QueueMessage:
        if message.receipt is None:  # a peeked message: without a receipt nobody may touch it
            raise QueueError(f"message {message.id} was peeked, not received: it has no receipt")
        receipt = uuid.uuid4().hex
        with self.engine.begin() as connection:
            result = connection.execute(
                update(T)
                .where(T.c.id == message.id, T.c.queue == self.name, T.c.receipt == message.receipt)
                .values(receipt=receipt, visible_at=time.time() + max(0.0, timeout))
            )
        if result.rowcount != 1:
            raise QueueError(f"message {message.id} on {self.name} is gone or its receipt is stale")
        return message.with_receipt(receipt)

    def update_visibility_many(self, messages: list[QueueMessage], timeout: float) -> list[QueueMessage | None]:
        """One statement for all of them: each row must still carry the receipt presented for it."""
        held = [m for m in messages if m.receipt is not None]
        if not held:
            return [None] * len(messages)
        receipt = uuid.uuid4().hex
        renewed: set[str] = set()
        for start in range(0, len(held), MAX_RECEIVE):  # a bounded OR per statement
            chunk = held[start : start + MAX_RECEIVE]
            stmt = (
                update(T)
                .where(T.c.queue == self.name, or_(*(and_(T.c.id == m.id, T.c.receipt == m.receipt) for m in chunk)))
                .values(receipt=receipt, visible_at=time.time() + max(0.0, timeout))
                .returning(T.c.id)
            )
            with self.engine.begin() as connection:
                renewed.update(connection.scalars(stmt))
        return [m.with_receipt(receipt) if m.receipt is not None and m.id in renewed else None for m in messages]

    def peek(self, max_messages: int = 32) -> list[QueueMessage]:
        stmt = (
            select(T.c.id, T.c.body, T.c.dequeue_count, T.c.enqueued_at)
            .where(T.c.queue == self.name, T.c.visible_at <= time.time())
            .order_by(T.c.visible_at)
            .limit(max(1, min(max_messages, MAX_RECEIVE)))
        )
        with self.engine.connect() as connection:
            return [self._message(row, None) for row in connection.execute(stmt)]

    def length(self) -> int:
        with self.engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(T).where(T.c.queue == self.name)) or 0

    def oldest_age(self) -> float | None:
        now = time.time()
        with self.engine.connect() as connection:
            oldest = connection.scalar(
                select(func.min(T.c.enqueued_at)).where(T.c.queue == self.name, T.c.visible_at <= now)
            )
        return None if oldest is None else max(0.0, now - oldest)

    def purge(self) -> int:
        with self.engine.begin() as connection:
            return connection.execute(delete(T).where(T.c.queue == self.name)).rowcount
