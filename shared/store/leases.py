"""Named leases in the store: at most one holder runs the job a lease guards, across processes,
machines and function apps (the Azure timer's singleton covers one app, not the local runner)."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError

from shared.store.db import upsert
from shared.store.models import LeaseRow

LEASES = LeaseRow.__table__


def new_holder() -> str:
    return uuid.uuid4().hex


def acquire(engine: Engine, name: str, holder: str, seconds: float) -> bool:
    """Take (or extend) the lease for ``seconds``; False while someone else holds an unexpired one."""
    now = time.time()
    with engine.begin() as connection:
        taken = connection.execute(
            update(LEASES)
            .where(LEASES.c.name == name, (LEASES.c.expires_at < now) | (LEASES.c.holder == holder))
            .values(holder=holder, expires_at=now + seconds)
        ).rowcount
        if taken:
            return True
        if connection.scalar(select(LEASES.c.name).where(LEASES.c.name == name)) is not None:
            return False
    try:
        with engine.begin() as connection:
            row = {"name": name, "holder": holder, "expires_at": now + seconds}
            result = connection.execute(upsert(connection, LEASES).values(row).on_conflict_do_nothing())
            return result.rowcount == 1
    except IntegrityError:
        return False


def release(engine: Engine, name: str, holder: str) -> None:
    with engine.begin() as connection:
        connection.execute(delete(LEASES).where(LEASES.c.name == name, LEASES.c.holder == holder))


def holder_of(engine: Engine, name: str) -> str | None:
    with engine.connect() as connection:
        row = connection.execute(select(LEASES.c.holder, LEASES.c.expires_at).where(LEASES.c.name == name)).first()
    return row.holder if row is not None and row.expires_at >= time.time() else None


# -- deadlines: a lease row whose expiry is a moment every process must wait for ----------------------


def deadline(engine: Engine, name: str) -> float:
    """The shared deadline ``name`` (epoch seconds; 0 when none was ever set)."""
    with engine.connect() as connection:
        value = connection.scalar(select(LEASES.c.expires_at).where(LEASES.c.name == name))
    return value or 0.0


def extend_deadline(engine: Engine, name: str, holder: str, until: float) -> None:
    """Move the shared deadline ``name`` to ``until`` unless it is already later."""
    with engine.begin() as connection:
        connection.execute(
            upsert(connection, LEASES).values(name=name, holder=holder, expires_at=until).on_conflict_do_nothing()
        )
        connection.execute(
            update(LEASES).where(LEASES.c.name == name, LEASES.c.expires_at < until).values(expires_at=until)
        )
