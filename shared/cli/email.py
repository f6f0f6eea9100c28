"""``hunter email validate``: check addresses (syntax, normal form, the domain's mail DNS, free-mail,
role and disposable flags). DNS only: Hunter never sends mail and never probes a mailbox."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shared.cli.common import err, out, settings_for

PROGRESS_FROM = 50  # addresses; fewer finish before a bar would be worth drawing


def read_addresses(path: Path) -> list[str]:
    """One address per line, or a CSV/TSV with the address in some column (the first cell holding an @);
    a first line without any @ is a header and skipped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = path.read_text(encoding="cp1254")  # Excel's Turkish CSV
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror or exc}") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    delimiter = next((d for d in ("\t", ";", ",") if d in lines[0]), None)
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)) if delimiter else [[x] for x in lines]
    addresses = []
    for index, row in enumerate(rows):
        cells = [cell.strip() for cell in row if cell.strip()]
        if not cells:
            continue
        found = next((cell for cell in cells if "@" in cell), None)
        if found is None and index == 0:
            continue  # a header row
        addresses.append(found or cells[0])
    return addresses


def _flag(value: bool | None) -> str:
    return {True: "[green]yes[/]", False: "[red]no[/]", None: "[yellow]?[/]"}[value]


@click.group()
def email() -> None:
    """E-mail tools (DNS only: no mail is sent, no mailbox is probed)."""


@email.command()
@click.argument("addresses", nargs=-1)
@click.option(
    "--input",
    "input_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file of addresses: one per line, or a CSV/TSV with an address column.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per address (the API's result items).")
def validate(addresses: tuple[str, ...], input_file: Path | None, as_json: bool) -> None:
    """Check ADDRESSES (and/or those in --input): syntax, normal form, deliverability by DNS
    (MX, else A/AAAA), free-mail, role account and disposable flags."""
    from shared.services.email_tools import validate_emails

    emails = list(addresses) + (read_addresses(input_file) if input_file is not None else [])
    if not emails:
        raise click.UsageError("give addresses or --input FILE")
    settings = settings_for()
    progress = None
    if len(emails) >= PROGRESS_FROM:
        progress = Progress(
            TextColumn("[bold]checking"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
        )
        task = progress.add_task("emails", total=len(emails))
        progress.start()
    try:
        results = validate_emails(  # no overall time cap here: a long file takes what its domains take
            settings,
            emails,
            progress=None if progress is None else lambda n: progress.advance(task, n),
            budget=float("inf"),
        )
    finally:
        if progress is not None:
            progress.stop()
    if as_json:
        for item in results:
            out.file.write(json.dumps(item, ensure_ascii=False) + "\n")
        return
    table = Table(
        "E-mail", "Normalised", "Deliverable", "Free mail", "Role", "Disposable", "Reason", header_style="bold"
    )
    for item in results:
        table.add_row(
            item["email"],
            item["normalized"] or "—",
            _flag(item["deliverable"]),
            _flag(item["free_mail"]),
            _flag(item["role_account"]),
            _flag(item["disposable"]),
            item["detail"] or item["reason"] or "",
            style=None if item["valid_syntax"] else "dim",
        )
    out.print(table)
    deliverable = sum(1 for item in results if item["deliverable"])
    err.print(f"{len(results)} addresses · {deliverable} deliverable by DNS · no mail was sent")
