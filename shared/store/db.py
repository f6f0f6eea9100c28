"""Engines and sessions: SQLite (the embedded default, WAL mode) or PostgreSQL through pg8000."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    """Create an engine; for SQLite switch on WAL and foreign keys on every connection."""
    if url.startswith("postgresql://"):
        url = "postgresql+pg8000://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

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
    if parsed.query.get("sslmode") in ("require", "verify-ca", "verify-full"):
        # libpq's sslmode (what Azure's connection strings carry) as pg8000's ssl_context: verifying.
        import ssl

        connect_args["ssl_context"] = ssl.create_default_context()
        url = parsed.difference_update_query(["sslmode"]).render_as_string(hide_password=False)
    elif "sslmode" in parsed.query:
        url = parsed.difference_update_query(["sslmode"]).render_as_string(hide_password=False)
    engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, connect_args=connect_args)
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _postgres_session(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            # JIT compiles plans whose estimated cost passes jit_above_cost: 20-50 ms spent to save
            # microseconds on our short indexed queries (counts over 100,000 leads cross that line).
            cursor = dbapi_connection.cursor()
            cursor.execute("SET jit = off")
            cursor.close()
            dbapi_connection.commit()  # else the pool's rollback on check-in would undo the SET

    return engine


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` with Alembic (the one migration history for every backend)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("shared.store") / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """One migrated engine per database URL per process."""
    engine = make_engine(url)
    migrate(engine)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
