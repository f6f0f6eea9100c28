"""The Partner Center tables: referrals (upserted by id), sync runs, and the reads the API, the
CLI and the dashboard need. Synchronous SQLAlchemy; the async sync calls it in a thread."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session

from shared.core.referrals import DOMAIN_MISSING, LINKED, ReferralError, referral_fields
from shared.store.models import LeadRow, ReferralRow, ScanJobItemRow, ScanJobRow, SyncRunRow, utcnow

KIND = "partner_center_referrals"
SCAN_SOURCE = "partner-center"
PENDING_SCAN_WINDOW = timedelta(hours=1)  # a queued scan older than this (its message lost) is queued again
COMPARED = [c.key for c in ReferralRow.__table__.columns if c.key not in ("first_seen_at", "synced_at")]


@dataclass
class PageResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # items without an id
    domain_missing: set[str] = field(default_factory=set)  # referral ids without a company domain
    touched_domains: set[str] = field(default_factory=set)  # domains whose referrals changed (old and new)
    newest: datetime | None = None  # the largest updatedDateTime seen
    new_referrals: list[dict[str, Any]] = field(default_factory=list)  # the mapped fields of each created referral


def upsert_page(engine: Engine, items: Iterable[dict[str, Any]]) -> PageResult:
    """Insert new referrals, update changed ones, leave identical ones alone: one transaction.

    "Identical" compares every stored column, the raw JSON included, so re-reading a referral
    (the watermark's overlap, a page seen twice) writes nothing, not even ``synced_at``."""
    result = PageResult()
    now = utcnow()
    mapped: list[dict[str, Any]] = []
    for item in items:
        try:
            mapped.append(referral_fields(item))
        except ReferralError:
            result.skipped += 1
    if not mapped:
        return result
    with Session(engine) as session, session.begin():
        ids = list({fields["id"] for fields in mapped})
        existing = {row.id: row for row in session.scalars(select(ReferralRow).where(ReferralRow.id.in_(ids)))}
        for fields in mapped:
            if fields["updated_at"] and (result.newest is None or fields["updated_at"] > result.newest):
                result.newest = fields["updated_at"]
            if fields["link_status"] == DOMAIN_MISSING:
                result.domain_missing.add(fields["id"])
            else:
                result.domain_missing.discard(fields["id"])
            row = existing.get(fields["id"])
            if row is None:
                row = ReferralRow(**fields, first_seen_at=now, synced_at=now)
                session.add(row)
                existing[row.id] = row
                result.created += 1
                result.new_referrals.append(fields)
                if fields["domain"]:
                    result.touched_domains.add(fields["domain"])
                continue
            if all(getattr(row, key) == fields[key] for key in COMPARED):
                result.unchanged += 1
                continue
            if row.domain:
                result.touched_domains.add(row.domain)  # the referral may leave this lead
            if fields["domain"]:
                result.touched_domains.add(fields["domain"])
            for key in COMPARED:
                setattr(row, key, fields[key])
            row.synced_at = now
            result.updated += 1
    return result


# -- what the run does next --------------------------------------------------------------------------


def domains_to_scan(engine: Engine, now: datetime | None = None) -> list[tuple[str, str | None]]:
    """(domain, customer name) of linked referrals whose domain is not a lead yet and has no
    recent scan pending: new domains go to the bulk-scan queue once, and again only if that
    scan was lost (self-healing: nothing depends on the run that first saw the referral)."""
    since = (now or utcnow()) - PENDING_SCAN_WINDOW
    pending = (
        select(ScanJobItemRow.domain)
        .join(ScanJobRow, ScanJobRow.id == ScanJobItemRow.job_id)
        .where(
            ScanJobRow.source == SCAN_SOURCE,
            ScanJobRow.created_at >= since,
            ScanJobItemRow.status == "queued",
            ScanJobItemRow.domain == ReferralRow.domain,
        )
    )
    query = (
        select(ReferralRow.domain, func.min(ReferralRow.customer_name))
        .where(
            ReferralRow.link_status == LINKED,
            ReferralRow.domain.is_not(None),
            ~exists().where(LeadRow.domain == ReferralRow.domain),
            ~pending.exists(),
        )
        .group_by(ReferralRow.domain)
        .order_by(ReferralRow.domain)
    )
    with Session(engine) as session:
        return [(domain, name) for domain, name in session.execute(query)]


def leads_to_rescore(engine: Engine, touched: set[str], rescanned_since: datetime | None) -> list[str]:
    """Leads whose referrals changed in this run, and referral-linked leads scanned again since
    ``rescanned_since`` (a scan scores without referrals; the run puts them back). ``None``: all."""
    with Session(engine) as session:
        found: set[str] = set()
        if touched:
            found.update(session.scalars(select(LeadRow.domain).where(LeadRow.domain.in_(sorted(touched)))))
        linked = select(LeadRow.domain).where(exists().where(ReferralRow.domain == LeadRow.domain))
        if rescanned_since is not None:
            linked = linked.where(LeadRow.scanned_at >= rescanned_since)
        found.update(session.scalars(linked))
    return sorted(found)


def referral_rows_for(engine: Engine, domains: Iterable[str]) -> dict[str, list[ReferralRow]]:
    names = sorted(set(domains))
    if not names:
        return {}
    grouped: dict[str, list[ReferralRow]] = {name: [] for name in names}
    with Session(engine) as session:
        for row in session.scalars(select(ReferralRow).where(ReferralRow.domain.in_(names))):
            grouped[row.domain].append(row)  # type: ignore[index]
    return grouped


def update_lead_score(engine: Engine, domain: str, values: dict[str, Any]) -> bool:
    """Write the score columns ``values`` to the lead if any differs; True when it did."""
    table = LeadRow.__table__
    with engine.begin() as connection:
        row = connection.execute(select(*(table.c[key] for key in values)).where(table.c.domain == domain)).first()
        if row is None or all(row._mapping[key] == value for key, value in values.items()):
            return False
        connection.execute(update(table).where(table.c.domain == domain).values(**values))
    return True


# -- runs -----------------------------------------------------------------------------------------------


def start_run(engine: Engine, trigger: str, *, status: str = "running", error: str | None = None) -> int:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        row = SyncRunRow(
            kind=KIND,
            trigger=trigger,
            started_at=utcnow(),
            status=status,
            pages=0,
            fetched=0,
            created=0,
            updated=0,
            unchanged=0,
            domain_missing=0,
            scans_queued=0,
            error=error,
        )
        if status != "running":
            row.finished_at = row.started_at
        session.add(row)
    return row.id


def update_run(engine: Engine, run_id: int, **values: Any) -> None:
    """Progress while running (the dashboard shows it) and the outcome at the end."""
    with engine.begin() as connection:
        connection.execute(update(SyncRunRow).where(SyncRunRow.id == run_id).values(**values))


def interrupt_stale_runs(engine: Engine, current: int) -> None:
    """Runs still "running" when the lease is ours died with their process: say so."""
    with engine.begin() as connection:
        connection.execute(
            update(SyncRunRow)
            .where(SyncRunRow.kind == KIND, SyncRunRow.status == "running", SyncRunRow.id != current)
            .values(status="failed", finished_at=utcnow(), error="interrupted (the process running it stopped)")
        )


def last_success(engine: Engine) -> SyncRunRow | None:
    with Session(engine) as session:
        return session.scalar(
            select(SyncRunRow)
            .where(SyncRunRow.kind == KIND, SyncRunRow.status == "ok")
            .order_by(SyncRunRow.id.desc())
            .limit(1)
        )


def last_run(engine: Engine, *, include_skipped: bool = False) -> SyncRunRow | None:
    query = select(SyncRunRow).where(SyncRunRow.kind == KIND)
    if not include_skipped:
        query = query.where(SyncRunRow.status != "skipped")
    with Session(engine) as session:
        return session.scalar(query.order_by(SyncRunRow.id.desc()).limit(1))


def get_run(engine: Engine, run_id: int) -> SyncRunRow | None:
    with Session(engine) as session:
        return session.get(SyncRunRow, run_id)


# -- reads ----------------------------------------------------------------------------------------------


@dataclass
class ReferralFilter:
    link_status: list[str] = field(default_factory=list)
    type: list[str] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    domain: str | None = None
    q: str | None = None
    updated_since: datetime | None = None
    limit: int = 50
    offset: int = 0


def list_referrals(engine: Engine, f: ReferralFilter) -> tuple[list[ReferralRow], int]:
    """A page of referrals, newest update first (ties on the id), and the total matching."""
    conditions = []
    if f.link_status:
        conditions.append(ReferralRow.link_status.in_(f.link_status))
    if f.type:
        conditions.append(func.lower(ReferralRow.type).in_([t.lower() for t in f.type]))
    if f.status:
        conditions.append(func.lower(ReferralRow.status).in_([s.lower() for s in f.status]))
    if f.domain:
        conditions.append(ReferralRow.domain == f.domain)
    if f.q:
        pattern = "%" + f.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(
            or_(
                func.lower(ReferralRow.customer_name).like(pattern, escape="\\"),
                func.lower(ReferralRow.name).like(pattern, escape="\\"),
                ReferralRow.domain.like(pattern, escape="\\"),
            )
        )
    if f.updated_since:
        conditions.append(ReferralRow.updated_at >= f.updated_since)
    where = and_(*conditions) if conditions else None
    page = select(ReferralRow)
    count = select(func.count()).select_from(ReferralRow)
    if where is not None:
        page, count = page.where(where), count.where(where)
    page = page.order_by(ReferralRow.updated_at.desc().nulls_last(), ReferralRow.id).limit(f.limit).offset(f.offset)
    with Session(engine) as session:
        return list(session.scalars(page)), session.scalar(count) or 0


def get_referral(engine: Engine, referral_id: str) -> ReferralRow | None:
    with Session(engine) as session:
        return session.get(ReferralRow, referral_id)


def referrals_for_domain(engine: Engine, domain: str) -> list[ReferralRow]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(ReferralRow)
                .where(ReferralRow.domain == domain)
                .order_by(ReferralRow.updated_at.desc().nulls_last(), ReferralRow.id)
            )
        )


def counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        rows = dict(
            session.execute(select(ReferralRow.link_status, func.count()).group_by(ReferralRow.link_status)).all()
        )
    return {"total": sum(rows.values()), LINKED: rows.get(LINKED, 0), DOMAIN_MISSING: rows.get(DOMAIN_MISSING, 0)}
