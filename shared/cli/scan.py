"""``hunter scan`` and ``hunter demo``: scan domains now, in this process (or its worker processes)."""

from __future__ import annotations

import itertools
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shared import aio
from shared.cli.common import TABLE_LIMIT, db_option, err, out, runtime_for, settings_for


@click.command()
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
@click.option(
    "--concurrency",
    type=click.IntRange(1, 5000),
    help="Domains scanned at once per worker process (default: HUNTER_SCAN_CONCURRENCY, shared by the workers).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 32),
    help="Worker processes for --input FILE (default: one per core for a text file of 1,000+ rows, else 1).",
)
@click.option("--whois/--no-whois", default=None, help="Look up registration data (slow; default from settings).")
@click.option(
    "--async",
    "as_job",
    is_flag=True,
    help="Submit the list as a bulk job on the queue and follow its progress (workers do the scanning).",
)
@db_option
def scan(
    domains: tuple[str, ...],
    input_file: Path | None,
    column: str | None,
    as_json: bool,
    save: bool,
    nameservers: tuple[str, ...],
    concurrency: int | None,
    workers: int | None,
    whois: bool | None,
    as_job: bool,
    database_url: str | None,
) -> None:
    """Scan DOMAINS (or a file of them) and show provider, security posture and score.

    \b
    Examples:
      hunter scan acme.com.tr https://www.example.co.uk/contact info@firma.com.tr
      hunter scan --input leads.xlsx --json > results.jsonl
      hunter scan --input leads.xlsx --async      (queued: `hunter worker` or `hunter serve` scans it)
    Per-domain failures (no MX, timeouts, bad input) are results, not errors: the exit code
    is 0 when the run completed.
    """
    from shared.core.inputs import InputFileError, from_values, read_file

    if not domains and input_file is None:
        raise click.UsageError("give one or more DOMAINS or --input FILE")
    settings = settings_for(
        dns_nameservers=list(nameservers) or None,
        scan_concurrency=concurrency,
        scan_workers=workers,
        whois_enabled=whois,
        database_url=database_url,
    )
    reading_file = input_file is not None and str(input_file) != "-"
    if input_file is not None and reading_file and not input_file.exists():
        raise click.ClickException(f"{input_file} does not exist")
    rows: Iterator = from_values(domains)
    total: int | None = len(domains)
    if input_file is not None:
        if reading_file:
            rows, total = read_file(input_file, column), _count_lines(input_file)
        else:
            rows, total = from_values(line.strip() for line in sys.stdin if line.strip()), None
    if reading_file and workers is None and "scan_workers" not in settings.model_fields_set:
        settings = settings.model_copy(update={"scan_workers": _default_workers(total)})
    if reading_file and settings.scan_workers > 1 and "scan_concurrency" not in settings.model_fields_set:
        # The default number of domains in flight is shared by the processes, not given to each: the same
        # total keeps the DNS side as busy, and on a CPU-bound scan halves the queueing behind busy cores.
        split = max(64, settings.scan_concurrency // settings.scan_workers)
        settings = settings.model_copy(update={"scan_concurrency": split})
    if as_job:
        from shared.cli.queue import submit_and_follow

        try:
            submit_and_follow(rows, settings, source=input_file.name if input_file is not None else "cli")
        except InputFileError as exc:
            raise click.ClickException(str(exc)) from None
        return
    collected: list[dict] = []

    def on_line(line: str) -> None:
        if as_json:
            out.file.write(line + "\n")
        elif len(collected) < TABLE_LIMIT:
            collected.append(json.loads(line))
        if progress is not None:
            progress.advance(task)

    progress = task = None
    if input_file is not None:
        from shared.scan.gc_tuning import tune_for_bulk_scan

        tune_for_bulk_scan()
    try:
        if input_file is not None and err.is_terminal:  # a redirected stderr gets the summary line only
            progress = Progress(
                TextColumn("[bold]scanning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
            )
            task = progress.add_task("scan", total=total)
            progress.start()
        if reading_file and settings.scan_workers > 1:
            from shared.services.parallel_scan import scan_file_in_workers

            list(itertools.islice(read_file(input_file, column), 1))  # a bad file fails here, not in a worker
            summary = scan_file_in_workers(input_file, column, settings, settings.scan_workers, save, on_line)
        else:  # the scanner's modules are imported here only: a parent of worker processes does not need them
            from shared.core.results import result_line
            from shared.scan.pipeline import run_pipeline
            from shared.services.after_scan import AfterScan

            store = AfterScan(runtime_for(settings)) if save else None
            summary = aio.run(run_pipeline(rows, settings, store, lambda r: on_line(result_line(r))))
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


PARALLEL_MIN_ROWS = 1_000  # below this a second process costs more (its start-up) than it saves


def _default_workers(rows: int | None) -> int:
    """One scanner process per usable core for a text file big enough to pay for their start-up; one for
    a small file and for a spreadsheet (every worker would parse the whole workbook)."""
    if rows is None or rows < PARALLEL_MIN_ROWS:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, 32))


def _count_lines(path: Path) -> int | None:
    if path.suffix.lower() in (".xlsx", ".xlsm") or not path.exists():
        return None
    with path.open("rb") as handle:
        return max(0, sum(1 for _ in handle) - (1 if path.suffix.lower() in (".csv", ".tsv") else 0))


def _print_table(rows: list[dict]) -> None:
    """Render result dicts (the ``--json`` shape) as a table."""
    if not rows:
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
    for row in rows:
        spf, dmarc = row["spf"], row["dmarc"]
        spf_text = "—" if spf is None else (spf["all"] or "ok") if spf["valid"] else "invalid"
        dmarc_text = "—" if dmarc is None else f"{dmarc['policy']} {dmarc['pct']}%" if dmarc["valid"] else "invalid"
        status = row["status"] if not row["error"] else f"{row['status']}: {row['error']}"
        table.add_row(
            row["domain_unicode"] or row["input"],
            status,
            row["provider"] or "—",
            " / ".join(filter(None, [row["local_provider"], row["gateway"]])),
            spf_text,
            dmarc_text,
            ",".join(row["dkim"]) or "—",
            row["m365"]["tenant_domain"] or "",
            "" if row["score"] is None else str(row["score"]),
            f"{row['priority_category']} {row['priority_label']}" if row["priority_category"] else "",
        )
        for change in row["changes"]:
            table.add_row("", f"[yellow]changed[/]: {change['summary']}", "", "", "", "", "", "", "", "")
    out.print(table)


@click.command()
@db_option
@click.option("--lang", type=click.Choice(["tr", "en"]), help="Language of the sample sales summary.")
def demo(database_url: str | None, lang: str | None) -> None:
    """Scan the bundled sample companies against a bundled DNS server: works offline.

    The sample data (shared/demo) holds fictional Turkish companies on Microsoft 365,
    Google, Yandex, Zoho, GoDaddy, a Mimecast gateway and their own servers. Results go to
    the database like any scan; then try `hunter leads` and `hunter lead DOMAIN`.
    """
    from importlib import resources

    from shared.cli.leads import print_lead
    from shared.core.inputs import read_file
    from shared.core.results import result_json
    from shared.demo.dnsserver import RecordSet, Responder, serve
    from shared.scan.pipeline import run_pipeline
    from shared.services.after_scan import AfterScan
    from shared.services.explain import explain_lead

    demo_dir = resources.files("shared.demo")
    records = RecordSet((demo_dir / "records.txt").read_text(encoding="utf-8"))
    settings = settings_for(database_url=database_url, whois_enabled=False)
    runtime = runtime_for(settings)
    collected: list = []

    async def run():
        host, port = await serve(Responder(records.lookup, records.special), "127.0.0.1", 0, 0.0)
        demo_settings = settings.model_copy(update={"dns_nameservers": [f"{host}:{port}"], "dns_timeout": 1.0})
        return await run_pipeline(
            read_file(str(demo_dir / "companies.csv")),
            demo_settings,
            AfterScan(runtime),
            lambda r: collected.append(result_json(r)),
        )

    summary = aio.run(run())
    _print_table(sorted(collected, key=lambda r: -(r["priority_score"] if r["priority_score"] is not None else -1)))
    err.print(
        f"{summary.scanned} scanned, {summary.invalid} invalid, {summary.duplicates} duplicates collapsed; "
        f"saved to {settings.database_url}"
    )
    explanation = explain_lead(runtime.leads, "anadolu-tekstil.com.tr")
    out.print()
    if explanation is not None:
        print_lead(explanation, explanation.summary(lang or settings.default_lang))
    out.print(
        "\n[dim]Next: hunter leads --priority P1 --priority P2 · hunter lead bogazici-yazilim.com --lang en · "
        "hunter scan --input your-list.xlsx[/]"
    )
