"""What every ``hunter`` command module shares: the consoles, ``--db``, settings and the runtime.

This is the CLI's composition point: a command turns its options into :class:`Settings` with
:func:`settings_for` and gets its store, queues and caches from :func:`runtime_for`, the same
:class:`~shared.runtime.Runtime` the HTTP and queue triggers use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from rich.console import Console

from shared.config import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from shared.runtime import Runtime

out = Console(highlight=False)
if not out.is_terminal:  # piped or captured: do not squeeze tables into 80 columns
    out = Console(highlight=False, width=200)
err = Console(stderr=True, highlight=False)
db_option = click.option("--db", "database_url", help="Database URL (default HUNTER_DATABASE_URL or sqlite:///hunter.db).")
TABLE_LIMIT = 500  # a bigger run prints a summary; the leads are in the database


def settings_for(database_url: str | None = None, **overrides: object) -> Settings:
    """The environment's settings with ``--db`` and any other given (not None, not empty) option applied."""
    settings = get_settings()
    updates = {k: v for k, v in {"database_url": database_url, **overrides}.items() if v not in (None, ())}
    return settings.model_copy(update=updates) if updates else settings


def runtime_for(settings: Settings) -> Runtime:
    """A runtime for these settings, installed as the process's runtime (handlers called from the CLI share it)."""
    from shared.runtime import Runtime, set_runtime

    runtime = Runtime(settings)
    set_runtime(runtime)
    return runtime


def settings_and_engine(database_url: str | None) -> tuple[Settings, Engine]:
    """Settings (with ``--db`` applied) and the engine for them."""
    runtime = runtime_for(settings_for(database_url))
    return runtime.settings, runtime.engine
