"""Alert events, subscriptions and deliveries in the store.

An event is stored once under its stable id (``insert … on conflict do nothing``); a delivery is one
(subscription, event) pair, unique, so an event reaches a subscription once however often the scan
that made it, or the queue message that carries it, is redelivered.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, case, delete, select, update
from sqlalchemy.orm import Session

from shared.store.db import upsert
from shared.store.models import DeliveryRow, LeadRow, NotificationEventRow, SubscriptionRow, utcnow
from shared.store.queries import LeadFilter, count_query

EVENTS = NotificationEventRow.__table__
DELIVERIES = DeliveryRow.__table__


def store_events(engine: Engine, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Store ``events`` ({type, timestamp, data: {event_id, domain, …}}); return the ones not stored before."""
    if not events:
        return []
    rows = [
        {
            "id": e["data"]["event_id"],
            "type": e["type"],
            "domain": e["data"].get("domain"),
            "occurred_at": datetime.fromisoformat(e["timestamp"]),
            "payload": e,
        }
        for e in events
    ]
    with engine.begin() as connection:
        inserted = set(
            connection.scalars(upsert(connection, EVENTS).values(rows).on_conflict_do_nothing().returning(EVENTS.c.id))
        )
    return [e for e in events if e["data"]["event_id"] in inserted]


def event(engine: Engine, event_id: str) -> dict[str, Any] | None:
    with engine.connect() as connection:
        return connection.scalar(select(EVENTS.c.payload).where(EVENTS.c.id == event_id))


def events_between(engine: Engine, start: datetime, end: datetime) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.scalars(
            select(EVENTS.c.payload)
            .where(EVENTS.c.occurred_at >= start, EVENTS.c.occurred_at < end)
            .order_by(EVENTS.c.occurred_at.desc())
        )
        return list(rows)


# -- subscriptions ----------------------------------------------------------------------------------


def create_subscription(engine: Engine, **values: Any) -> SubscriptionRow:
    row = SubscriptionRow(id=secrets.token_hex(8), created_at=utcnow(), enabled=True, **values)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        session.add(row)
    return row


def subscriptions(engine: Engine, *, enabled_only: bool = False) -> list[SubscriptionRow]:
    query = select(SubscriptionRow).order_by(SubscriptionRow.created_at, SubscriptionRow.id)
    if enabled_only:
        query = query.where(SubscriptionRow.enabled.is_(True))
    with Session(engine) as session:
        return list(session.scalars(query))


def subscription(engine: Engine, subscription_id: str) -> SubscriptionRow | None:
    with Session(engine) as session:
        return session.get(SubscriptionRow, subscription_id)


def delete_subscription(engine: Engine, subscription_id: str) -> bool:
    with engine.begin() as connection:
        return connection.execute(delete(SubscriptionRow).where(SubscriptionRow.id == subscription_id)).rowcount > 0


def disable_subscription(engine: Engine, subscription_id: str, reason: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(SubscriptionRow)
            .where(SubscriptionRow.id == subscription_id)
            .values(enabled=False, disabled_reason=reason[:300])
        )


def set_last_digest(engine: Engine, subscription_id: str, at: datetime) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(SubscriptionRow).where(SubscriptionRow.id == subscription_id).values(last_digest_at=at)
        )


def lead_matches(engine: Engine, lead_filter: dict[str, Any], domain: str | None) -> bool:
    """Whether the lead of ``domain`` matches the subscription's lead-list filters (none: every lead)."""
    if not lead_filter:
        return True
    if not domain:
        return False
    query = count_query(LeadFilter.model_validate(lead_filter), engine.dialect.name).where(LeadRow.domain == domain)
    with engine.connect() as connection:
        return bool(connection.scalar(query))


# -- deliveries -------------------------------------------------------------------------------------


def queue_deliveries(engine: Engine, pairs: Iterable[tuple[str, str]]) -> list[int]:
    """Create a ``queued`` delivery per (subscription id, event id) not seen before; return their ids."""
    now = utcnow()
    rows = [
        {"subscription_id": s, "event_id": e, "status": "queued", "attempts": 0, "created_at": now, "updated_at": now}
        for s, e in dict.fromkeys(pairs)
    ]
    if not rows:
        return []
    with engine.begin() as connection:
        statement = upsert(connection, DELIVERIES).values(rows).on_conflict_do_nothing().returning(DELIVERIES.c.id)
        return sorted(connection.scalars(statement))


def delivery(engine: Engine, delivery_id: int) -> tuple[DeliveryRow, SubscriptionRow] | None:
    with Session(engine) as session:
        row = session.execute(
            select(DeliveryRow, SubscriptionRow)
            .join(SubscriptionRow, SubscriptionRow.id == DeliveryRow.subscription_id)
            .where(DeliveryRow.id == delivery_id)
        ).first()
    return (row[0], row[1]) if row else None


def update_delivery(engine: Engine, delivery_id: int, **values: Any) -> None:
    values.setdefault("updated_at", utcnow())
    with engine.begin() as connection:
        connection.execute(update(DeliveryRow).where(DeliveryRow.id == delivery_id).values(**values))


def delete_delivery(engine: Engine, delivery_id: int) -> None:
    with engine.begin() as connection:
        connection.execute(delete(DeliveryRow).where(DeliveryRow.id == delivery_id))


def count_attempt(engine: Engine, delivery_id: int) -> int:
    with engine.begin() as connection:
        connection.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id == delivery_id)
            .values(attempts=DeliveryRow.attempts + 1, updated_at=utcnow())
        )
        return connection.scalar(select(DeliveryRow.attempts).where(DeliveryRow.id == delivery_id)) or 0


def deliveries(engine: Engine, subscription_id: str | None, limit: int = 100) -> list[DeliveryRow]:
    """The delivery log, failures first, then newest first."""
    failed_first = case((DeliveryRow.status == "delivered", 1), else_=0)
    query = select(DeliveryRow).order_by(failed_first, DeliveryRow.updated_at.desc(), DeliveryRow.id.desc())
    if subscription_id is not None:
        query = query.where(DeliveryRow.subscription_id == subscription_id)
    with Session(engine) as session:
        return list(session.scalars(query.limit(limit)))
