"""The integrations' own state in the store: each integration's health (``ok``, ``error``,
``needs_login``) and MSAL's token caches (stored as given: encrypted by the caller when a key is set)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from shared.store.db import upsert
from shared.store.models import IntegrationStateRow, TokenCacheRow, utcnow


def set_state(engine: Engine, name: str, state: str, detail: str | None = None) -> None:
    values = {"name": name, "state": state, "detail": detail, "updated_at": utcnow()}
    stmt = upsert(engine, IntegrationStateRow.__table__).values(values)
    stmt = stmt.on_conflict_do_update(index_elements=["name"], set_={k: stmt.excluded[k] for k in values})
    with engine.begin() as connection:
        connection.execute(stmt)


def get_states(engine: Engine) -> dict[str, IntegrationStateRow]:
    with Session(engine) as session:
        return {row.name: row for row in session.scalars(select(IntegrationStateRow))}


@dataclass(frozen=True)
class StoredCache:
    data: str
    encrypted: bool


def load_token_cache(engine: Engine, name: str) -> StoredCache | None:
    with engine.connect() as connection:
        row = connection.execute(
            select(TokenCacheRow.data, TokenCacheRow.encrypted).where(TokenCacheRow.name == name)
        ).first()
    return StoredCache(row.data, bool(row.encrypted)) if row is not None else None


def save_token_cache(engine: Engine, name: str, data: str, *, encrypted: bool) -> None:
    values = {"name": name, "data": data, "encrypted": encrypted, "updated_at": utcnow()}
    stmt = upsert(engine, TokenCacheRow.__table__).values(values)
    stmt = stmt.on_conflict_do_update(index_elements=["name"], set_={k: stmt.excluded[k] for k in values})
    with engine.begin() as connection:
        connection.execute(stmt)


def delete_token_cache(engine: Engine, name: str) -> None:
    with engine.begin() as connection:
        connection.execute(delete(TokenCacheRow.__table__).where(TokenCacheRow.name == name))
