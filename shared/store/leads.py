"""Reads and writes of leads, snapshots and change events, in batches.

A batch of scan results is written in one transaction: upsert the domains, read the previous
snapshot of each (to detect changes), append the new snapshots, upsert the lead rows and
append the change events. Re-running the same batch appends snapshots but never duplicates a
domain or a lead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, Integer, Select, bindparam, case, delete, exists, func, or_, select
from sqlalchemy.orm import Session

from shared.core.models import ScanRecord
from shared.core.results import TRANSIENT, ScanResult
from shared.core.scoring import diff_records
from shared.core.technologies import joined as joined_technologies
from shared.core.text import clean_text, fold
from shared.store.db import session_factory, upsert
from shared.store.models import (
    ChangeEventRow,
    D365SyncRow,
    DomainRow,
    LeadRow,
    LeadTechnologyRow,
    ReferralRow,
    SnapshotRow,
    utcnow,
)
from shared.store.queries import (
    LIST_COLUMNS,
    SMALL_RESULT,
    After,
    LeadFilter,
    count_query,
    integration_columns,
    page_query,
)

Guard = Callable[[Session, list["ScanResult"]], list["ScanResult"]]
COUNT_CACHE_SECONDS = 5.0
# What a count depends on: the filters, not the sort, the page or a cursor.
COUNT_FIELDS = set(LeadFilter.model_fields) - {"sort", "limit", "offset"}


class TtlCache:
    """A tiny thread-safe cache with one time-to-live, cleared whenever this process writes."""

    def __init__(self, seconds: float, size: int = 1024) -> None:
        self.seconds = seconds
        self.size = size
        self._items: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            hit = self._items.get(key)
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            if len(self._items) >= self.size:
                self._items.clear()
            self._items[key] = (time.monotonic() + self.seconds, value)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass
class LeadPage:
    """One page of a lead list: ``LIST_COLUMNS`` dicts, the filter's total and whether more follow."""

    rows: list[dict[str, Any]]
    total: int
    more: bool


@dataclass
class LeadDetail:
    """One lead as the lead detail shows it (:meth:`LeadStore.lead_detail`)."""

    lead: dict[str, Any]  # LIST_FIELDS, domain_unicode, company_name, then INTEGRATION_FIELDS
    breakdown: list[dict[str, Any]]
    rules_version: str | None
    record: dict[str, Any] | None  # the newest usable snapshot's record, else the newest of all
    changes: list[dict[str, Any]]  # change events, newest first (the columns of ``CHANGE_FIELDS``)
    referrals: list[dict[str, Any]]  # Partner Center referrals (``referrals`` columns but ``raw``), newest first


class LeadStore:
    def __init__(self, engine: Engine, *, reads: Engine | None = None) -> None:
        """``reads``: the engine for the lead pages and lead detail (see ``db.read_engine_for``)."""
        self.engine = engine
        self.reads = reads or engine
        self.sessions = session_factory(engine)
        self._counts = TtlCache(seconds=COUNT_CACHE_SECONDS)

    # -- writes -------------------------------------------------------------------------

    def save(self, results: Sequence[ScanResult], *, guard: Guard | None = None) -> list[ScanResult]:
        """Persist a batch; fills ``result.events`` with what changed since the previous scan.

        ``guard`` runs first in the same transaction and returns the results still to be
        written: a bulk scan claims its job items there, so a batch delivered twice (or run
        twice at once) writes each snapshot exactly once. Returns what was written.
        """
        results = [r for r in results if r.record.domain]
        if not results and guard is None:
            return []
        now = utcnow()
        self._counts.clear()
        with self.sessions.begin() as session:
            if guard is not None:
                results = [r for r in guard(session, results) if r.record.domain]
                if not results:
                    return []
            ids = self._upsert_domains(session, results, now)
            previous = self._latest_records(session, list(ids.values()))
            snapshots = []
            events = []
            leads = []
            for result in results:
                record = result.record
                domain_id = ids[record.domain]  # type: ignore[index]
                before = previous.get(domain_id)
                result.events = diff_records(before, record)
                snapshots.append(
                    {
                        "domain_id": domain_id,
                        "scanned_at": record.scanned_at or now,
                        "collector_version": record.collector_version,
                        "status": record.status.value,
                        "record": record,  # serialised by the engine's json_serializer (db.json_text)
                    }
                )
                events.extend(
                    {
                        "domain_id": domain_id,
                        "domain": record.domain,
                        "kind": e.kind.value,
                        "before": e.before,
                        "after": e.after,
                        "summary": e.summary,
                        "meaning": e.meaning,
                        "at": record.scanned_at or now,
                    }
                    for e in result.events
                )
                # A flaky lookup must not wipe what a good earlier scan found.
                if before is None or record.status not in TRANSIENT:
                    leads.append(_lead_values(domain_id, result, changed=bool(result.events)))
                if record.status not in TRANSIENT:
                    previous[domain_id] = record  # the same domain twice in one batch
            # Core (table-level) inserts: executemany without the ORM's per-row bookkeeping.
            session.execute(upsert(session, SnapshotRow.__table__), snapshots)
            if events:
                session.execute(upsert(session, ChangeEventRow.__table__), events)
            if leads:
                self._upsert_leads(session, leads)
                self._replace_technologies(session, results, {lead["domain_id"] for lead in leads}, ids)
        return list(results)

    @staticmethod
    def _replace_technologies(
        session: Session, results: Sequence[ScanResult], written: set[int], ids: dict[str, int]
    ) -> None:
        """The ``lead_technologies`` rows of the leads just written: the newest scan's, and only those."""
        rows: dict[tuple[int, str], dict[str, Any]] = {}
        newest: dict[int, ScanResult] = {}
        for result in results:  # the same domain twice in a batch: the last written lead row wins
            domain_id = ids[result.record.domain]  # type: ignore[index]
            if domain_id in written and result.record.status not in TRANSIENT:
                newest[domain_id] = result
        for domain_id, result in newest.items():
            for tech in result.record.technologies:
                rows[(domain_id, tech.name)] = {"domain_id": domain_id, "name": tech.name, "category": tech.category}
        session.execute(delete(LeadTechnologyRow).where(LeadTechnologyRow.domain_id.in_(sorted(written))))
        if rows:  # two batches saving one domain at once: the second's rows are already there, not an error
            insert = upsert(session, LeadTechnologyRow.__table__).on_conflict_do_nothing(
                index_elements=["domain_id", "name"]
            )
            session.execute(insert, list(rows.values()))

    def _upsert_domains(self, session: Session, results: Sequence[ScanResult], now: datetime) -> dict[str, int]:
        rows: dict[str, dict[str, Any]] = {}
        for r in results:
            name, unicode_name = r.record.domain, r.record.domain_unicode or r.record.domain
            row = rows.setdefault(
                name, {"name": name, "unicode_name": unicode_name, "company_name": None, "first_seen_at": now}
            )
            row["company_name"] = clean_text(r.company_name, 200) or row["company_name"]
            row["search_text"] = fold(" ".join(filter(None, [name, unicode_name, row["company_name"]])))
        stmt = upsert(session, DomainRow.__table__)
        table = DomainRow.__table__
        # A later import may bring the company name an earlier one lacked; never erase one.
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={
                "company_name": func.coalesce(stmt.excluded.company_name, table.c.company_name),
                "search_text": case(
                    (stmt.excluded.company_name.is_not(None), stmt.excluded.search_text),
                    else_=func.coalesce(table.c.search_text, stmt.excluded.search_text),
                ),
            },
        )
        session.execute(stmt, list(rows.values()))
        found = session.execute(select(DomainRow.name, DomainRow.id).where(DomainRow.name.in_(rows)))
        return {name: domain_id for name, domain_id in found}

    @staticmethod
    def _latest_records(session: Session, domain_ids: list[int]) -> dict[int, ScanRecord]:
        # The newest *usable* snapshot: a timeout in between must not hide a real change.
        latest = (
            select(func.max(SnapshotRow.id))
            .where(SnapshotRow.domain_id.in_(domain_ids), SnapshotRow.status.not_in([s.value for s in TRANSIENT]))
            .group_by(SnapshotRow.domain_id)
        )
        rows = session.execute(select(SnapshotRow.domain_id, SnapshotRow.record).where(SnapshotRow.id.in_(latest)))
        return {domain_id: ScanRecord.model_validate(record) for domain_id, record in rows}

    def _upsert_leads(self, session: Session, leads: list[dict[str, Any]]) -> None:
        table = LeadRow.__table__
        stmt = upsert(session, table)
        updates = {c: stmt.excluded[c] for c in leads[0] if c not in ("domain_id", "scan_count", "changed_at")}
        updates["scan_count"] = table.c.scan_count + 1
        updates["changed_at"] = func.coalesce(stmt.excluded.changed_at, table.c.changed_at)
        # One statement per distinct domain: a batch may hold the same domain twice.
        by_domain = {lead["domain_id"]: lead for lead in leads}
        session.execute(
            stmt.on_conflict_do_update(index_elements=["domain_id"], set_=updates), list(by_domain.values())
        )

    # -- reads --------------------------------------------------------------------------

    def priorities(self, domains: list[str]) -> dict[str, str | None]:
        """The priority category of each known lead among ``domains`` (one indexed query)."""
        if not domains:
            return {}
        with self.sessions() as session:
            rows = session.execute(select(LeadRow.domain, LeadRow.priority_category).where(LeadRow.domain.in_(domains)))
            return {domain: priority for domain, priority in rows}

    def lead(self, domain: str) -> LeadRow | None:
        with self.sessions() as session:
            return session.scalar(select(LeadRow).where(LeadRow.domain == domain))

    def lead_detail(self, domain: str, *, changes: int = 50) -> LeadDetail | None:
        """A lead with its domain, integration state, newest snapshot, changes and referrals.

        One connection and, for most leads, one query: the lead row reads its newest snapshot
        and whether it has change events through correlated subqueries, and already counts its
        referrals, so the change events and the referrals are only queried for a lead that has
        some. Each extra query or connection checkout costs a round trip and a few hundred
        microseconds of driver and SQLAlchemy work, which on PostgreSQL through pg8000 was most
        of the request. The statements are built once per process; a request binds values only.
        """
        lead_statement, changes_statement, referrals_statement = _detail_statements()
        with self.reads.connect() as connection:  # Core rows: no ORM identity map or instances
            found = connection.execute(lead_statement, {"domain": domain}).mappings().first()
            if found is None:
                return None
            events = []
            if found["has_changes"]:
                result = connection.execute(changes_statement, {"domain_id": found["domain_id"], "limit": changes})
                events = [dict(row) for row in result.mappings()]
            referrals = []
            if found["referral_count"]:
                result = connection.execute(referrals_statement, {"domain": domain})
                referrals = [dict(row) for row in result.mappings()]
        lead = {key: found[key] for key in DETAIL_LEAD_FIELDS}
        lead["d365_sync_status"] = lead["d365_sync_status"] or "not_synced"
        return LeadDetail(
            lead=lead,
            breakdown=found["breakdown"] or [],
            rules_version=found["rules_version"],
            record=found["record"],
            changes=events,
            referrals=referrals,
        )

    def latest_record(self, domain: str, *, usable: bool = False) -> ScanRecord | None:
        """The newest snapshot's record; with ``usable`` the newest that was not a transient failure."""
        query = (
            select(SnapshotRow.record)
            .join(DomainRow, DomainRow.id == SnapshotRow.domain_id)
            .where(DomainRow.name == domain)
            .order_by(SnapshotRow.id.desc())
            .limit(1)
        )
        if usable:
            query = query.where(SnapshotRow.status.not_in([s.value for s in TRANSIENT]))
        with self.sessions() as session:
            row = session.scalar(query)
            return ScanRecord.model_validate(row) if row is not None else None

    def leads(self, lead_filter: LeadFilter) -> tuple[list[dict[str, Any]], int]:
        """One page of lead dicts (``LIST_COLUMNS``) and the total matching the filter."""
        page = self.lead_page(lead_filter)
        return page.rows, page.total

    def lead_page(self, lead_filter: LeadFilter, *, after: After | None = None) -> LeadPage:
        """One page from ``lead_filter.offset`` or after a keyset position: a count and one page query, no N+1.

        The exact total is remembered for a few seconds per filter (not per page, sort or
        cursor), so paging through 50,000 leads counts them once, not on every page. It also
        picks the page's plan: a small result set is sorted, a large one read in index order.
        """
        dialect = self.engine.dialect.name
        count_key = lead_filter.model_dump_json(include=COUNT_FIELDS)
        # Core on the read engine: no ORM bookkeeping, no transaction round trips on PostgreSQL.
        with self.reads.connect() as connection:  # (no parallel plans on PostgreSQL: see migration 0005)
            total = self._counts.get(count_key)
            if total is None:
                total = connection.execute(count_query(lead_filter, dialect)).scalar() or 0
                self._counts.put(count_key, total)
            page = page_query(lead_filter, dialect, after=after, small=total <= SMALL_RESULT)
            result = connection.execute(page.statement, page.parameters)
            names = tuple(result.keys())
            rows = [dict(zip(names, row, strict=True)) for row in result]
        page = rows[: lead_filter.limit]
        for row in page:  # the page statement read the integration fields (see attach_integrations)
            row["d365_sync_status"] = row["d365_sync_status"] or "not_synced"
        return LeadPage(page, total, more=len(rows) > lead_filter.limit)

    def attach_integrations(self, rows: list[dict[str, Any]]) -> None:
        """Add each lead's Dynamics 365 state and referral count: two indexed lookups for the page."""
        from shared.store.models import D365SyncRow, ReferralRow

        domains = [row["domain"] for row in rows]
        if not domains:
            return
        with self.sessions() as session:
            syncs = {r.domain: r for r in session.scalars(select(D365SyncRow).where(D365SyncRow.domain.in_(domains)))}
            referrals = dict(
                session.execute(
                    select(ReferralRow.domain, func.count())
                    .where(ReferralRow.domain.in_(domains))
                    .group_by(ReferralRow.domain)
                ).all()
            )
        for row in rows:
            row.update(d365_fields(syncs.get(row["domain"])))
            row["referral_count"] = referrals.get(row["domain"], 0)

    def lead_with_domain(self, domain: str) -> tuple[LeadRow, DomainRow] | tuple[None, None]:
        with self.sessions() as session:
            row = session.execute(
                select(LeadRow, DomainRow)
                .join(DomainRow, DomainRow.id == LeadRow.domain_id)
                .where(LeadRow.domain == domain)
            ).first()
        return (row[0], row[1]) if row else (None, None)

    def snapshot_count(self, domain: str) -> int:
        with self.sessions() as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(SnapshotRow)
                    .join(DomainRow, DomainRow.id == SnapshotRow.domain_id)
                    .where(DomainRow.name == domain)
                )
                or 0
            )

    def pipeline_counts(self) -> dict[str, Any]:
        """The dashboard's figures: the lead count, the average score and the leads by segment,
        provider, priority, commercial segment and technology (largest group first)."""
        with self.reads.connect() as connection:

            def counts(column: Any) -> list[dict[str, Any]]:
                rows = connection.execute(select(column, func.count()).group_by(column).order_by(func.count().desc()))
                return [{"key": key, "count": count} for key, count in rows]

            total = connection.scalar(select(func.count()).select_from(LeadRow)) or 0
            average = connection.scalar(select(func.avg(LeadRow.score)))
            return {
                "total": total,
                "average_score": round(float(average), 1) if average is not None else None,
                "by_segment": counts(LeadRow.segment),
                "by_provider": counts(LeadRow.provider),
                "by_priority": counts(LeadRow.priority_category),
                "by_commercial_segment": counts(LeadRow.commercial_segment),
                "by_technology": [  # off the (name, domain_id) index of lead_technologies
                    {"key": name, "count": count}
                    for name, count in connection.execute(
                        select(LeadTechnologyRow.name, func.count())
                        .group_by(LeadTechnologyRow.name)
                        .order_by(func.count().desc(), LeadTechnologyRow.name)
                    )
                ],
            }

    def events(
        self, domain: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[ChangeEventRow]:
        query = select(ChangeEventRow).order_by(ChangeEventRow.at.desc(), ChangeEventRow.id.desc()).limit(limit)
        if domain is not None:
            query = query.where(ChangeEventRow.domain == domain)
        if since is not None:
            query = query.where(ChangeEventRow.at >= since)
        with self.sessions() as session:
            return list(session.scalars(query))


# A change event as the API shows it, in this order.
CHANGE_FIELDS = ("kind", "before", "after", "summary", "meaning", "at")
# The lead of a lead detail, in this order: a list item's fields and its integration fields.
DETAIL_LEAD_FIELDS = (*(column.key for column in LIST_COLUMNS), *(column.key for column in integration_columns()))


@lru_cache(maxsize=1)
def _detail_statements() -> tuple[Select, Select, Select]:
    """The statements of :meth:`LeadStore.lead_detail`, with bound parameters ``domain``,
    ``domain_id`` and ``limit``: built (and compiled into SQLAlchemy's cache) once, not per request."""
    newest_snapshot = (  # the newest usable snapshot, else the newest (a lead whose every scan failed)
        select(SnapshotRow.record)
        .where(SnapshotRow.domain_id == LeadRow.domain_id)
        .order_by(or_(*(SnapshotRow.status == s.value for s in sorted(TRANSIENT))), SnapshotRow.id.desc())
        .limit(1)
        .correlate(LeadRow)
        .scalar_subquery()
    )
    has_changes = exists().where(ChangeEventRow.domain_id == LeadRow.domain_id).correlate(LeadRow)
    lead = (
        select(
            *LIST_COLUMNS,
            *integration_columns(),
            LeadRow.domain_id,
            LeadRow.breakdown,
            LeadRow.rules_version,
            newest_snapshot.label("record"),
            has_changes.label("has_changes"),
        )
        .join(DomainRow, DomainRow.id == LeadRow.domain_id)
        .outerjoin(D365SyncRow, D365SyncRow.domain_id == LeadRow.domain_id)
        .where(LeadRow.domain == bindparam("domain"))
    )
    changes = (  # through the (domain_id, at) index
        select(*(getattr(ChangeEventRow, name) for name in CHANGE_FIELDS))
        .where(ChangeEventRow.domain_id == bindparam("domain_id"))
        .order_by(ChangeEventRow.at.desc(), ChangeEventRow.id.desc())
        .limit(bindparam("limit", type_=Integer))
    )
    referrals = (
        select(*(column for column in ReferralRow.__table__.c if column.key != "raw"))
        .where(ReferralRow.domain == bindparam("domain"))
        .order_by(ReferralRow.updated_at.desc().nulls_last(), ReferralRow.id)
    )
    return lead, changes, referrals


def _lead_values(domain_id: int, result: ScanResult, *, changed: bool) -> dict[str, Any]:
    record, score = result.record, result.score
    return {
        "domain_id": domain_id,
        "domain": record.domain,
        "status": record.status.value,
        "error": record.error,
        "provider": record.provider,
        "local_provider": record.local_provider,
        "gateway": record.gateway,
        "mx_primary": record.mx[0].host if record.mx else None,
        "spf_valid": record.spf.valid if record.spf else None,
        "dkim_found": len(record.dkim_found),
        "dmarc_policy": record.dmarc.policy if record.dmarc else None,
        "dmarc_pct": record.dmarc.pct if record.dmarc else None,
        "tenant_domain": record.m365.tenant_domain,
        "tenant_size": record.tenant_size.band if record.tenant_size else None,
        "whois_expires": record.whois.expires if record.whois else None,
        "technologies": joined_technologies(record.technologies) or None,
        "score": score.score if score else None,
        "segment": score.segment.value if score else None,
        "commercial_segment": score.commercial_segment.value if score else None,
        "priority_category": score.priority_category if score else None,
        "priority_score": score.priority_score if score else None,
        "rules_version": score.rules_version if score else None,
        "breakdown": list(score.breakdown) if score else None,  # the models: db.json_text serialises them
        "scan_count": 1,
        "scanned_at": record.scanned_at or utcnow(),
        "changed_at": (record.scanned_at or utcnow()) if changed else None,
    }


INTEGRATION_FIELDS = (
    "d365_sync_status",
    "d365_lead_id",
    "d365_lead_url",
    "d365_synced_at",
    "d365_last_error",
    "referral_count",
)


def d365_fields(sync: Any) -> dict[str, Any]:
    """A lead's Dynamics 365 fields from its ``d365_sync`` row (None = never pushed)."""
    if sync is None:
        return {
            "d365_sync_status": "not_synced",
            "d365_lead_id": None,
            "d365_lead_url": None,
            "d365_synced_at": None,
            "d365_last_error": None,
        }
    return {
        "d365_sync_status": sync.status,
        "d365_lead_id": sync.lead_id,
        "d365_lead_url": sync.lead_url,
        "d365_synced_at": sync.synced_at,
        "d365_last_error": sync.last_error,
    }
