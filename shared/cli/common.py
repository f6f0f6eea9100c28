"""What every ``hunter`` sub-command module shares: the consoles, ``--db``, settings and engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from rich.console import Console

from shared.config import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

out = Console(highlight=False)
if not out.is_terminal:  # piped or captured: do not squeeze tables into 80 columns
    out = Console(highlight=False, width=200)
err = Console(stderr=True, highlight=False)
db_option = click.option("--db", "database_url", help="Database URL (default HUNTER_DATABASE_URL).")


def settings_for(database_url: str | None) -> Settings:
    settings = get_settings()
    return settings.model_copy(update={"database_url": database_url}) if database_url else settings


def context_for(database_url: str | None) -> tuple[Settings, Engine]:
    """Settings (with ``--db`` applied) and the migrated engine for them."""
    from shared.store.db import engine_for

    settings = settings_for(database_url)
    return settings, engine_for(settings.database_url)
