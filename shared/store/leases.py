"""Named leases in the store: at most one holder runs the job a lease guards, across processes,
machines and function apps (the Azure timer's singleton covers one app, not the local runner)."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from shared.store.models import LeaseRow

T = LeaseRow.__table__


def new_holder() -> str:
    return uuid.uuid4().hex


def acquire(engine: Engine, name: str, holder: str, seconds: float) -> bool:
    """Take (or extend) the lease for ``seconds``; False while someone else holds an unexpired one."""
    now = time.time()
    with engine.begin() as connection:
        taken = connection.execute(
            update(T)
            .where(T.c.name == name, (T.c.expires_at < now) | (T.c.holder == holder))
            .values(holder=holder, expires_at=now + seconds)
        ).rowcount
        if taken:
            return True
        if connection.scalar(select(T.c.name).where(T.c.name == name)) is not None:
            return False
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    try:
        with engine.begin() as connection:
            result = connection.execute(
                insert(T).values(name=name, holder=holder, expires_at=now + seconds).on_conflict_do_nothing()
            )
            return result.rowcount == 1
    except IntegrityError:
        return False


def release(engine: Engine, name: str, holder: str) -> None:
    with engine.begin() as connection:
        connection.execute(delete(T).where(T.c.name == name, T.c.holder == holder))


def holder_of(engine: Engine, name: str) -> str | None:
    with engine.connect() as connection:
        row = connection.execute(select(T.c.holder, T.c.expires_at).where(T.c.name == name)).first()
    return row.holder if row is not None and row.expires_at >= time.time() else None
