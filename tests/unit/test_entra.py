"""Microsoft Entra sign-in to PostgreSQL: tokens as passwords, cached until near expiry, handed to the
driver on every new connection (SQLAlchemy's do_connect event), TLS required; and the app's
least-privilege role that `hunter migrate --create-app-role` creates, run on the local server."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from shared.store.db import make_engine
from shared.store.entra import (
    POSTGRES_SCOPE,
    AccessTokens,
    app_role_statements,
    create_app_role,
    quote_identifier,
    use_entra_tokens,
)

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Token:
    token: str
    expires_on: int


class FakeCredential:
    """azure-identity's credential contract: get_token(scope) -> (token, expires_on epoch seconds)."""

    def __init__(self, lifetime: float = 3600, clock: list[float] | None = None) -> None:
        self.lifetime = lifetime
        self.clock = clock if clock is not None else [1_000_000.0]
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **_kwargs: object) -> Token:
        self.scopes.extend(scopes)
        return Token(f"token-{len(self.scopes)}", int(self.clock[0] + self.lifetime))


def test_a_token_is_reused_until_near_its_expiry():
    clock = [1_000_000.0]
    credential = FakeCredential(lifetime=3600, clock=clock)
    tokens = AccessTokens(POSTGRES_SCOPE, credential, margin=300, clock=lambda: clock[0])
    assert tokens.get() == "token-1"
    clock[0] += 3000  # 600 s left: still good
    assert tokens.get() == "token-1"
    clock[0] += 301  # within the 300 s margin: a new one
    assert tokens.get() == "token-2"
    assert credential.scopes == [POSTGRES_SCOPE, POSTGRES_SCOPE]
    assert tokens.fetches == 2


def test_entra_needs_tls_in_the_url():
    with pytest.raises(ValueError, match="sslmode=require"):
        make_engine("postgresql+pg8000://app@db.example.com:5432/hunter", auth="entra")
    engine = make_engine("postgresql+pg8000://app@db.example.com:5432/hunter?sslmode=require", auth="entra")
    assert "sslmode" not in str(engine.url)
    engine.dispose()


def test_entra_is_read_from_the_setting(monkeypatch: pytest.MonkeyPatch):
    from shared.config import get_settings

    monkeypatch.setenv("HUNTER_DATABASE_AUTH", "entra")
    get_settings.cache_clear()
    try:
        with pytest.raises(ValueError, match="sslmode"):
            make_engine("postgresql+pg8000://app@db.example.com:5432/hunter")
    finally:
        get_settings.cache_clear()


def test_the_token_is_the_password_of_every_new_connection(monkeypatch: pytest.MonkeyPatch):
    """The real do_connect path of an entra engine: what reaches the driver's connect() is the token.
    (pg8000's connect is replaced at the DBAPI boundary: there is no server with Entra here.)"""
    from shared.store import entra

    clock = [1_000_000.0]
    monkeypatch.setitem(
        entra._POSTGRES_TOKENS,
        POSTGRES_SCOPE,
        AccessTokens(POSTGRES_SCOPE, FakeCredential(clock=clock), clock=lambda: clock[0]),
    )
    engine = make_engine("postgresql+pg8000://app@db.example.com:5432/hunter?sslmode=require", auth="entra")
    seen: list[dict] = []

    class Stop(Exception):
        pass

    def connect(*_args: object, **kwargs: object) -> None:
        seen.append(dict(kwargs))
        raise Stop

    monkeypatch.setattr(engine.dialect.loaded_dbapi, "connect", connect)
    try:
        for _ in range(2):
            with pytest.raises(Stop), engine.connect():
                pass
        clock[0] += 4000  # expired: the next connection gets a new token
        with pytest.raises(Stop), engine.connect():
            pass
    finally:
        engine.dispose()
    assert [kwargs["password"] for kwargs in seen] == ["token-1", "token-1", "token-2"]
    assert all(kwargs["user"] == "app" and "ssl_context" in kwargs for kwargs in seen)


def test_migrate_refuses_entra_without_tls():
    done = subprocess.run(
        [sys.executable, "-m", "shared", "migrate", "--db", "postgresql+pg8000://someone@127.0.0.1:9/hunter"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**_env(), "HUNTER_DATABASE_AUTH": "entra"},
    )
    assert done.returncode == 2 and "sslmode=require" in done.stderr and "Traceback" not in done.stderr


@pytest.fixture
def postgres_url() -> Iterator[str]:
    from tests.conftest import _postgres_database

    yield from _postgres_database()


@pytest.mark.postgres
def test_a_token_reaches_the_local_server_as_the_password(postgres_url: str):
    """Against the local PostgreSQL (trust authentication): the event path end to end, pg8000 included."""
    engine = make_engine(postgres_url, auth="password")
    credential = FakeCredential()
    use_entra_tokens(engine, AccessTokens(POSTGRES_SCOPE, credential))
    passwords: list[str] = []
    sa.event.listen(engine, "do_connect", lambda _d, _r, _a, params: passwords.append(params["password"]))
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT 1")).scalar() == 1
    engine.dispose()
    assert passwords == ["token-1"] and credential.scopes == [POSTGRES_SCOPE]


def test_role_statements_quote_names_and_bind_values():
    statements = app_role_statements("hunter-id-abc", "hunter", object_id="0f6ae2a4-3c1e-4b8e-9a55-6d1c2b3a4f5e")
    create, *grants = statements
    assert create.admin_database and create.create
    assert "pgaadauth_create_principal_with_oid(:role, :object_id, 'service', false, false)" in create.sql
    assert create.params == {"role": "hunter-id-abc", "object_id": "0f6ae2a4-3c1e-4b8e-9a55-6d1c2b3a4f5e"}
    assert [g.sql for g in grants] == [
        'GRANT CONNECT, TEMPORARY ON DATABASE "hunter" TO "hunter-id-abc"',
        'GRANT USAGE ON SCHEMA "public" TO "hunter-id-abc"',
        'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "public" TO "hunter-id-abc"',
        'GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA "public" TO "hunter-id-abc"',
        'ALTER DEFAULT PRIVILEGES IN SCHEMA "public" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "hunter-id-abc"',
        'ALTER DEFAULT PRIVILEGES IN SCHEMA "public" GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO "hunter-id-abc"',
    ]
    text = " ".join(s.sql for s in statements).upper()
    for power in ("SUPERUSER", "CREATEROLE", "CREATEDB", "ALL PRIVILEGES", " CREATE ON", "OWNER", "TRUNCATE"):
        assert power not in text
    assert quote_identifier('a"b') == '"a""b"'


@pytest.mark.parametrize(
    ("role", "database", "object_id"),
    [
        ('x"; DROP TABLE leads; --', "hunter", None),
        ("app", "hunter; DROP", None),
        ("app", "hunter", "not-a-guid'); DROP ROLE x; --"),
        ("", "hunter", None),
        ("a" * 64, "hunter", None),
    ],
)
def test_role_statements_refuse_what_is_not_a_name(role: str, database: str, object_id: str | None):
    with pytest.raises(ValueError):
        app_role_statements(role, database, object_id=object_id)


@pytest.mark.postgres
def test_the_app_role_can_read_and_write_but_not_change_the_schema(postgres_url: str):
    """`hunter migrate --create-app-role` on the local server (the plain CREATE ROLE path): the role
    signs in, reads and writes Hunter's tables, and may not create, alter or drop anything."""
    role = f"hunter_app_{uuid.uuid4().hex[:8]}"
    done = subprocess.run(
        [sys.executable, "-m", "shared", "migrate", "--db", postgres_url, "--create-app-role", role],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**_env(), "HUNTER_DATABASE_AUTH": "password"},
    )
    assert done.returncode == 0, done.stderr
    assert f"role {role}" in done.stderr
    admin = sa.create_engine(postgres_url)
    app = sa.create_engine(sa.make_url(postgres_url).set(username=role))
    try:
        with app.begin() as connection:
            assert connection.execute(sa.text("SELECT current_user")).scalar() == role
            connection.execute(sa.text("SELECT count(*) FROM leads")).scalar()
            connection.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar()
        for ddl in ("CREATE TABLE intruder (id int)", "DROP TABLE leads", "ALTER TABLE leads ADD COLUMN x int"):
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied|must be owner"), app.begin() as c:
                c.execute(sa.text(ddl))
        with admin.connect() as connection:
            flags = connection.execute(
                sa.text("SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = :r"), {"r": role}
            ).one()
        assert tuple(flags) == (False, False, False)
        # Idempotent: a second run keeps the role and grants again.
        again = subprocess.run(
            [sys.executable, "-m", "shared", "migrate", "--db", postgres_url, "--create-app-role", role],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            env={**_env(), "HUNTER_DATABASE_AUTH": "password"},
        )
        assert again.returncode == 0, again.stderr
    finally:
        app.dispose()
        with admin.begin() as connection:
            connection.execute(sa.text(f"DROP OWNED BY {quote_identifier(role)}"))
        with admin.connect() as connection:
            connection.execute(sa.text(f"DROP ROLE IF EXISTS {quote_identifier(role)}"))
            connection.commit()
        admin.dispose()


@pytest.mark.postgres
def test_the_azure_path_binds_the_role_to_the_identity(postgres_url: str):
    """create_app_role with an object id calls pgaadauth_create_principal_with_oid (here a stand-in
    with Azure's signature in the test's own database, passed as the postgres-database engine), with
    the name and the object id as bound values, then grants; a second run creates nothing."""
    role = f"hunter-id-{uuid.uuid4().hex[:8]}"
    object_id = str(uuid.uuid4())
    engine = make_engine(postgres_url, auth="password")
    from shared.store.db import migrate

    migrate(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE pgaadauth_calls (rolename text, objectid text, objecttype text, isadmin bool, ismfa bool)"
        )
        connection.exec_driver_sql(
            "CREATE FUNCTION pgaadauth_create_principal_with_oid(rolename text, objectid text, objecttype text, "
            "isadmin boolean, ismfa boolean) RETURNS text LANGUAGE plpgsql AS $$ BEGIN "
            "INSERT INTO pgaadauth_calls VALUES (rolename, objectid, objecttype, isadmin, ismfa); "
            "EXECUTE format('CREATE ROLE %I LOGIN', rolename); RETURN 'Created role for ' || rolename; END $$"
        )
    try:
        first = create_app_role(engine, role, object_id=object_id, postgres_engine=engine)
        second = create_app_role(engine, role, object_id=object_id, postgres_engine=engine)
        with engine.connect() as connection:
            calls = connection.exec_driver_sql("SELECT * FROM pgaadauth_calls").all()
            can_write = connection.execute(
                sa.text(
                    "SELECT has_table_privilege(:r, 'leads', 'INSERT'), has_table_privilege(:r, 'leads', 'TRUNCATE')"
                ),
                {"r": role},
            ).one()
        assert [tuple(call) for call in calls] == [(role, object_id, "service", False, False)]
        assert "pgaadauth_create_principal_with_oid" in first[0] and len(second) == len(first) - 1
        assert tuple(can_write) == (True, False)
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP OWNED BY {quote_identifier(role)}")
            connection.exec_driver_sql(f"DROP ROLE IF EXISTS {quote_identifier(role)}")
        engine.dispose()


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("HUNTER_")}


# ---- Storage queues without a key (AzureWebJobsStorage__accountName) ----------------------------


def test_queues_connect_with_the_identity_when_there_is_no_connection_string(monkeypatch: pytest.MonkeyPatch):
    from azure.identity import ManagedIdentityCredential

    import shared.queues as queues
    from shared.config import Settings
    from shared.queues.azure import AzureQueue

    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    monkeypatch.setenv("AzureWebJobsStorage__accountName", "hunterst123")
    monkeypatch.setenv("AzureWebJobsStorage__credential", "managedidentity")
    monkeypatch.setenv("AzureWebJobsStorage__clientId", "0f6ae2a4-3c1e-4b8e-9a55-6d1c2b3a4f5e")
    monkeypatch.setattr(queues, "_credentials", {})
    settings = Settings(queue_backend="azure")
    first, second = queues.open_queue("scan-requests", settings), queues.open_queue("d365-push-poison", settings)
    assert isinstance(first, AzureQueue)
    assert first.url == "https://hunterst123.queue.core.windows.net/scan-requests"
    assert second.url == "https://hunterst123.queue.core.windows.net/d365-push-poison"
    credential = first._client.credential
    assert isinstance(credential, ManagedIdentityCredential) and credential is second._client.credential
    monkeypatch.setenv("AzureWebJobsStorage__queueServiceUri", "https://queues.example.net/")
    assert queues.open_queue("notifications", settings).url == "https://queues.example.net/notifications"


def test_no_queue_connection_at_all_is_an_error_that_names_the_settings(monkeypatch: pytest.MonkeyPatch):
    import shared.queues as queues
    from shared.config import Settings

    for name in ("AzureWebJobsStorage", "AzureWebJobsStorage__accountName", "AzureWebJobsStorage__queueServiceUri"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(queues.QueueError, match="AzureWebJobsStorage__accountName"):
        queues.open_queue("scan-requests", Settings(queue_backend="azure"))


# ---- Azure Managed Redis with Entra tokens (a local redis-server with an ACL user) --------------


@pytest.fixture
def acl_redis(tmp_path: Path) -> Iterator[int]:
    """redis-server on a free loopback port: no default user, user ``app`` whose passwords are the
    fake credential's first two tokens (as Azure Managed Redis takes a token for the object id)."""
    import shutil
    import socket
    import time

    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "acl.conf"
    config.write_text("user default off\nuser app on >token-1 >token-2 ~* &* +@all\n")
    process = subprocess.Popen(
        ["redis-server", str(config), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        + ["--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.02)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_redis_signs_in_with_a_token_sync_and_async(acl_redis: int):
    import asyncio

    from shared.redis.connection import RedisConnection
    from shared.store.entra import REDIS_SCOPE

    clock = [1_000_000.0]
    credential = FakeCredential(clock=clock)
    tokens = AccessTokens(REDIS_SCOPE, credential, clock=lambda: clock[0])
    url = f"redis://app@127.0.0.1:{acl_redis}/0"
    connection = RedisConnection(url, timeout=2.0, password_provider=tokens.get)
    try:
        assert connection.call(lambda r: r.set("entra", "yes"), lambda: False) is True
        assert connection.health() == "ok"

        async def through_the_wire() -> list:
            wire = connection.async_wire()
            assert wire is not None
            try:
                return await wire.execute([("GET", "entra")])
            finally:
                await wire.close()

        assert asyncio.run(through_the_wire()) == [b"yes"]
        assert credential.scopes == [REDIS_SCOPE]  # one token for both clients
    finally:
        connection.close()
    # Without the provider the same user is refused: the token is what let it in.
    refused = RedisConnection(url, timeout=2.0)
    assert refused.call(lambda r: r.ping(), lambda: "fallback") == "fallback"
    refused.close()


def test_redis_entra_setting_builds_a_token_provider(monkeypatch: pytest.MonkeyPatch):
    from shared.config import Settings
    from shared.redis import connection as redis_connection

    monkeypatch.setattr(redis_connection, "_connections", {})
    entra = redis_connection.connection_for(
        Settings(redis_url="rediss://oid@cache.example.net:10000/0", redis_auth="entra")
    )
    plain = redis_connection.connection_for(Settings(redis_url="rediss://oid@cache.example.net:10000/0"))
    assert entra is not plain
    assert entra.password_provider is not None and plain.password_provider is None
    assert entra.password_provider.__self__.scope == "https://redis.azure.com/.default"  # type: ignore[attr-defined]
