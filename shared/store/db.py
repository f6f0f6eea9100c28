"""Engines and sessions: SQLite (the embedded default, WAL mode) or PostgreSQL through pg8000 (pure
Python, the default) or, optionally, psycopg 3 (``postgresql+psycopg://``, libpq and C)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Connection, Engine, Table, create_engine, event, exc, make_url, text
from sqlalchemy.dialects.sqlite import Insert
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.orm import Session, sessionmaker

# A pooled PostgreSQL connection idle for longer than this is pinged (SELECT 1) before it is handed
# out, and replaced if the server has closed it (restart, failover, an idle timeout on the way).
# One in steady use is not: pool_pre_ping cost a round trip and a transaction on every checkout.
PING_AFTER_IDLE_SECONDS = 1.0
# Pooled connections are replaced after this long (proxies and servers drop long-lived ones).
POOL_RECYCLE_SECONDS = 1800


_ANY_JSON: TypeAdapter[Any] = TypeAdapter(Any)


def json_text(value: Any) -> str:
    """What a JSON column stores: pydantic-core's encoder, several times faster than ``json.dumps`` on a scan
    record, and it takes a pydantic model as it is (a snapshot's record is written without a dict in
    between). Non-ASCII text stays UTF-8 instead of ``\\u`` escapes: the same JSON to every reader."""
    return _ANY_JSON.dump_json(value).decode()


def make_engine(url: str, *, autocommit: bool = False, auth: str | None = None) -> Engine:
    """Create an engine; for SQLite switch on WAL and foreign keys on every connection.

    ``autocommit`` (PostgreSQL) makes every connection of the engine's pool autocommit: for
    reads only (see :func:`read_engine_for`). ``auth`` (PostgreSQL; default ``HUNTER_DATABASE_AUTH``):
    ``entra`` signs every new connection in with a Microsoft Entra access token as its password
    (:mod:`shared.store.entra`), and then requires TLS (``sslmode=require`` or stricter in the URL).
    """
    if url.startswith("postgresql://"):
        url = "postgresql+pg8000://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        # hide_parameters: a database error's text (which reaches exceptions, never logs) carries no bound
        # values — company names, a token cache, key hashes.
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            hide_parameters=True,
            json_serializer=json_text,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    connect_args: dict = {}
    parsed = make_url(url)
    if parsed.get_driver_name() == "psycopg":
        # The optional C driver (postgresql+psycopg://): libpq reads sslmode itself. No server-side
        # prepared statements, so PostgreSQL plans every statement for its values, as with pg8000.
        connect_args["prepare_threshold"] = None
    elif parsed.query.get("sslmode") in ("require", "verify-ca", "verify-full"):
        # libpq's sslmode (what Azure's connection strings carry) as pg8000's ssl_context: verifying.
        import ssl

        connect_args["ssl_context"] = ssl.create_default_context()
        url = parsed.difference_update_query(["sslmode"]).render_as_string(hide_password=False)
    elif "sslmode" in parsed.query:
        url = parsed.difference_update_query(["sslmode"]).render_as_string(hide_password=False)
    if auth is None:
        from shared.config import get_settings

        auth = get_settings().database_auth
    if auth == "entra" and not _tls_required(parsed, connect_args):
        raise ValueError(
            "HUNTER_DATABASE_AUTH=entra sends an access token as the password: the URL needs sslmode=require "
            "(or verify-ca / verify-full)"
        )
    options: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    engine = create_engine(
        url,
        pool_size=5,
        max_overflow=10,
        pool_recycle=POOL_RECYCLE_SECONDS,
        connect_args=connect_args,
        hide_parameters=True,
        json_serializer=json_text,
        **options,
    )
    _ping_when_idle(engine)
    if auth == "entra":
        from shared.store.entra import postgres_tokens, use_entra_tokens

        use_entra_tokens(engine, postgres_tokens())
    if engine.dialect.driver == "pg8000":
        _cache_pg8000_placeholders()
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _postgres_session(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            # JIT compiles plans whose estimated cost passes jit_above_cost: 20-50 ms spent to save
            # microseconds on our short indexed queries (counts over 100,000 leads cross that line).
            cursor = dbapi_connection.cursor()
            cursor.execute("SET jit = off")
            cursor.close()
            dbapi_connection.commit()  # else the pool's rollback on check-in would undo the SET
            if engine.dialect.driver == "pg8000":
                dbapi_connection.register_in_adapter(TIMESTAMPTZ_OID, _timestamptz_in)

    return engine


def _tls_required(parsed: Any, connect_args: dict[str, Any]) -> bool:
    """Whether connections of this URL must use TLS (pg8000: a context was made; psycopg: libpq's sslmode)."""
    if "ssl_context" in connect_args:
        return True
    return parsed.query.get("sslmode") in ("require", "verify-ca", "verify-full")


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use only when it has been idle (``PING_AFTER_IDLE_SECONDS``).

    A closed connection raises ``DisconnectionError`` here, so the pool replaces it (and retries
    the checkout) before any statement runs on it. A connection that dies while in steady use
    fails that one statement, as it could between a ping and the statement; it is then taken
    for a disconnect (socket errors included), so SQLAlchemy drops it and the pool's older
    connections, and the next checkouts get fresh ones.
    """

    @event.listens_for(engine, "handle_error")
    def _socket_errors_are_disconnects(context: ExceptionContext) -> None:
        # pg8000 lets a socket error through unwrapped when the server hangs up while it waits for
        # an answer; SQLAlchemy would not take that for a disconnect and pool the dead connection.
        if isinstance(context.original_exception, OSError):
            context.is_disconnect = True

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return  # new, or used a moment ago
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchall()
            cursor.close()
        except Exception as error:  # whatever a dead socket raises: the pool connects again
            raise exc.DisconnectionError("pooled connection was closed") from error


_PLACEHOLDER_STYLES = ("format", "qmark", "numeric")  # the styles whose converted query ignores the values


def _cache_pg8000_placeholders() -> None:
    """Convert each statement's placeholders (``%s`` -> ``$1``) once per process, not per execution.

    pg8000 scans every statement with parameters character by character in Python to rewrite its
    placeholders: about 1 ms for a lead page or the lead detail (1,000-2,700 characters), often
    more than PostgreSQL spends answering. SQLAlchemy sends the same few statement texts over and
    over, and for SQLAlchemy's ``format`` style the result depends on the text alone (the values
    pass through unchanged), so it is remembered. Other styles, and errors, go to pg8000 as before.
    """
    import pg8000.legacy

    convert = pg8000.legacy.convert_paramstyle
    if getattr(convert, "cached", False):
        return

    @lru_cache(maxsize=4096)
    def converted(style: str, query: str) -> str:
        return convert(style, query, ())[0]

    def convert_paramstyle(style: str, query: str, args: Sequence[Any]) -> tuple[str, Any]:
        if style in _PLACEHOLDER_STYLES:
            return converted(style, query), args
        return convert(style, query, args)

    convert_paramstyle.cached = True  # type: ignore[attr-defined]
    pg8000.legacy.convert_paramstyle = convert_paramstyle


TIMESTAMPTZ_OID = 1184


def _timestamptz_in(text: str) -> datetime | str:
    """pg8000's reading of a ``timestamptz``, 50 times faster: ``datetime.fromisoformat`` reads
    PostgreSQL's ISO output (``2026-11-25 19:53:58.429+00``) in C, where pg8000 calls
    ``strptime`` (about 20 us a value, 1 ms for a page of 50 leads). Anything else (infinity,
    BC dates, years past 9999) is left to pg8000, which answers as it always did."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        from pg8000.converters import timestamptz_in

        return timestamptz_in(text)


MIGRATION_LOCK = 7_305_011_117  # pg_advisory_xact_lock key: "hunter migrate" (any constant all versions share)


class SchemaOutdatedError(RuntimeError):
    """The database's schema is not the one this code needs, and this process may not migrate it."""


def _alembic_config():  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("shared.store") / "migrations"))
    return config


def head_revision() -> str:
    """The newest migration this code ships."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` with Alembic (the one migration history for every backend).

    Safe to run from several processes at once: the migration runs under a lock —
    ``pg_advisory_xact_lock`` on PostgreSQL (held to the end of the migration's transaction), an
    immediate write transaction (``BEGIN IMMEDIATE``) on SQLite — so the first process migrates and
    the others then find the schema current. Four processes racing on a fresh database used to fail
    three times on ``CREATE TABLE alembic_version``.
    """
    from alembic import command

    config = _alembic_config()
    if engine.dialect.name == "sqlite":
        # pysqlite would only BEGIN before the first write; take the write lock before Alembic reads.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                connection.exec_driver_sql("COMMIT")
            except BaseException:
                connection.exec_driver_sql("ROLLBACK")
                raise
        return
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def check_schema(engine: Engine) -> None:
    """Refuse a database whose schema is not this code's head, naming both revisions and the fix."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        at = f"revision {current}" if current else "an empty schema"
        raise SchemaOutdatedError(
            f"the database ({engine.url.render_as_string(hide_password=True)}) is at {at}; this version of "
            f"Hunter needs revision {head}: run `hunter migrate` (a deploy step) before serving"
        )


def engine_for(url: str, *, auto_migrate: bool | None = None) -> Engine:
    """One engine per database URL per process, with the schema this code needs.

    With ``auto_migrate`` (``HUNTER_AUTO_MIGRATE``, on by default: a laptop and the tests need no
    deploy step) the first use migrates, under the lock of :func:`migrate`. Production turns it off
    and runs ``hunter migrate`` when it deploys; an instance then only checks the revision and
    refuses an outdated schema with :class:`SchemaOutdatedError` instead of migrating inside a request.
    """
    if auto_migrate is None:
        from shared.config import get_settings

        auto_migrate = get_settings().auto_migrate
    return _engine_for(url, auto_migrate)


@lru_cache(maxsize=8)
def _engine_for(url: str, auto_migrate: bool) -> Engine:
    engine = make_engine(url)
    if auto_migrate:
        migrate(engine)
    else:
        check_schema(engine)
    return engine


engine_for.cache_clear = _engine_for.cache_clear  # type: ignore[attr-defined]  # tests reset the process's engines


@lru_cache(maxsize=8)
def read_engine_for(url: str, *, auto_migrate: bool | None = None) -> Engine:
    """An engine for reads that need no transaction: the API's lead pages and lead detail.

    On PostgreSQL its pool's connections are in autocommit mode, so a read costs its statements
    alone: pg8000 sends no BEGIN before the first one, and there is no transaction for the
    pool's ROLLBACK to end (pg8000 sends it through the extended protocol: three round trips).
    That is four of the seven round trips of a lead page. Each statement still reads one
    consistent snapshot (under READ COMMITTED, which Hunter uses, every statement of a
    transaction takes its own snapshot anyway). A second pool, opened on first use.
    On SQLite the engine of :func:`engine_for` (pysqlite opens no transaction for a SELECT).
    """
    engine = engine_for(url, auto_migrate=auto_migrate)  # migrated (or checked)
    if engine.dialect.name != "postgresql":
        return engine
    return make_engine(url, autocommit=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def upsert(bind: Engine | Connection | Session, table: Table) -> Insert:
    """An INSERT of ``table`` in the dialect of ``bind``, so ``.on_conflict_do_update()`` and
    ``.on_conflict_do_nothing()`` work on SQLite and PostgreSQL alike (the only two we run on)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = bind.get_bind().dialect.name if isinstance(bind, Session) else bind.dialect.name
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
