"""The ``hunter`` command (also ``python -m shared``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shared import aio
from shared.config import Settings, get_settings

out = Console(highlight=False)
if not out.is_terminal:  # piped or captured: do not squeeze the table into 80 columns
    out = Console(highlight=False, width=200)
err = Console(stderr=True, highlight=False)

TABLE_LIMIT = 500  # a bigger run prints a summary; the leads are in the database


def _settings(**overrides: object) -> Settings:
    settings = get_settings()
    updates = {k: v for k, v in overrides.items() if v not in (None, ())}
    return settings.model_copy(update=updates) if updates else settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hunter")
def main() -> None:
    """Hunter: mail-provider intelligence and lead scoring from public DNS.

    Settings come from HUNTER_* environment variables (see local.settings.example.json);
    the defaults need nothing installed: a SQLite file hunter.db and the system resolver.
    """


@main.command()
@click.argument("domains", nargs=-1)
@click.option(
    "-i",
    "--input",
    "input_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A .txt, .csv or .xlsx file of domains, URLs or e-mail addresses ('-' reads stdin).",
)
@click.option("--column", help="The file's column holding the domains (auto-detected otherwise).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line on stdout.")
@click.option("--save/--no-save", default=True, show_default=True, help="Store results in the database.")
@click.option("--nameserver", "nameservers", multiple=True, help="DNS server host[:port]; repeatable.")
@click.option("--concurrency", type=click.IntRange(1, 5000), help="Domains scanned at once.")
@click.option("--whois/--no-whois", default=None, help="Look up registration data (slow; default from settings).")
@click.option("--db", "database_url", help="Database URL (default HUNTER_DATABASE_URL or sqlite:///hunter.db).")
def scan(
    domains: tuple[str, ...],
    input_file: Path | None,
    column: str | None,
    as_json: bool,
    save: bool,
    nameservers: tuple[str, ...],
    concurrency: int | None,
    whois: bool | None,
    database_url: str | None,
) -> None:
    """Scan DOMAINS (or a file of them) and show provider, security posture and score.

    \b
    Examples:
      hunter scan acme.com.tr https://www.example.co.uk/contact info@firma.com.tr
      hunter scan --input leads.xlsx --json > results.jsonl
    Per-domain failures (no MX, timeouts, bad input) are results, not errors: the exit code
    is 0 when the run completed.
    """
    from shared.inputs import InputFileError, from_values, read_file
    from shared.pipeline import run_pipeline

    if not domains and input_file is None:
        raise click.UsageError("give one or more DOMAINS or --input FILE")
    settings = _settings(
        dns_nameservers=list(nameservers) or None,
        scan_concurrency=concurrency,
        whois_enabled=whois,
        database_url=database_url,
    )
    repository = _repository(settings) if save else None

    rows: Iterator = from_values(domains)
    total: int | None = len(domains)
    if input_file is not None:
        if str(input_file) == "-":
            rows, total = from_values(line.strip() for line in sys.stdin if line.strip()), None
        else:
            rows, total = read_file(input_file, column), _count_lines(input_file)
    show_progress = input_file is not None and err.is_terminal or (input_file is not None and total and total > 1)
    collected = []

    def on_result(result) -> None:
        if as_json:
            from shared.report import result_json

            out.file.write(json.dumps(result_json(result), ensure_ascii=False, default=str) + "\n")
        elif len(collected) < TABLE_LIMIT:
            collected.append(result)
        if progress is not None:
            progress.advance(task)

    progress = task = None
    try:
        if show_progress:
            progress = Progress(
                TextColumn("[bold]scanning"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                console=err,
                transient=False,
            )
            task = progress.add_task("scan", total=total, rate="")
            progress.start()
        summary = aio.run(run_pipeline(rows, settings, repository, on_result))
    except InputFileError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if progress is not None:
            progress.stop()
    if not as_json:
        _print_table(collected)
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(summary.by_status.items()))
    err.print(
        f"{summary.scanned} scanned, {summary.invalid} invalid, {summary.duplicates} duplicates collapsed "
        f"in {summary.elapsed:.1f}s ({summary.rate:.0f}/s) — {statuses}"
    )


def _count_lines(path: Path) -> int | None:
    if path.suffix.lower() in (".xlsx", ".xlsm") or not path.exists():
        return None
    with path.open("rb") as handle:
        return max(0, sum(1 for _ in handle) - (1 if path.suffix.lower() in (".csv", ".tsv") else 0))


def _repository(settings: Settings):
    from shared.store.db import engine_for
    from shared.store.repository import Repository

    return Repository(engine_for(settings.database_url))


def _print_table(results: list) -> None:
    if not results:
        return
    table = Table(show_lines=False, header_style="bold")
    for name in (
        "Domain",
        "Status",
        "Provider",
        "Host / gateway",
        "SPF",
        "DMARC",
        "DKIM",
        "M365 tenant",
        "Score",
        "Priority",
    ):
        table.add_column(name, overflow="fold")
    for result in results:
        record, score = result.record, result.score
        host = " / ".join(filter(None, [record.local_provider, record.gateway]))
        spf = "—" if record.spf is None else (record.spf.all or "ok") if record.spf.valid else "invalid"
        dmarc = "—"
        if record.dmarc is not None:
            dmarc = f"{record.dmarc.policy} {record.dmarc.pct}%" if record.dmarc.valid else "invalid"
        table.add_row(
            record.domain_unicode or record.input,
            record.status.value if not record.error else f"{record.status.value}: {record.error}",
            record.provider or "—",
            host or "",
            spf,
            dmarc,
            ",".join(record.dkim_found) or "—",
            record.m365.tenant_domain or "",
            str(score.score) if score else "",
            f"{score.priority_category} {score.priority_label}" if score else "",
        )
        for event in result.events:
            table.add_row("", f"[yellow]changed[/]: {event.summary}", "", "", "", "", "", "", "", "")
    out.print(table)


@main.command()
@click.option("--db", "database_url", help="Database URL (default HUNTER_DATABASE_URL).")
def migrate(database_url: str | None) -> None:
    """Create or upgrade the database schema (runs automatically on first use too)."""
    from shared.store.db import make_engine
    from shared.store.db import migrate as run_migrations

    settings = _settings(database_url=database_url)
    run_migrations(make_engine(settings.database_url))
    err.print(f"schema is up to date in {settings.database_url}")
