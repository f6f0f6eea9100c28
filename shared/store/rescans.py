"""Which leads are due for a rescan, and the rescan timer's runs (``sync_runs`` rows of kind ``rescan``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, and_, false, or_, select
from sqlalchemy.orm import Session

from shared.core.rescans import PRIORITIES, RescanPolicy
from shared.core.results import TRANSIENT
from shared.store.models import DomainRow, LeadRow, SyncRunRow, utcnow
from shared.store.queries import LeadFilter, list_query

KIND = "rescan"


def due_leads(engine: Engine, policy: RescanPolicy, now: datetime, limit: int) -> list[tuple[str, str | None]]:
    """(domain, company) of the leads due at ``now``, hottest first, then the longest unscanned."""
    failed = [status.value for status in TRANSIENT]
    by_priority = [
        and_(LeadRow.priority_category == priority, LeadRow.scanned_at <= now - policy.interval_for(priority))
        for priority in PRIORITIES
    ]
    unscored = and_(
        or_(LeadRow.priority_category.is_(None), LeadRow.priority_category.not_in(PRIORITIES)),
        LeadRow.scanned_at <= now - policy.unscored,
    )
    retry = and_(LeadRow.status.in_(failed), LeadRow.scanned_at <= now - policy.failed_retry)
    query = (
        select(LeadRow.domain, DomainRow.company_name)
        .join(DomainRow, DomainRow.id == LeadRow.domain_id)
        .where(or_(false(), *by_priority, unscored, retry))
        .order_by(LeadRow.priority_score.desc().nulls_last(), LeadRow.scanned_at, LeadRow.domain)
        .limit(limit)
    )
    with Session(engine) as session:
        return [(domain, company) for domain, company in session.execute(query)]


def matching_leads(engine: Engine, lead_filter: LeadFilter, limit: int) -> list[tuple[str, str | None]]:
    """(domain, company) of every lead the list filters match (an empty filter: every lead), up to ``limit``."""
    query = list_query(lead_filter.model_copy(update={"limit": 500, "offset": 0}), engine.dialect.name)
    rows = query.with_only_columns(LeadRow.domain, DomainRow.company_name).limit(limit).offset(None)
    with Session(engine) as session:
        return [(domain, company) for domain, company in session.execute(rows)]


def leads_named(engine: Engine, domains: list[str]) -> list[tuple[str, str | None]]:
    """(domain, company) of the leads among ``domains`` (500 names per statement)."""
    found: list[tuple[str, str | None]] = []
    with Session(engine) as session:
        for start in range(0, len(domains), 500):
            chunk = domains[start : start + 500]
            query = (
                select(LeadRow.domain, DomainRow.company_name)
                .join(DomainRow, DomainRow.id == LeadRow.domain_id)
                .where(LeadRow.domain.in_(chunk))
            )
            found.extend((domain, company) for domain, company in session.execute(query))
    return found


def record_run(
    engine: Engine, trigger: str, status: str, *, due: int = 0, submitted: int = 0, error: str | None = None
) -> None:
    now = utcnow()
    with Session(engine) as session, session.begin():
        session.add(
            SyncRunRow(
                kind=KIND,
                trigger=trigger,
                started_at=now,
                finished_at=now,
                status=status,
                fetched=due,
                scans_queued=submitted,
                error=error,
            )
        )


def last_run(engine: Engine) -> SyncRunRow | None:
    with Session(engine) as session:
        return session.scalar(
            select(SyncRunRow).where(SyncRunRow.kind == KIND).order_by(SyncRunRow.id.desc()).limit(1)
        )
