"""Lead listing: filters as bound parameters, sorting only by whitelisted keys.

Shared by ``hunter leads``, ``GET /api/v1/leads`` and the export, so all accept exactly the same
filters and sort keys. A page of the list (:func:`page_query`) stays an index read at 100,000
leads and more; see its docstring for how.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    bindparam,
    case,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    tuple_,
    union_all,
)

from shared.core.models import ScanStatus
from shared.core.providers import PROVIDERS
from shared.core.referrals import REFERRAL_TYPES
from shared.core.scoring import CommercialSegment, Segment
from shared.core.technologies import technology_names
from shared.core.text import fold
from shared.store.models import (
    FILTER_INDEXES,
    FILTER_SORT_INDEXES,
    SORT_INDEXES,
    D365SyncRow,
    DomainRow,
    LeadRow,
    LeadTechnologyRow,
    ReferralRow,
)

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
# At most this many matching leads are simply sorted (a few milliseconds); larger sets are read in
# index order (see page_query). The count that decides is the page's `total`, needed anyway.
SMALL_RESULT = 3000

# Query parameter -> the column it filters.
FILTER_COLUMNS = {
    "segment": LeadRow.segment,
    "provider": LeadRow.provider,
    "priority": LeadRow.priority_category,
    "commercial_segment": LeadRow.commercial_segment,
    "status": LeadRow.status,
}


MAX_FILTER_VALUES = 20  # values per list filter: more is a 422, not a 700-branch UNION ALL


def known_values(values: list[str], allowed: tuple[str, ...], field: str) -> list[str]:
    """``values`` without repeats, each matched case-insensitively to its spelling in ``allowed``;
    a ValueError names the first unknown value and the values allowed (422 at the API)."""
    canonical = {value.lower(): value for value in allowed}
    out: list[str] = []
    for value in values:
        known = canonical.get(value.strip().lower())
        if known is None:
            shown = value if len(value) <= 40 else value[:39] + "…"
            raise ValueError(f"unknown {field} {shown!r}; use {', '.join(allowed)}")
        if known not in out:
            out.append(known)
    if len(out) > MAX_FILTER_VALUES:
        raise ValueError(f"at most {MAX_FILTER_VALUES} {field} values at once, got {len(out)}")
    return out


def _enum_values(enum: type) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


# What each list filter may hold: the classifier's providers, the rules' segments, the scan statuses,
# Partner Center's referral types, the vendors of technologies.yaml.
FILTER_VALUES: dict[str, tuple[str, ...]] = {
    "segment": _enum_values(Segment),
    "provider": PROVIDERS,
    "priority": tuple(f"P{i}" for i in range(1, 7)),
    "commercial_segment": _enum_values(CommercialSegment),
    "status": _enum_values(ScanStatus),
    "referral_type": REFERRAL_TYPES,
    "tech": technology_names(),
}


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
    d365_sync_status: list[Literal["not_synced", "queued", "synced", "failed"]] = Field(default_factory=list)
    has_referral: bool | None = Field(None, description="only leads with (true) or without (false) a referral")
    referral_type: list[str] = Field(default_factory=list, description="Partner Center referral types")
    tech: list[str] = Field(
        default_factory=list,
        description="technologies seen in the lead's DNS (any of them), e.g. `Zoom` or `Salesforce,HubSpot`; "
        "names as in `technologies` (case-insensitive)",
    )
    sort: str = DEFAULT_SORT
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)

    @field_validator(
        "segment",
        "provider",
        "priority",
        "commercial_segment",
        "status",
        "d365_sync_status",
        "referral_type",
        "tech",
        mode="before",
    )
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

    @field_validator(*FILTER_VALUES)
    @classmethod
    def _known(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return known_values(value, FILTER_VALUES[info.field_name], info.field_name.replace("_", " "))


def _search_mode(needle: str, dialect: str) -> str:
    if dialect != "sqlite":
        return "like"  # pg_trgm GIN
    return "instr" if len(needle) < 3 else "fts"  # shorter than a trigram: a plain scan


def _search_value(needle: str, mode: str) -> str:
    if mode == "fts":  # the FTS5 trigram table of migration 0003: a quoted phrase is a literal substring
        return '"' + needle.replace('"', '""') + '"'
    if mode == "like":
        return "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return needle  # instr: literal, no wildcards


def _search(mode: str, value: str) -> ColumnElement[bool]:
    """Leads whose folded names (domain, U-label, company) contain the needle, via a trigram index."""
    needle = bindparam("f_q", value)
    if mode == "fts":
        match = literal_column("domains_search").op("MATCH")(needle)
        return LeadRow.domain_id.in_(select(literal_column("rowid")).select_from(table("domains_search")).where(match))
    if mode == "instr":
        return LeadRow.domain_id.in_(select(DomainRow.id).where(func.instr(DomainRow.search_text, needle) > 0))
    return LeadRow.domain_id.in_(select(DomainRow.id).where(DomainRow.search_text.like(needle, escape="\\")))


def _values(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))  # P1,P1 is P1


def _parameters(lead_filter: LeadFilter, dialect: str, split: str | None = None) -> dict[str, Any]:
    """The filters' values under the names :func:`_conditions` binds them to."""
    params: dict[str, Any] = {}
    for name in FILTER_COLUMNS:
        values = _values(getattr(lead_filter, name))
        if values and name == split:
            params.update({f"f_{name}_{i}": value for i, value in enumerate(values)})
        elif values:
            params[f"f_{name}"] = values
    for name in ("min_score", "max_score", "changed_since"):
        if getattr(lead_filter, name) is not None:
            params[f"f_{name}"] = getattr(lead_filter, name)
    if lead_filter.q:
        needle = fold(
            lead_filter.q
        )  # folded on both sides: case, accents and the Turkish dotted/dotless i do not matter
        params["f_q"] = _search_value(needle, _search_mode(needle, dialect))
    if lead_filter.tech:
        params["f_tech"] = _values(lead_filter.tech)
    return params


def _conditions(
    lead_filter: LeadFilter, dialect: str, split: str | None = None, branch: int = 0
) -> list[ColumnElement[bool]]:
    """The filters as conditions on named bound parameters; ``split`` keeps only value ``branch`` of that list."""
    params = _parameters(lead_filter, dialect, split)
    conditions: list[ColumnElement[bool]] = []
    for name, column in FILTER_COLUMNS.items():
        if name == split:
            key = f"f_{name}_{branch}"
            conditions.append(column == bindparam(key, params[key]))
        elif f"f_{name}" in params:
            conditions.append(column.in_(bindparam(f"f_{name}", params[f"f_{name}"], expanding=True)))
    if lead_filter.min_score is not None:
        conditions.append(LeadRow.score >= bindparam("f_min_score", lead_filter.min_score))
    if lead_filter.max_score is not None:
        conditions.append(LeadRow.score <= bindparam("f_max_score", lead_filter.max_score))
    if lead_filter.changed_since is not None:
        conditions.append(LeadRow.changed_at >= bindparam("f_changed_since", lead_filter.changed_since))
    if lead_filter.q:
        needle = fold(lead_filter.q)
        conditions.append(_search(_search_mode(needle, dialect), params["f_q"]))
    if lead_filter.tech:  # a semi-join on the (name, domain_id) index of lead_technologies
        names = bindparam("f_tech", params["f_tech"], expanding=True)
        conditions.append(
            LeadRow.domain_id.in_(select(LeadTechnologyRow.domain_id).where(LeadTechnologyRow.name.in_(names)))
        )
    conditions.extend(_integration_conditions(lead_filter))
    return conditions


def _integration_conditions(lead_filter: LeadFilter) -> list[ColumnElement[bool]]:
    """Dynamics 365 state and Partner Center referrals: semi-joins on their own indexed tables."""
    from shared.store.models import D365SyncRow, ReferralRow

    conditions: list[ColumnElement[bool]] = []
    if lead_filter.d365_sync_status:
        wanted = [s for s in lead_filter.d365_sync_status if s != "not_synced"]
        either = []
        if wanted:
            either.append(
                LeadRow.domain_id.in_(
                    select(D365SyncRow.domain_id).where(
                        D365SyncRow.status.in_(bindparam("f_d365", wanted, expanding=True))
                    )
                )
            )
        if "not_synced" in lead_filter.d365_sync_status:
            either.append(~exists().where(D365SyncRow.domain_id == LeadRow.domain_id))
        conditions.append(or_(*either))
    if lead_filter.has_referral is not None or lead_filter.referral_type:
        referral = exists().where(ReferralRow.domain == LeadRow.domain)
        if lead_filter.referral_type:
            referral = exists().where(
                ReferralRow.domain == LeadRow.domain,
                ReferralRow.type.in_(bindparam("f_referral_type", lead_filter.referral_type, expanding=True)),
            )
        conditions.append(~referral if lead_filter.has_referral is False else referral)
    return conditions


def _filtered(lead_filter: LeadFilter, *columns: object, dialect: str = "sqlite") -> Select:
    return select(*(columns or (LeadRow,))).select_from(LeadRow).where(*_conditions(lead_filter, dialect))


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
    "technologies",
    "scan_count",
    "scanned_at",
    "changed_at",
)
LIST_COLUMNS = (
    *(getattr(LeadRow, name) for name in LIST_FIELDS),
    DomainRow.unicode_name.label("domain_unicode"),
    DomainRow.company_name,
)


def list_query(lead_filter: LeadFilter, dialect: str = "sqlite") -> Select:
    """Rows (``LIST_COLUMNS``) of one page, sorted by a whitelisted key.

    Ties break on the domain *in the same direction*, so that the (key, domain) index delivers
    the page in order on SQLite and PostgreSQL alike, without sorting thousands of tied rows.
    Keys that are never NULL skip NULLS LAST, which would also defeat the index.
    """
    key = lead_filter.sort.lstrip("-")
    column = SORT_KEYS[key]
    descending = lead_filter.sort.startswith("-")
    order = [column.desc() if descending else column.asc(), LeadRow.domain.desc() if descending else LeadRow.domain]
    if key in NULLABLE_SORT_KEYS:
        order[0] = order[0].nulls_last()
    query = _filtered(lead_filter, *LIST_COLUMNS, dialect=dialect).join(DomainRow, DomainRow.id == LeadRow.domain_id)
    return query.order_by(*order).limit(lead_filter.limit).offset(lead_filter.offset)


def count_query(lead_filter: LeadFilter, dialect: str = "sqlite") -> Select:
    """How many leads match: ``count(*)``, not of a column, so PostgreSQL counts off an index alone."""
    return _filtered(lead_filter, func.count(), dialect=dialect)


@dataclass(frozen=True)
class After:
    """A keyset position: the sort value (``None`` in the group of NULLs) and domain of a page's last row."""

    value: Any
    domain: str


def sort_of(lead_filter: LeadFilter) -> tuple[str, Any, bool]:
    """The sort key's name, its column and whether it runs descending."""
    key = lead_filter.sort.lstrip("-")
    return key, SORT_KEYS[key], lead_filter.sort.startswith("-")


def _has_ordered_index(filter_column: str, key_column: str) -> bool:
    """Whether an index starts with ``filter_column`` and then orders by ``key_column`` (and the domain)."""
    return (
        (filter_column, key_column) in FILTER_SORT_INDEXES
        or (key_column == "priority_score" and filter_column in FILTER_INDEXES)
        or (filter_column == key_column and filter_column in SORT_INDEXES)  # provider = X, sorted by provider
        or (filter_column, key_column) == ("provider", "domain")
    )


def _split(lead_filter: LeadFilter, key_column: str) -> tuple[str | None, int]:
    """The multi-valued filter to read as one index range per value, and its number of values.

    ``priority=P1,P2`` sorted by score is two ranges of the (priority_category, score, domain)
    index, each in score order: the heads of both are merged instead of sorting every P1 and P2
    lead. Not needed when another filter has a single value and such an index (that one is used).
    """
    lists = [(name, len(_values(getattr(lead_filter, name)))) for name in FILTER_COLUMNS if getattr(lead_filter, name)]
    ordered = [(name, n) for name, n in lists if _has_ordered_index(FILTER_COLUMNS[name].key, key_column)]
    if not ordered or any(n == 1 for _, n in ordered):
        return None, 1
    return min(ordered, key=lambda item: item[1])


@dataclass(frozen=True)
class PageQuery:
    """A page statement and its parameters, to run as ``connection.execute(statement, parameters)``."""

    statement: Select
    parameters: dict[str, Any]


def page_query(
    lead_filter: LeadFilter, dialect: str = "sqlite", *, after: After | None = None, small: bool = False
) -> PageQuery:
    """``limit + 1`` rows (``LIST_COLUMNS``) from ``offset`` or after a keyset position; the extra row says
    whether there is a next page.

    The order is the sort key, then the domain in the same direction, with NULLs last in both
    directions, identical on SQLite and PostgreSQL. How a page stays an index read:

    * ``small`` (the caller counted at most ``SMALL_RESULT`` matches): the matching rows are
      fetched through the filters' own indexes (trigram search included) behind an optimisation
      fence and sorted, so no planner walks the sort index past 99,000 non-matching leads.
    * otherwise each index range that is in sort order is read up to the page's end: a
      (filter, key, domain) index for one filter value, one range per value for ``P1,P2``, and
      the non-NULL and NULL parts of a nullable key separately (an index keeps NULLs first on
      SQLite and last on PostgreSQL; ``NULLS LAST`` in the ORDER BY would defeat it on one of them).
    * a keyset ``after`` turns into a row-value seek, so deep pages cost what the first one costs.
    * the pages' (key, domain) pairs come off the indexes alone; only the returned rows are read
      from the table and joined to their domains.

    Statements are built once per shape (sort, plan, which filters, how many branches) and
    cached; a request only binds its values.
    """
    _, column, _ = sort_of(lead_filter)
    split, branches = (None, 1) if small else _split(lead_filter, column.key)
    offset = 0 if after is not None else lead_filter.offset
    parameters = _parameters(lead_filter, dialect, split)
    parameters.update(page_limit=lead_filter.limit + 1, page_offset=offset, head_limit=offset + lead_filter.limit + 1)
    if after is not None:
        parameters.update(after_value=after.value, after_domain=after.domain)
    shape = _Shape(
        dialect=dialect,
        sort=lead_filter.sort,
        small=small,
        lists=tuple(name for name in FILTER_COLUMNS if getattr(lead_filter, name)),
        split=split,
        branches=branches,
        ranges=tuple(
            name for name in ("min_score", "max_score", "changed_since") if getattr(lead_filter, name) is not None
        ),
        fixed=_fixed_fields(lead_filter),
        q=_search_mode(fold(lead_filter.q), dialect) if lead_filter.q else None,
        tech=bool(lead_filter.tech),
        after=None if after is None else ("null" if after.value is None else "value"),
    )
    return PageQuery(_page_statement(shape), parameters)


@dataclass(frozen=True)
class _Shape:
    """What a page statement's structure depends on; its values are bound parameters."""

    dialect: str
    sort: str
    small: bool
    lists: tuple[str, ...]  # the list filters present
    split: str | None  # the list read as one index range per value
    branches: int  # its number of values
    ranges: tuple[str, ...]
    q: str | None  # the search mode
    tech: bool  # the technology filter (its names are one expanding parameter)
    after: str | None  # "value", "null" (inside the NULL group) or None
    fixed: tuple[tuple[str, Any], ...]  # every other filter field, with its value


# The filters a page statement takes as bound parameters (_parameters). Any other filter field is
# part of the statement's shape with its value, so a filter added to LeadFilter later can never be
# left out of a cached statement, only cached once per value.
BOUND_FIELDS = frozenset({*FILTER_COLUMNS, "min_score", "max_score", "changed_since", "q", "tech"})
PAGE_FIELDS = frozenset({"sort", "limit", "offset"})


def _fixed_fields(lead_filter: LeadFilter) -> tuple[tuple[str, Any], ...]:
    fields = (name for name in LeadFilter.model_fields if name not in BOUND_FIELDS | PAGE_FIELDS)
    return tuple((name, _frozen(getattr(lead_filter, name))) for name in fields)


def _frozen(value: Any) -> Any:
    return tuple(_frozen(v) for v in value) if isinstance(value, list | tuple) else value


def _thawed(value: Any) -> Any:
    return [_thawed(v) for v in value] if isinstance(value, tuple) else value


def _template(shape: _Shape) -> LeadFilter:
    """A filter of this shape: its values only name the parameters and are overridden on execution."""
    lists = {name: [f"v{i}" for i in range(shape.branches if name == shape.split else 1)] for name in shape.lists}
    q = {"fts": "xyz", "instr": "x", "like": "x"}.get(shape.q) if shape.q else None
    ranges = {"min_score": 0, "max_score": 100, "changed_since": datetime(2000, 1, 1, tzinfo=UTC)}
    fixed = {name: _thawed(value) for name, value in shape.fixed}
    return LeadFilter.model_construct(
        sort=shape.sort,
        q=q,
        tech=["x"] if shape.tech else [],
        **lists,
        **{name: ranges[name] for name in shape.ranges},
        **fixed,
    )


@lru_cache(maxsize=512)
def _page_statement(shape: _Shape) -> Select:
    f = _template(shape)
    _, column, descending = sort_of(f)
    nullable = bool(column.nullable)
    split = shape.split
    dialect = shape.dialect
    limit = bindparam("page_limit", type_=Integer)
    offset = bindparam("page_offset", type_=Integer)

    def ordered(*columns: Any) -> list[Any]:
        return [c.desc() if descending else c.asc() for c in columns]

    def beyond(left: Any, right: Any) -> ColumnElement[bool]:
        return left < right if descending else left > right

    after_domain = bindparam("after_domain", type_=LeadRow.domain.type)
    # A row value comparison is one range of the (key, domain) index: a seek, even among many ties.
    after_value = beyond(
        tuple_(column, LeadRow.domain), tuple_(bindparam("after_value", type_=column.type), after_domain)
    )
    after_null = column.is_(None) & beyond(LeadRow.domain, after_domain)  # inside the trailing NULL group

    if shape.small:
        group = case((column.is_(None), 1), else_=0).label("sort_group")
        inner = _filtered(f, column.label("sort_value"), LeadRow.domain.label("sort_domain"), group, dialect=dialect)
        if shape.after == "value":
            inner = inner.where(column.is_(None) | after_value if nullable else after_value)
        elif shape.after == "null":
            inner = inner.where(after_null)
        fenced = inner.offset(0).subquery("matches")  # OFFSET 0: neither planner merges it into the sort
        page = (
            select(fenced)
            .order_by(fenced.c.sort_group, *ordered(fenced.c.sort_value, fenced.c.sort_domain))
            .limit(limit)
            .offset(offset)
        )
    else:
        parts = []
        for branch in range(shape.branches):
            for nulls in (False, True) if nullable else (None,):
                if nulls is False and shape.after == "null":
                    continue  # the page starts inside the NULL group
                columns = [column.label("sort_value"), LeadRow.domain.label("sort_domain")]
                if nulls is not None:
                    columns.append(literal(int(nulls)).label("sort_group"))
                part = select(*columns).select_from(LeadRow).where(*_conditions(f, dialect, split, branch))
                if nulls is not None:
                    part = part.where(column.is_(None) if nulls else column.is_not(None))
                if shape.after == "value" and not nulls:
                    part = part.where(after_value)
                elif shape.after == "null" and nulls:
                    part = part.where(after_null)
                parts.append(part.order_by(*ordered(column, LeadRow.domain)))
        if len(parts) == 1:
            page = parts[0].limit(limit).offset(offset)
        else:
            # SQLite wants a LIMIT inside a compound SELECT wrapped in a subquery of its own.
            head = bindparam("head_limit", type_=Integer)
            merged = union_all(*(select(part.limit(head).subquery()) for part in parts)).subquery("heads")
            sort_group = [merged.c.sort_group] if nullable else []
            page = (
                select(merged)
                .order_by(*sort_group, *ordered(merged.c.sort_value, merged.c.sort_domain))
                .limit(limit)
                .offset(offset)
            )
    rows = page.subquery("page")
    order = [rows.c.sort_group] if "sort_group" in rows.c else []
    return (
        select(*LIST_COLUMNS, *integration_columns())
        .select_from(rows)
        .join(LeadRow, LeadRow.domain == rows.c.sort_domain)
        .join(DomainRow, DomainRow.id == LeadRow.domain_id)
        .outerjoin(D365SyncRow, D365SyncRow.domain_id == LeadRow.domain_id)
        .order_by(*order, *ordered(rows.c.sort_value, rows.c.sort_domain))
    )


def lead_query(domain: str) -> Select:
    """One lead (``LeadRow``, ``DomainRow``) with its integration fields (``integration_columns``)."""
    return (
        select(LeadRow, DomainRow, *integration_columns())
        .join(DomainRow, DomainRow.id == LeadRow.domain_id)
        .outerjoin(D365SyncRow, D365SyncRow.domain_id == LeadRow.domain_id)
        .where(LeadRow.domain == domain)
    )


def integration_fields(row: Any) -> dict[str, Any]:
    """The ``integration_columns`` of a result row, as ``repository.attach_integrations`` gives them."""
    fields = {column.name: row._mapping[column.name] for column in integration_columns()}
    fields["d365_sync_status"] = fields["d365_sync_status"] or "not_synced"
    return fields


def integration_columns() -> tuple[Any, ...]:
    """A lead's Dynamics 365 state and referral count (``repository.INTEGRATION_FIELDS``), read in the
    statement that reads the lead (with an outer join of ``D365SyncRow`` on the domain id): two
    indexed lookups per row instead of a second session and two more queries. A NULL
    ``d365_sync_status`` (no sync row) means not_synced."""
    referrals = select(func.count()).where(ReferralRow.domain == LeadRow.domain).correlate(LeadRow)
    return (
        D365SyncRow.status.label("d365_sync_status"),
        D365SyncRow.lead_id.label("d365_lead_id"),
        D365SyncRow.lead_url.label("d365_lead_url"),
        D365SyncRow.synced_at.label("d365_synced_at"),
        D365SyncRow.last_error.label("d365_last_error"),
        referrals.scalar_subquery().label("referral_count"),
    )
