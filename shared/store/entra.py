"""Microsoft Entra access tokens as passwords, and the app's least-privilege PostgreSQL role.

On Azure the app holds no database password: PostgreSQL Flexible Server (``authConfig.activeDirectoryAuth``)
and Azure Managed Redis accept an Entra access token of the app's managed identity as the password of
the role (or user) named after it. With ``HUNTER_DATABASE_AUTH=entra`` every *new* connection of the
engine gets a token through SQLAlchemy's ``do_connect`` event (:func:`use_entra_tokens`); a pooled
connection keeps working after its token expires, since the token is only checked at sign-in. A
token is fetched once and reused until :data:`REFRESH_MARGIN` seconds before it expires.

The credential is azure-identity's: ``ManagedIdentityCredential(client_id=AZURE_CLIENT_ID)`` on
Azure (the user-assigned identity the Bicep template creates), else ``DefaultAzureCredential``
(a developer's ``az login``, workload identity, environment variables) — which is how the deploy
hook's ``hunter migrate`` signs in as the server's Entra administrator.

:func:`app_role_statements` is the SQL that gives the app's identity its database role: on Azure
through ``pgaadauth_create_principal_with_oid`` (the role is bound to the identity's object id),
elsewhere a plain ``CREATE ROLE … LOGIN``; then CONNECT, schema USAGE and DML only (no DDL, no
ownership, never the administrator).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

POSTGRES_SCOPE = "https://ossrdbms-aad.database.windows.net/.default"
REDIS_SCOPE = "https://redis.azure.com/.default"
REFRESH_MARGIN = 300.0  # seconds before its expiry a token is replaced (tokens live 60-90 minutes)


class TokenCredential(Protocol):
    """What azure-identity's credentials offer: ``get_token(scope) -> AccessToken(token, expires_on)``."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any: ...


def default_credential() -> TokenCredential:
    """The app's identity on Azure, a developer's sign-in elsewhere (imported on first use)."""
    client_id = os.environ.get("AZURE_CLIENT_ID") or None
    on_azure = bool(os.environ.get("IDENTITY_ENDPOINT") or os.environ.get("MSI_ENDPOINT"))
    if on_azure:
        from azure.identity import ManagedIdentityCredential

        return ManagedIdentityCredential(client_id=client_id)
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(managed_identity_client_id=client_id)


class AccessTokens:
    """Tokens for one scope: fetched on first use, renewed ``margin`` seconds before expiry. Thread-safe."""

    def __init__(
        self,
        scope: str,
        credential: TokenCredential | None = None,
        *,
        margin: float = REFRESH_MARGIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.scope = scope
        self._credential = credential
        self.margin = margin
        self.clock = clock
        self.fetches = 0  # tokens asked for (tests and diagnostics)
        self._token: str | None = None
        self._expires_on = 0.0
        self._lock = threading.Lock()

    @property
    def credential(self) -> TokenCredential:
        if self._credential is None:
            self._credential = default_credential()
        return self._credential

    def get(self) -> str:
        """A token valid for at least ``margin`` more seconds."""
        token = self._token
        if token is not None and self.clock() < self._expires_on - self.margin:
            return token
        with self._lock:
            if self._token is None or self.clock() >= self._expires_on - self.margin:
                access = self.credential.get_token(self.scope)
                self._token, self._expires_on = access.token, float(access.expires_on)
                self.fetches += 1
            return self._token


def use_entra_tokens(engine: Any, tokens: AccessTokens) -> None:
    """Hand every new DBAPI connection of ``engine`` a fresh-enough token as its password."""
    from sqlalchemy import event

    @event.listens_for(engine, "do_connect")
    def _token_as_password(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        cparams["password"] = tokens.get()


_POSTGRES_TOKENS: dict[str, AccessTokens] = {}


def postgres_tokens() -> AccessTokens:
    """The process's PostgreSQL tokens (one credential, one cached token for every engine)."""
    tokens = _POSTGRES_TOKENS.get(POSTGRES_SCOPE)
    if tokens is None:
        tokens = _POSTGRES_TOKENS.setdefault(POSTGRES_SCOPE, AccessTokens(POSTGRES_SCOPE))
    return tokens


# ---- the app's database role ------------------------------------------------------------------

# PostgreSQL role names are identifiers up to 63 bytes; managed identities are named with letters,
# digits, '-' and '_'. Anything else is refused rather than quoted into a statement.
_ROLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,62}$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")
_OBJECT_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class Statement:
    """One SQL statement with its bound parameters. ``create`` ones run only when the role is missing;
    ``admin_database`` ones run in the server's ``postgres`` database (where pgaadauth lives)."""

    sql: str
    params: dict[str, str]
    create: bool = False
    admin_database: bool = False


def quote_identifier(name: str) -> str:
    """``name`` as an always-quoted PostgreSQL identifier (``"`` doubled)."""
    return '"' + name.replace('"', '""') + '"'


def app_role_statements(
    role: str, database: str, *, object_id: str | None = None, schema: str = "public"
) -> list[Statement]:
    """The statements that create ``role`` (if missing) and grant it what the app needs in ``database``.

    With ``object_id`` (Azure): ``pgaadauth_create_principal_with_oid`` in the ``postgres``
    database, which binds the role to the managed identity (``service`` principal, not an admin,
    no MFA). Without: ``CREATE ROLE … LOGIN`` (no password: trust, peer or certificate sign-in).
    Then CONNECT on the database, USAGE on the schema, DML on its tables and sequences, and the
    same for tables later migrations create (default privileges of the role running this: the
    one that migrates). Names are validated and always quoted; values are bound parameters.
    """
    if not _ROLE_NAME.match(role):
        raise ValueError(f"not a role name this command creates: {role!r} (letters, digits, - _ . @; at most 63)")
    if object_id is not None and not _OBJECT_ID.match(object_id):
        raise ValueError(f"not an Entra object id (a GUID): {object_id!r}")
    for name in (database, schema):
        if not _IDENTIFIER.match(name or ""):
            raise ValueError(f"not a database or schema name this command grants on: {name!r}")
    r, d, s = quote_identifier(role), quote_identifier(database), quote_identifier(schema)
    if object_id is not None:
        create = Statement(
            "SELECT * FROM pgaadauth_create_principal_with_oid(:role, :object_id, 'service', false, false)",
            {"role": role, "object_id": object_id},
            create=True,
            admin_database=True,
        )
    else:
        create = Statement(f"CREATE ROLE {r} LOGIN", {}, create=True)  # DDL takes no parameters: quoted above
    return [
        create,
        Statement(f"GRANT CONNECT, TEMPORARY ON DATABASE {d} TO {r}", {}),
        Statement(f"GRANT USAGE ON SCHEMA {s} TO {r}", {}),
        Statement(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {r}", {}),
        Statement(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {s} TO {r}", {}),
        Statement(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {r}", {}),
        Statement(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {r}", {}),
    ]


def create_app_role(
    engine: Any, role: str, *, object_id: str | None = None, postgres_engine: Any = None, schema: str = "public"
) -> list[str]:
    """Run :func:`app_role_statements` as the administrator: ``engine`` on the app's database and, on
    Azure (``object_id``), ``postgres_engine`` on the same server's ``postgres`` database. Idempotent:
    an existing role is kept and granted again. Returns the SQL that ran."""
    from sqlalchemy import text

    statements = app_role_statements(role, engine.url.database, object_id=object_id, schema=schema)
    run: list[str] = []
    with engine.connect() as connection:
        exists = connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}).first()
    for statement in statements:
        if statement.create and exists:
            continue
        target = engine
        if statement.admin_database:
            if postgres_engine is None:
                raise ValueError("an Entra principal is created in the postgres database: pass postgres_engine")
            target = postgres_engine
        with target.begin() as connection:
            if statement.params:
                connection.execute(text(statement.sql), statement.params)
            else:
                connection.exec_driver_sql(statement.sql)
        run.append(statement.sql)
    return run
