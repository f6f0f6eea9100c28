"""``hunter apikey`` (create, list, revoke) and ``hunter connector export`` (the Power Automate connector)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from shared.cli.common import db_option, err, out, runtime_for, settings_for

if TYPE_CHECKING:
    from shared.store.keys import ApiKeyStore


@click.group()
def apikey() -> None:
    """Create, list and revoke API keys (only a hash is stored)."""


def _key_store(database_url: str | None) -> ApiKeyStore:
    return runtime_for(settings_for(database_url=database_url)).keys


@apikey.command("create")
@click.option("--name", required=True, help="Who or what uses the key, e.g. power-automate.")
@click.option("--scopes", default="read", show_default=True, help="Comma list of read, scan, admin.")
@click.option(
    "--rate-limit", type=click.IntRange(1, 100_000), default=600, show_default=True, help="Requests per minute."
)
@db_option
def apikey_create(name: str, scopes: str, rate_limit: int, database_url: str | None) -> None:
    """Create a key and print it once."""
    from shared.store.keys import ApiKeyError, parse_scopes

    try:
        key, row = _key_store(database_url).create(name, parse_scopes(scopes), rate_limit)
    except ApiKeyError as exc:
        raise click.ClickException(str(exc)) from None
    err.print(f"Key {row.name!r} ({row.scopes}, {row.rate_limit_per_minute}/min). Shown once, store it now:")
    out.file.write(key + "\n")


@apikey.command("list")
@db_option
def apikey_list(database_url: str | None) -> None:
    """List keys (never their secrets)."""
    table = Table("Name", "Id", "Scopes", "Limit/min", "Created", "Revoked", header_style="bold")
    for row in _key_store(database_url).list():
        table.add_row(
            row.name,
            row.id,
            row.scopes,
            str(row.rate_limit_per_minute),
            f"{row.created_at:%Y-%m-%d %H:%M}",
            f"{row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "",
        )
    out.print(table)


@apikey.command("revoke")
@click.argument("name")
@db_option
def apikey_revoke(name: str, database_url: str | None) -> None:
    """Revoke a key by name or id."""
    from shared.store.keys import ApiKeyError

    try:
        row = _key_store(database_url).revoke(name)
    except ApiKeyError as exc:
        raise click.ClickException(str(exc)) from None
    err.print(f"Revoked {row.name!r}.")


@click.group()
def connector() -> None:
    """The Power Automate custom connector (OpenAPI 2.0 definition and properties)."""


@connector.command("export")
@click.option(
    "--out",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("connector"),
    show_default=True,
    help="Folder for apiDefinition.swagger.json and apiProperties.json.",
)
@click.option(
    "--host",
    default="localhost:7071",
    show_default=True,
    help="The API host as Power Automate will call it, e.g. hunter-func.azurewebsites.net.",
)
def connector_export(directory: Path, host: str) -> None:
    """Write the connector files generated from the routing table (import them in Power Automate)."""
    from shared.api.swagger import export_connector

    for path in export_connector(directory, host=host):
        err.print(f"wrote {path}")
