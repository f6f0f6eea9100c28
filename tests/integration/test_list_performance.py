"""The lead list's page plans (shared.store.queries.page_query) against a reference order, on SQLite and PostgreSQL.

Every filter x sort pair, both plans (sorted small sets, index-ordered large ones), offsets and
keyset pages across ties and NULLs must give exactly the order Python gives: the sort key, then
the domain in the same direction, NULLs last either way. Both backends are checked against the same
reference, so they agree with each other too.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from shared.core.text import fold
from shared.store.db import engine_for
from shared.store.leads import LeadStore
from shared.store.models import DomainRow, LeadRow, LeadTechnologyRow
from shared.store.queries import SORT_KEYS, After, LeadFilter, integration_fields, lead_query, page_query

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
SEGMENTS = ["Migration", "Existing", "Cold"]
COMMERCIAL = ["RENEWAL", "WEAK_PARTNER", "GREENFIELD"]
PROVIDERS = ["Google", "M365", "Zoho", None]
SCORES = [0, 20, 50, 50, 90, None]  # few values: long runs of ties, and a NULL
SORTS = [prefix + key for key in SORT_KEYS for prefix in ("", "-")]
FILTERS: list[dict[str, Any]] = [
    {},
    {"segment": ["Migration"]},
    {"commercial_segment": ["WEAK_PARTNER"]},
    {"priority": ["P3"]},
    {"priority": ["P1", "P2"]},
    {"priority": ["P6", "P1", "P1", "P4"]},  # unordered, with a duplicate
    {"provider": ["Google", "Zoho"]},
    {"provider": ["M365"]},
    {"status": ["no_mx"]},
    {"status": ["ok", "no_mx"], "segment": ["Existing", "Cold"]},
    {"segment": ["Migration"], "provider": ["Google"]},
    {"min_score": 50},
    {"max_score": 20, "commercial_segment": ["RENEWAL", "GREENFIELD"]},
    {"changed_since": T0 + timedelta(days=1)},
    {"q": "firma1"},  # FTS5 / pg_trgm
    {"q": "1"},  # shorter than a trigram
    {"q": "ŞİŞLİ", "priority": ["P2", "P5"]},
    {"q": "nothing-matches"},
    {"tech": ["Zoom"]},  # the lead_technologies side table
    {"tech": ["Zoom", "Slack"], "priority": ["P1", "P2"]},
]


def _techs(domain_id: int) -> list[str]:
    """The technologies of lead ``domain_id`` in this world: Zoom on every 4th, Slack on every 3rd."""
    return [name for name, every in (("Zoom", 4), ("Slack", 3)) if domain_id % every == 0]


def _lead(i: int) -> dict[str, Any]:
    score = SCORES[i % len(SCORES)]
    category = 1 + (i * 7) % 6
    return {
        "domain_id": i + 1,
        "domain": f"firma{i}.com.tr" if i % 5 else f"sisli-{i}.com.tr",
        "status": "no_mx" if i % 9 == 0 else "ok",
        "provider": PROVIDERS[(i // 2) % len(PROVIDERS)],
        "segment": SEGMENTS[i % len(SEGMENTS)],
        "commercial_segment": COMMERCIAL[(i // 3) % len(COMMERCIAL)],
        "priority_category": f"P{category}",
        "priority_score": None if score is None else (7 - category) * 1000 + score,
        "score": score,
        "dkim_found": 0,
        "scan_count": 1,
        "scanned_at": T0 + timedelta(hours=i % 3),  # three values: ties across every page
        "changed_at": None if i % 2 else T0 + timedelta(days=i % 4),
    }


@pytest.fixture
def leads(database_url: str) -> tuple[LeadStore, list[dict[str, Any]]]:
    rows = [_lead(i) for i in range(150)]
    repo = LeadStore(engine_for(database_url))
    with repo.engine.begin() as conn:
        conn.execute(
            sa.insert(DomainRow.__table__),
            [
                {
                    "id": row["domain_id"],
                    "name": row["domain"],
                    "unicode_name": row["domain"],
                    "company_name": "Şişli Yapı" if row["domain"].startswith("sisli") else None,
                    "search_text": fold(row["domain"] + (" Şişli Yapı" if row["domain"].startswith("sisli") else "")),
                    "first_seen_at": T0,
                }
                for row in rows
            ],
        )
        conn.execute(sa.insert(LeadRow.__table__), rows)
        conn.execute(
            sa.insert(LeadTechnologyRow.__table__),
            [
                {"domain_id": row["domain_id"], "name": name, "category": "collaboration"}
                for row in rows
                for name in _techs(row["domain_id"])
            ],
        )
    return repo, rows


def _matches(f: LeadFilter) -> Callable[[dict[str, Any]], bool]:
    def match(row: dict[str, Any]) -> bool:
        lists = {
            "segment": "segment",
            "provider": "provider",
            "priority": "priority_category",
            "commercial_segment": "commercial_segment",
            "status": "status",
        }
        if any(getattr(f, name) and row[column] not in getattr(f, name) for name, column in lists.items()):
            return False
        if f.min_score is not None and (row["score"] is None or row["score"] < f.min_score):
            return False
        if f.max_score is not None and (row["score"] is None or row["score"] > f.max_score):
            return False
        if f.changed_since is not None and (row["changed_at"] is None or row["changed_at"] < f.changed_since):
            return False
        if f.tech and not set(f.tech) & set(_techs(row["domain_id"])):
            return False
        text = fold(row["domain"] + (" Şişli Yapı" if row["domain"].startswith("sisli") else ""))
        return not f.q or fold(f.q) in text

    return match


def reference(rows: list[dict[str, Any]], f: LeadFilter) -> list[str]:
    """The documented order: the key, then the domain in the same direction; NULL keys last either way."""
    column = SORT_KEYS[f.sort.lstrip("-")].key
    descending = f.sort.startswith("-")
    found = [row for row in rows if _matches(f)(row)]
    valued = sorted((r for r in found if r[column] is not None), key=lambda r: (r[column], r["domain"]))
    nulls = sorted(r["domain"] for r in found if r[column] is None)
    if descending:
        valued.reverse()
        nulls.reverse()
    return [r["domain"] for r in valued] + nulls


def run(repo: LeadStore, f: LeadFilter, *, small: bool, after: After | None = None) -> list[dict[str, Any]]:
    page = page_query(f, repo.engine.dialect.name, after=after, small=small)
    with repo.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(page.statement, page.parameters)]


def test_every_filter_and_sort_in_both_plans_matches_the_reference(leads):
    repo, rows = leads
    for spec, sort, small in itertools.product(FILTERS, SORTS, (True, False)):
        f = LeadFilter(**spec, sort=sort, limit=500)
        expected = reference(rows, f)
        assert [r["domain"] for r in run(repo, f, small=small)] == expected, (spec, sort, small)
        window = f.model_copy(update={"offset": 7, "limit": 5})
        got = [r["domain"] for r in run(repo, window, small=small)]
        assert got == expected[7:13], (spec, sort, small, "offset")  # limit + 1: the peek at the next page


def test_keyset_pages_walk_every_lead_once_across_ties_and_nulls(leads):
    repo, rows = leads
    walks = [FILTERS[0], FILTERS[4], FILTERS[8], FILTERS[10], FILTERS[11]]  # none, split, small, combined, range
    for spec, sort, small in itertools.product(walks, SORTS, (True, False)):
        f = LeadFilter(**spec, sort=sort, limit=17)
        column = SORT_KEYS[f.sort.lstrip("-")].key
        seen: list[str] = []
        after = None
        for _ in range(100):
            page = run(repo, f, small=small, after=after)
            seen += [r["domain"] for r in page[: f.limit]]
            if len(page) <= f.limit:
                break
            after = After(page[f.limit - 1][column], page[f.limit - 1]["domain"])
        assert seen == reference(rows, f), (spec, sort, small)


def test_repository_pages_count_once_per_filter(leads):
    repo, rows = leads
    f = LeadFilter(priority=["P1", "P2"], sort="-score", limit=4)
    first = repo.lead_page(f)
    expected = reference(rows, f)
    assert first.total == len(expected) and first.more and [r["domain"] for r in first.rows] == expected[:4]
    last = first.rows[-1]
    second = repo.lead_page(f.model_copy(update={"sort": "-score"}), after=After(last["score"], last["domain"]))
    assert [r["domain"] for r in second.rows] == expected[4:8]
    repo.lead_page(f.model_copy(update={"sort": "domain", "offset": 3}))
    assert len(repo._counts._items) == 1  # one count for the filter, whatever the sort, page or cursor
    assert repo.leads(f) == (first.rows, first.total)  # the CLI's shape


def _plan(repo: LeadStore, f: LeadFilter) -> str:
    page = page_query(f, repo.engine.dialect.name)
    sql = str(
        page.statement.params(page.parameters).compile(
            dialect=repo.engine.dialect, compile_kwargs={"literal_binds": True}
        )
    )
    with repo.engine.connect() as conn:
        if repo.engine.dialect.name == "sqlite":
            return "\n".join(row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
        # 150 rows: PostgreSQL would rather read the whole table; show what the indexes give.
        conn.exec_driver_sql("SET enable_seqscan = off")
        conn.exec_driver_sql("SET enable_bitmapscan = off")
        return "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql))


@pytest.mark.parametrize(
    ("spec", "sort", "index", "ranges"),
    [
        ({"commercial_segment": ["WEAK_PARTNER"]}, "-score", "ix_leads_commercial_segment_score", 2),  # + NULL part
        ({"priority": ["P1", "P2"]}, "-scanned_at", "ix_leads_priority_category_scanned_at", 2),
        ({"status": ["no_mx"]}, "provider", "ix_leads_status_provider", 2),
        ({"segment": ["Cold"]}, "domain", "ix_leads_segment_domain", 1),
    ],
)
def test_large_pages_are_read_off_the_filter_and_sort_index(leads, spec, sort, index, ranges):
    repo, _ = leads
    plan = _plan(repo, LeadFilter(**spec, sort=sort))
    assert plan.count(index) == ranges, plan


def test_other_filters_reach_the_cached_page_statements(leads):
    """A filter the page builder binds no parameter for (here Dynamics 365 state) is part of the cached shape."""
    from shared.store.models import D365SyncRow

    repo, rows = leads
    synced = [rows[i] for i in (3, 10, 11)]
    with repo.engine.begin() as conn:
        conn.execute(
            sa.insert(D365SyncRow.__table__),
            [{"domain_id": r["domain_id"], "domain": r["domain"], "status": "synced"} for r in synced],
        )
    everything = sorted(r["domain"] for r in rows)
    expected = {"synced": sorted(r["domain"] for r in synced)}
    expected["not_synced"] = [d for d in everything if d not in expected["synced"]]
    for small, sort in itertools.product((True, False), ("domain", "-score")):
        for status in ("synced", "not_synced", None):  # one after the other: same shape but for this filter
            spec = {"d365_sync_status": [status]} if status else {}
            got = {r["domain"] for r in run(repo, LeadFilter(**spec, sort=sort, limit=500), small=small)}
            assert got == set(expected[status] if status else everything), (status, small, sort)


def test_pages_carry_the_same_integration_fields_as_attach_integrations(leads):
    """The page statement reads the Dynamics 365 state and referral count itself; same values as the detail's."""
    from shared.store.leads import INTEGRATION_FIELDS
    from shared.store.models import D365SyncRow, ReferralRow

    repo, rows = leads
    with repo.engine.begin() as conn:
        conn.execute(
            sa.insert(D365SyncRow.__table__),
            [
                {"domain_id": 4, "domain": rows[3]["domain"], "status": "synced", "lead_id": "L-4", "last_error": None},
                {"domain_id": 5, "domain": rows[4]["domain"], "status": "failed", "lead_id": None, "last_error": "429"},
            ],
        )
        conn.execute(
            sa.insert(ReferralRow.__table__),
            [
                {"id": f"r{n}", "domain": rows[n % 2 + 3]["domain"], "link_status": "linked", "raw": {}}
                | {"first_seen_at": T0, "synced_at": T0}
                for n in range(3)
            ],
        )
    for small in (True, False):
        got = run(repo, LeadFilter(sort="domain", limit=500), small=small)
        for row in got:
            row["d365_sync_status"] = row["d365_sync_status"] or "not_synced"
        expected = [{k: v for k, v in row.items() if k not in INTEGRATION_FIELDS} for row in got]
        repo.attach_integrations(expected)
        assert [{k: r[k] for k in INTEGRATION_FIELDS} for r in got] == [
            {k: r[k] for k in INTEGRATION_FIELDS} for r in expected
        ]
        assert {r["domain"]: r["referral_count"] for r in got if r["referral_count"]} == {
            rows[3]["domain"]: 2,
            rows[4]["domain"]: 1,
        }
    assert repo.lead_page(LeadFilter(sort="domain", limit=500)).rows == got
    with repo.sessions() as session:  # the lead detail's query
        for row in [r for r in got if r["referral_count"] or r["d365_sync_status"] != "not_synced"] + got[:2]:
            found = session.execute(lead_query(row["domain"])).first()
            assert found[0].domain == row["domain"] and found[1].name == row["domain"]
            assert integration_fields(found) == {k: row[k] for k in INTEGRATION_FIELDS}


def test_no_parallel_scans_of_leads_on_postgresql(leads):
    """A parallel plan chose a sequential scan over the trigram index for q= (migration 0005 turns them off)."""
    repo, _ = leads
    if repo.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    with repo.engine.connect() as conn:
        query = "SELECT relname, reloptions FROM pg_class WHERE oid IN ('leads'::regclass, 'domains'::regclass)"
        options = dict(conn.execute(sa.text(query)).all())
    assert options == {"leads": ["parallel_workers=0"], "domains": ["parallel_workers=0"]}


def test_the_detail_reads_the_repository_records_in_one_connection(database_url: str):
    """The lead detail (``LeadStore.lead_detail``: one connection, by domain id) gives the repository's answers:
    the lead's page row, its newest usable snapshot (else its newest), its changes and its referrals."""
    from shared.core.models import MxHost, ScanRecord, ScanStatus
    from shared.core.providers import classify
    from shared.core.results import ScanResult
    from shared.core.scoring import score_record
    from shared.store.db import read_engine_for
    from shared.store.leads import DETAIL_LEAD_FIELDS
    from shared.store.models import D365SyncRow, ReferralRow
    from shared.store.referrals import referrals_for_domain

    def scan(domain: str, mx: str, at: datetime, status: ScanStatus = ScanStatus.OK) -> ScanResult:
        record = ScanRecord(
            input=domain, domain=domain, domain_unicode=domain, status=status, scanned_at=at,
            mx=[MxHost(preference=10, host=mx)] if status == ScanStatus.OK else [],
        )  # fmt: skip
        record = classify(record)
        return ScanResult(record, score_record(record))

    repo = LeadStore(engine_for(database_url), reads=read_engine_for(database_url))
    google, m365 = "aspmx.l.google.com", "x-com-tr.mail.protection.outlook.com"
    repo.save([scan("a.com.tr", google, T0), scan("b.com.tr", google, T0, ScanStatus.TIMEOUT)])
    repo.save([scan("a.com.tr", m365, T0 + timedelta(days=1)), scan("b.com.tr", google, T0, ScanStatus.SERVFAIL)])
    repo.save([scan("a.com.tr", m365, T0 + timedelta(days=2), ScanStatus.TIMEOUT)])
    with repo.engine.begin() as conn:
        a_id = conn.execute(sa.select(DomainRow.id).where(DomainRow.name == "a.com.tr")).scalar_one()
        conn.execute(
            sa.insert(D365SyncRow.__table__),
            [{"domain_id": a_id, "domain": "a.com.tr", "status": "synced", "lead_id": "L-1", "synced_at": T0}],
        )
        conn.execute(
            sa.insert(ReferralRow.__table__),
            [
                {"id": f"r{n}", "domain": "a.com.tr", "link_status": "linked", "raw": {}, "first_seen_at": T0}
                | {"synced_at": T0, "updated_at": None if n == 1 else T0 + timedelta(hours=n)}
                for n in range(3)
            ],
        )
    statements: list[str] = []
    sa.event.listen(repo.reads, "before_cursor_execute", lambda *args: statements.append(args[2]))
    for domain in ("a.com.tr", "b.com.tr"):
        statements.clear()
        detail = repo.lead_detail(domain)
        # b.com.tr has neither changes nor referrals: one statement; a.com.tr needs one more for each.
        assert len(statements) == (3 if domain == "a.com.tr" else 1)
        newest = ScanRecord.model_validate(detail.record)
        assert newest == (repo.latest_record(domain, usable=True) or repo.latest_record(domain))
        assert [(e["kind"], e["after"]) for e in detail.changes] == [
            (e.kind, e.after) for e in repo.events(domain, limit=50)
        ]
        assert [r["id"] for r in detail.referrals] == [r.id for r in referrals_for_domain(repo.engine, domain)]
        (page_row,) = [r for r in repo.lead_page(LeadFilter(sort="domain")).rows if r["domain"] == domain]
        assert list(detail.lead) == list(DETAIL_LEAD_FIELDS)
        assert detail.lead == page_row
        lead = repo.lead(domain)
        assert (detail.breakdown, detail.rules_version) == (lead.breakdown, lead.rules_version)
    assert [r["id"] for r in repo.lead_detail("a.com.tr").referrals] == ["r2", "r0", "r1"]  # NULL updated_at last
    assert repo.lead_detail("a.com.tr").lead["d365_sync_status"] == "synced"
    assert repo.lead_detail("a.com.tr").changes[0]["kind"] == "provider_changed"  # Google -> M365
    assert newest.status == ScanStatus.SERVFAIL  # b.com.tr never had a usable scan: its newest
    assert repo.lead_detail("b.com.tr").lead["d365_sync_status"] == "not_synced"
    assert repo.lead_detail("nope.com.tr") is None
