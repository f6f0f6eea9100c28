"""Engine plumbing of shared.store.db: the pg8000 speed-ups give pg8000's own answers, idle pooled
connections are checked before use, and the read engine runs without transactions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pg8000.dbapi
import pg8000.legacy
import pytest
import sqlalchemy as sa
from pg8000.converters import timestamptz_in

from shared.store import db
from shared.store.db import _cache_pg8000_placeholders, _timestamptz_in, engine_for, make_engine, read_engine_for

STATEMENTS = [
    "SELECT 1",
    "SELECT a FROM t WHERE b = %s AND c IN (%s, %s) LIMIT %s",
    "SELECT '%s is not a placeholder', %s, E'it''s \\' %s', \"col%\" FROM t",
    "SELECT 100 %% 7, %s -- a comment with %s\nFROM t",
    "SELECT $$ %s inside dollars $$, %s",
    "SELECT x::text, %s::int FROM t WHERE y = %s",
]


def test_cached_placeholders_are_pg8000s():
    """The remembered conversion of a statement is what pg8000 computes, for every style and quoting."""
    _cache_pg8000_placeholders()
    cached, original = pg8000.legacy.convert_paramstyle, pg8000.dbapi.convert_paramstyle
    assert cached is not original and cached.cached
    for statement in STATEMENTS:
        args = tuple(range(statement.count("%s")))
        for _ in range(2):  # computed, then remembered
            assert cached("format", statement, args) == original("format", statement, args)
    for style, statement in [("qmark", "SELECT ? , '?', ?"), ("numeric", "SELECT :1, ':2', :2")]:
        assert cached(style, statement, (1, 2)) == original(style, statement, (1, 2))
    named = "SELECT :a, :b, :a"  # named and pyformat pick the values by name: not cached, pg8000's answer
    assert (
        cached("named", named, {"a": 1, "b": 2})
        == original("named", named, {"a": 1, "b": 2})
        == (
            "SELECT $1, $2, $1",
            (1, 2),
        )
    )
    with pytest.raises(pg8000.dbapi.InterfaceError):  # errors are raised every time, not remembered
        cached("format", "SELECT %d", (1,))
    with pytest.raises(pg8000.dbapi.InterfaceError):
        cached("format", "SELECT %d", (1,))
    _cache_pg8000_placeholders()  # installing twice does not wrap twice
    assert pg8000.legacy.convert_paramstyle is cached


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-25 19:53:58.429+00",
        "2026-11-25 19:53:58.123456+05:30",
        "2026-11-25 19:53:58-03",
        "2026-01-01 00:00:00+00",
        "infinity",
        "-infinity",
        "0044-03-15 12:00:00+00 BC",
        "10000-01-01 00:00:00+00",
    ],
)
def test_timestamptz_in_reads_what_pg8000_reads(text: str):
    assert _timestamptz_in(text) == timestamptz_in(text)
    assert type(_timestamptz_in(text)) is type(timestamptz_in(text))


def _postgres_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")


def _terminate(engine: sa.Engine, pid: int) -> None:
    admin = make_engine(engine.url.render_as_string(hide_password=False))
    with admin.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        conn.commit()
    admin.dispose()


def test_an_idle_connection_closed_by_the_server_is_replaced_before_use(database_url, monkeypatch):
    _postgres_only(database_url)
    engine = make_engine(database_url)
    with engine.connect() as conn:
        pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    _terminate(engine, pid)  # a restart, a failover or an idle timeout while it sat in the pool
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() != pid
    engine.dispose()


def test_a_connection_in_steady_use_is_not_pinged_and_the_pool_recovers_from_a_dead_one(database_url, monkeypatch):
    _postgres_only(database_url)
    engine = make_engine(database_url)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    with engine.connect() as conn:
        pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    _terminate(engine, pid)
    with pytest.raises((sa.exc.DBAPIError, OSError)), engine.connect() as conn:  # no ping: the statement meets it
        conn.execute(sa.text("SELECT 1"))
    with engine.connect() as conn:  # one failure, not more: the pool has dropped it
        assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() != pid
    engine.dispose()


def test_reads_run_without_transactions(database_url):
    """The read engine: autocommit connections on PostgreSQL (no BEGIN, nothing left open); SQLite's own engine."""
    from shared.store.leads import LeadStore

    if not database_url.startswith("postgresql"):
        assert read_engine_for(database_url) is engine_for(database_url)
        return
    reads = read_engine_for(database_url)
    assert reads is not engine_for(database_url)
    with reads.connect() as conn:
        assert conn.connection.driver_connection.autocommit is True
    with engine_for(database_url).connect() as conn:  # the main engine keeps its transactions
        assert conn.connection.driver_connection.autocommit is False
    repo = LeadStore(engine_for(database_url), reads=reads)
    assert repo.lead_detail("nobody.com.tr") is None
    with reads.connect() as conn:
        states = conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in%'"
            )
        ).scalar_one()
    assert states == 0


def test_psycopg_reads_what_pg8000_reads(database_url):
    """The optional psycopg driver: the same lead pages and lead detail as pg8000, on autocommit reads too."""
    _postgres_only(database_url)
    pytest.importorskip("psycopg")
    from shared.core.models import MxHost, ScanRecord, ScanStatus
    from shared.core.providers import classify
    from shared.core.results import ScanResult
    from shared.core.scoring import score_record
    from shared.store.leads import LeadStore
    from shared.store.queries import LeadFilter

    def scan(domain: str, mx: str, days: int) -> ScanResult:
        at = datetime(2026, 11, 1, 9, 30, 15, 123456, tzinfo=UTC) + timedelta(days=days)
        record = ScanRecord(
            input=domain, domain=domain, status=ScanStatus.OK, scanned_at=at, mx=[MxHost(preference=10, host=mx)]
        )
        record = classify(record)
        return ScanResult(record, score_record(record), company_name=f"Şirket {domain}")

    pg8000 = LeadStore(engine_for(database_url), reads=read_engine_for(database_url))
    pg8000.save([scan(f"d{i}.com.tr", "aspmx.l.google.com", 0) for i in range(5)])
    pg8000.save([scan("d1.com.tr", "x.mail.protection.outlook.com", 1)])  # a change event
    psycopg_url = database_url.replace("+pg8000", "+psycopg")
    psycopg = LeadStore(make_engine(psycopg_url), reads=read_engine_for(psycopg_url))
    with psycopg.reads.connect() as conn:
        assert conn.connection.driver_connection.autocommit is True
    for f in (LeadFilter(sort="domain"), LeadFilter(sort="-scanned_at", limit=2), LeadFilter(q="d1")):
        assert psycopg.lead_page(f) == pg8000.lead_page(f)
    for domain in ("d0.com.tr", "d1.com.tr", "none.com.tr"):
        assert psycopg.lead_detail(domain) == pg8000.lead_detail(domain)
    assert pg8000.lead_detail("d1.com.tr").changes
