"""Lead listing: filters as bound parameters, sorting only by whitelisted keys.

Shared by ``hunter leads`` and (later) the HTTP API, so both accept exactly the same
filters and sort keys.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Select, func, literal_column, select, table

from shared.store.models import DomainRow, LeadRow
from shared.text import fold

# Public sort key -> column; "-" prefix sorts descending. Ties break on the domain name.
SORT_KEYS = {
    "score": LeadRow.score,
    "priority": LeadRow.priority_score,
    "domain": LeadRow.domain,
    "scanned_at": LeadRow.scanned_at,
    "changed_at": LeadRow.changed_at,
    "provider": LeadRow.provider,
}
DEFAULT_SORT = "-priority"
MAX_OFFSET = 10_000_000  # databases store 64-bit integers; fuzzed offsets beyond that must be a 422, not a crash
NULLABLE_SORT_KEYS = {"changed_at", "provider"}


class LeadFilter(BaseModel):
    segment: list[str] = Field(default_factory=list)
    provider: list[str] = Field(default_factory=list)
    priority: list[str] = Field(default_factory=list)  # P1..P6
    commercial_segment: list[str] = Field(default_factory=list)
    status: list[str] = Field(default_factory=list)
    min_score: int | None = Field(None, ge=0, le=100)
    max_score: int | None = Field(None, ge=0, le=100)
    q: str | None = Field(None, max_length=253, description="substring of the domain or company name")
    changed_since: datetime | None = None
    sort: str = DEFAULT_SORT
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)

    @field_validator("segment", "provider", "priority", "commercial_segment", "status", mode="before")
    @classmethod
    def _lists(cls, value: object) -> object:
        """Query strings give one value as text: accept ``P1``, ``P1,P2`` and repeated keys alike."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            return [part.strip() for item in value for part in str(item).split(",") if part.strip()]
        return value

    @field_validator("sort")
    @classmethod
    def _known_sort(cls, value: str) -> str:
        if value.lstrip("-") not in SORT_KEYS:
            raise ValueError(
                f"unknown sort key {value!r}; use one of {', '.join(sorted(SORT_KEYS))} (prefix - to reverse)"
            )
        return value

    @field_validator("priority")
    @classmethod
    def _priorities(cls, value: list[str]) -> list[str]:
        bad = [p for p in value if p.upper() not in {f"P{i}" for i in range(1, 7)}]
        if bad:
            raise ValueError(f"priority must be P1..P6, got {', '.join(bad)}")
        return [p.upper() for p in value]


def _search(needle: str, dialect: str) -> object:
    """Leads whose folded names (domain, U-label, company) contain ``needle``, via a trigram index."""
    if dialect == "sqlite":
        if len(needle) < 3:  # shorter than a trigram: a plain scan, literal (no LIKE wildcards)
            return LeadRow.domain_id.in_(select(DomainRow.id).where(func.instr(DomainRow.search_text, needle) > 0))
        # The FTS5 trigram table of migration 0003: a quoted phrase is a literal substring match.
        phrase = '"' + needle.replace('"', '""') + '"'
        match = literal_column("domains_search").op("MATCH")(phrase)
        ids = select(literal_column("rowid")).select_from(table("domains_search")).where(match)
        return LeadRow.domain_id.in_(ids)
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    ids = select(DomainRow.id).where(DomainRow.search_text.like(f"%{escaped}%", escape="\\"))  # pg_trgm GIN
    return LeadRow.domain_id.in_(ids)


def _filtered(f: LeadFilter, *columns: object, dialect: str = "sqlite") -> Select:
    query = select(*(columns or (LeadRow,)))
    for column, values in (
        (LeadRow.segment, f.segment),
        (LeadRow.provider, f.provider),
        (LeadRow.priority_category, f.priority),
        (LeadRow.commercial_segment, f.commercial_segment),
        (LeadRow.status, f.status),
    ):
        if values:
            query = query.where(column.in_(values))
    if f.min_score is not None:
        query = query.where(LeadRow.score >= f.min_score)
    if f.max_score is not None:
        query = query.where(LeadRow.score <= f.max_score)
    if f.changed_since is not None:
        query = query.where(LeadRow.changed_at >= f.changed_since)
    if f.q:
        # Folded on both sides: case, accents and the Turkish dotted/dotless i do not matter.
        query = query.where(_search(fold(f.q), dialect))
    return query


# What a lead list shows: plain columns, not ORM objects (no JSON breakdown, no identity map).
LIST_FIELDS = (
    "domain",
    "status",
    "provider",
    "local_provider",
    "gateway",
    "score",
    "segment",
    "commercial_segment",
    "priority_category",
    "priority_score",
    "dmarc_policy",
    "dmarc_pct",
    "spf_valid",
    "dkim_found",
    "tenant_domain",
    "tenant_size",
    "scan_count",
    "scanned_at",
    "changed_at",
)
LIST_COLUMNS = (
    *(getattr(LeadRow, name) for name in LIST_FIELDS),
    DomainRow.unicode_name.label("domain_unicode"),
    DomainRow.company_name,
)


def list_query(f: LeadFilter, dialect: str = "sqlite") -> Select:
    """Rows (``LIST_COLUMNS``) of one page, sorted by a whitelisted key.

    Ties break on the domain *in the same direction*, so that the (key, domain) index delivers
    the page in order on SQLite and PostgreSQL alike, without sorting thousands of tied rows.
    Keys that are never NULL skip NULLS LAST, which would also defeat the index.
    """
    key = f.sort.lstrip("-")
    column = SORT_KEYS[key]
    descending = f.sort.startswith("-")
    order = [column.desc() if descending else column.asc(), LeadRow.domain.desc() if descending else LeadRow.domain]
    if key in NULLABLE_SORT_KEYS:
        order[0] = order[0].nulls_last()
    query = _filtered(f, *LIST_COLUMNS, dialect=dialect).join(DomainRow, DomainRow.id == LeadRow.domain_id)
    return query.order_by(*order).limit(f.limit).offset(f.offset)


def count_query(f: LeadFilter, dialect: str = "sqlite") -> Select:
    return _filtered(f, func.count(LeadRow.domain_id), dialect=dialect)
