"""Dynamics 365 push state, one ``d365_sync`` row per pushed lead (none = ``not_synced``):
``queued`` → ``synced`` (with Dataverse's ``leadid``) or ``failed`` (with the Dataverse error)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from shared.store.db import upsert
from shared.store.models import D365SyncRow, DomainRow, LeadRow, utcnow

REQUEUE_AFTER = timedelta(hours=1)  # a lead "queued" longer than this (its message lost) may be queued again
SYNC = D365SyncRow.__table__


def mark_queued(engine: Engine, domains: Iterable[str]) -> list[str]:
    """Mark the known leads among ``domains`` as queued; return those that were not queued
    already (only they get a message: pushing the same lead twice before it runs pushes once)."""
    names = sorted(set(domains))
    if not names:
        return []
    now = utcnow()
    with engine.begin() as connection:
        ids = dict(
            connection.execute(
                select(DomainRow.name, DomainRow.id)
                .join(LeadRow, LeadRow.domain_id == DomainRow.id)
                .where(DomainRow.name.in_(names))
            ).all()
        )
        if not ids:
            return []
        stmt = upsert(connection, SYNC).values(
            [{"domain_id": i, "domain": n, "status": "queued", "queued_at": now} for n, i in ids.items()]
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["domain_id"],
            set_={"status": "queued", "queued_at": now},
            where=(SYNC.c.status != "queued") | (SYNC.c.queued_at < now - REQUEUE_AFTER),
        ).returning(SYNC.c.domain)
        return sorted(connection.scalars(stmt))


def known_leads(engine: Engine, domains: Iterable[str]) -> set[str]:
    wanted = list(set(domains))
    if not wanted:
        return set()
    with Session(engine) as session:
        return set(session.scalars(select(LeadRow.domain).where(LeadRow.domain.in_(wanted))))


def sync_states(engine: Engine, domains: Iterable[str]) -> dict[str, D365SyncRow]:
    names = list(set(domains))
    if not names:
        return {}
    with Session(engine) as session:
        return {row.domain: row for row in session.scalars(select(D365SyncRow).where(D365SyncRow.domain.in_(names)))}


def failed_domains(engine: Engine, domains: Iterable[str] | None = None) -> set[str]:
    """The leads whose last push failed (among ``domains`` when given)."""
    query = select(D365SyncRow.domain).where(D365SyncRow.status == "failed")
    if domains is not None:
        query = query.where(D365SyncRow.domain.in_(list(domains)))
    with Session(engine) as session:
        return set(session.scalars(query))


def record(engine: Engine, domain: str, **values: Any) -> None:
    """Write a push's outcome (status, lead id and url, last error, what was pushed) to the lead's row."""
    with engine.begin() as connection:
        connection.execute(update(SYNC).where(SYNC.c.domain == domain).values(**values))


def lead_with_company(engine: Engine, domain: str) -> tuple[LeadRow | None, str | None]:
    with Session(engine) as session:
        row = session.execute(
            select(LeadRow, DomainRow.company_name)
            .join(DomainRow, DomainRow.id == LeadRow.domain_id)
            .where(LeadRow.domain == domain)
        ).first()
    return (row[0], row[1]) if row else (None, None)


def push_counts(engine: Engine) -> dict[str, Any]:
    """Leads by push state, the last success and the newest failure (for health and the dashboard)."""
    with Session(engine) as session:
        counts = dict(session.execute(select(D365SyncRow.status, func.count()).group_by(D365SyncRow.status)).all())
        last_synced = session.scalar(select(func.max(D365SyncRow.synced_at)))
        failed = session.scalar(
            select(D365SyncRow).where(D365SyncRow.status == "failed").order_by(D365SyncRow.queued_at.desc()).limit(1)
        )
    return {
        "counts": {k: counts.get(k, 0) for k in ("queued", "synced", "failed")},
        "last_synced_at": last_synced.isoformat() if last_synced else None,
        "last_error": {"domain": failed.domain, "error": failed.last_error} if failed else None,
    }
