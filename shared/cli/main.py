"""The ``hunter`` command (also ``python -m shared``)."""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
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
@click.option("--concurrency", type=click.IntRange(1, 5000), help="Domains scanned at once (per worker).")
@click.option("--workers", type=click.IntRange(1, 32), help="Worker processes for --input FILE (default 1).")
@click.option("--whois/--no-whois", default=None, help="Look up registration data (slow; default from settings).")
@click.option(
    "--async",
    "as_job",
    is_flag=True,
    help="Submit the list as a bulk job on the queue and follow its progress (workers do the scanning).",
)
@click.option("--db", "database_url", help="Database URL (default HUNTER_DATABASE_URL or sqlite:///hunter.db).")
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
    from shared.core.results import result_line
    from shared.scan.pipeline import run_pipeline

    if not domains and input_file is None:
        raise click.UsageError("give one or more DOMAINS or --input FILE")
    settings = _settings(
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
    try:
        if input_file is not None:
            progress = Progress(
                TextColumn("[bold]scanning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
            )
            task = progress.add_task("scan", total=total)
            progress.start()
        if reading_file and settings.scan_workers > 1:
            from shared.scan.parallel import scan_file_in_workers

            list(itertools.islice(read_file(input_file, column), 1))  # a bad file fails here, not in a worker
            summary = scan_file_in_workers(input_file, column, settings, settings.scan_workers, save, on_line)
        else:
            repository = _repository(settings) if save else None
            summary = aio.run(run_pipeline(rows, settings, repository, lambda r: on_line(result_line(r))))
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
    from shared.store.leads import Repository

    return Repository(engine_for(settings.database_url))


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


@main.command()
@click.option("--db", "database_url", help="Database URL (default HUNTER_DATABASE_URL).")
def migrate(database_url: str | None) -> None:
    """Create or upgrade the database schema (runs automatically on first use too)."""
    from shared.store.db import make_engine
    from shared.store.db import migrate as run_migrations

    settings = _settings(database_url=database_url)
    run_migrations(make_engine(settings.database_url))
    err.print(f"schema is up to date in {settings.database_url}")


@main.command()
@click.argument("domain")
@click.option(
    "--lang", type=click.Choice(["tr", "en"]), help="Language of the sales summary (default HUNTER_DEFAULT_LANG)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the lead as one JSON object.")
@click.option("--db", "database_url", help="Database URL (default HUNTER_DATABASE_URL).")
def lead(domain: str, lang: str | None, as_json: bool, database_url: str | None) -> None:
    """Show a stored lead: score breakdown, priority, sales summary and change history."""
    from shared.core.domains import InvalidDomainError
    from shared.services.explain import LeadNotFoundError, lead_detail

    settings = _settings(database_url=database_url)
    try:
        detail = lead_detail(_repository(settings), domain, lang=lang or settings.default_lang)
    except InvalidDomainError as exc:
        raise click.BadParameter(exc.reason, param_hint="DOMAIN") from None
    except LeadNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        out.file.write(
            json.dumps(
                {
                    "domain": detail.record.domain,
                    "domain_unicode": detail.record.domain_unicode,
                    "provider": detail.record.provider,
                    "score": detail.score.model_dump(mode="json"),
                    "sales_summary": detail.summary.model_dump(mode="json"),
                    "changes": [
                        {
                            "kind": e.kind,
                            "before": e.before,
                            "after": e.after,
                            "summary": e.summary,
                            "at": e.at.isoformat(),
                        }
                        for e in detail.events
                    ],
                },
                ensure_ascii=False,
            )
            + "\n"
        )
        return
    _print_lead(detail)


def _print_lead(detail) -> None:
    record, score, summary = detail.record, detail.score, detail.summary
    out.print(
        f"[bold]{record.domain_unicode or record.domain}[/]  {record.provider or record.status.value}"
        + (f" via {record.gateway}" if record.gateway else "")
        + (f" ({record.local_provider})" if record.local_provider else "")
    )
    out.print(
        f"[bold]{score.priority_category} {summary.priority_label}[/] · score {score.score} · "
        f"{score.segment.value} · {score.commercial_segment.value} · rules {score.rules_version}"
    )
    table = Table("Rule", "Points", "Why", header_style="bold")
    turkish = summary.metadata.lang == "tr"
    for item in score.breakdown:
        table.add_row(item.rule, f"{item.points:+d}", (item.reason_tr if turkish else None) or item.reason)
    table.add_row("[bold]total[/]", f"[bold]{score.score}[/]", "")
    out.print(table)
    out.print(f"\n[bold]{summary.one_liner}[/]")
    for line in summary.call_script:
        out.print(f"  » {line}")
    out.print("\n[bold]?[/] " + "\n[bold]?[/] ".join(summary.discovery_questions))
    if summary.offer_tier is not None:
        out.print(f"\n[bold]Offer:[/] {summary.offer_tier.name} — {summary.offer_tier.reason}")
    out.print(f"[bold]Urgency:[/] {summary.urgency.level} — {summary.urgency.reason}")
    for finding in summary.security_findings:
        out.print(f"  ! {finding}")
    out.print(f"[bold]Next:[/] {summary.next_action}")
    if detail.events:
        out.print("\n[bold]History[/]")
        for event in detail.events:
            out.print(f"  {event.at:%Y-%m-%d %H:%M}  {event.summary}")


@main.command()
@click.option("--segment", multiple=True, help="Existing, Migration, Cold or Skip; repeatable.")
@click.option("--priority", multiple=True, help="P1..P6; repeatable.")
@click.option("--provider", multiple=True, help="M365, Google, Local, ...; repeatable.")
@click.option("--commercial-segment", multiple=True, help="GREENFIELD, COMPETITIVE, ...; repeatable.")
@click.option("--min-score", type=click.IntRange(0, 100))
@click.option("--max-score", type=click.IntRange(0, 100))
@click.option("-q", "--search", help="Substring of the domain or company name.")
@click.option(
    "--sort",
    default="-priority",
    show_default=True,
    help="score, priority, domain, scanned_at, changed_at or provider; prefix - for descending.",
)
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per lead.")
@click.option("--db", "database_url", help="Database URL (default HUNTER_DATABASE_URL).")
def leads(
    segment,
    priority,
    provider,
    commercial_segment,
    min_score,
    max_score,
    search,
    sort,
    limit,
    offset,
    as_json,
    database_url,
) -> None:
    """List stored leads, best first, with filters."""
    from pydantic import ValidationError

    from shared.store.queries import LeadFilter

    try:
        lead_filter = LeadFilter(
            segment=list(segment),
            priority=list(priority),
            provider=list(provider),
            commercial_segment=list(commercial_segment),
            min_score=min_score,
            max_score=max_score,
            q=search,
            sort=sort,
            limit=limit,
            offset=offset,
        )
    except ValidationError as exc:
        raise click.UsageError("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None
    rows, total = _repository(_settings(database_url=database_url)).leads(lead_filter)
    if as_json:
        for row in rows:  # the same fields as an item of GET /api/v1/leads
            out.file.write(json.dumps(row, ensure_ascii=False, default=lambda v: v.isoformat()) + "\n")
    else:
        table = Table(
            "Domain",
            "Priority",
            "Score",
            "Segment",
            "Commercial",
            "Provider",
            "Host / gateway",
            "DMARC",
            "Scanned",
            header_style="bold",
        )
        for row in rows:
            table.add_row(
                row["domain_unicode"] or row["domain"],
                row["priority_category"] or "",
                "" if row["score"] is None else str(row["score"]),
                row["segment"] or "",
                row["commercial_segment"] or "",
                row["provider"] or row["status"],
                " / ".join(filter(None, [row["local_provider"], row["gateway"]])),
                f"{row['dmarc_policy']} {row['dmarc_pct']}%" if row["dmarc_policy"] else "—",
                f"{row['scanned_at']:%Y-%m-%d}",
            )
        out.print(table)
    err.print(f"{len(rows)} of {total} leads" + (f" (from {offset + 1})" if offset else ""))


@main.command()
@click.option("--db", "database_url", help="Database URL (default HUNTER_DATABASE_URL or sqlite:///hunter.db).")
@click.option("--lang", type=click.Choice(["tr", "en"]), help="Language of the sample sales summary.")
def demo(database_url: str | None, lang: str | None) -> None:
    """Scan the bundled sample companies against a bundled DNS server: works offline.

    The sample data (shared/demo) holds fictional Turkish companies on Microsoft 365,
    Google, Yandex, Zoho, GoDaddy, a Mimecast gateway and their own servers. Results go to
    the database like any scan; then try `hunter leads` and `hunter lead DOMAIN`.
    """
    from importlib import resources

    from shared.core.inputs import read_file
    from shared.core.results import result_json
    from shared.demo.dnsserver import RecordSet, Responder, serve
    from shared.scan.pipeline import run_pipeline
    from shared.services.explain import lead_detail

    demo_dir = resources.files("shared.demo")
    records = RecordSet((demo_dir / "records.txt").read_text(encoding="utf-8"))
    settings = _settings(database_url=database_url, whois_enabled=False)
    repository = _repository(settings)
    collected: list = []

    async def run():
        host, port = await serve(Responder(records.lookup, records.special), "127.0.0.1", 0, 0.0)
        demo_settings = settings.model_copy(update={"dns_nameservers": [f"{host}:{port}"], "dns_timeout": 1.0})
        return await run_pipeline(
            read_file(str(demo_dir / "companies.csv")),
            demo_settings,
            repository,
            lambda r: collected.append(result_json(r)),
        )

    summary = aio.run(run())
    _print_table(sorted(collected, key=lambda r: -(r["priority_score"] if r["priority_score"] is not None else -1)))
    err.print(
        f"{summary.scanned} scanned, {summary.invalid} invalid, {summary.duplicates} duplicates collapsed; "
        f"saved to {settings.database_url}"
    )
    detail = lead_detail(repository, "anadolu-tekstil.com.tr", lang=lang or settings.default_lang)
    out.print()
    _print_lead(detail)
    out.print(
        "\n[dim]Next: hunter leads --priority P1 --priority P2 · hunter lead bogazici-yazilim.com --lang en · "
        "hunter scan --input your-list.xlsx[/]"
    )


def _parse_since(value: str) -> datetime:
    """``7d``, ``12h``, ``30m`` ago, or an ISO date/time (UTC when no zone is given)."""
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if value[:-1].isdigit() and value[-1:] in units:
        return datetime.now(UTC) - timedelta(**{units[value[-1]]: int(value[:-1])})
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use a duration such as 7d, 12h, 30m or an ISO date such as 2026-11-01") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@main.command()
@click.option("--since", default="7d", show_default=True, help="Duration (7d, 12h) or ISO date.")
@click.option("--domain", help="Only this domain.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per change.")
@click.option("--db", "database_url", help="Database URL (default HUNTER_DATABASE_URL).")
def changes(since: str, domain: str | None, limit: int, as_json: bool, database_url: str | None) -> None:
    """Changes found by rescans across all leads: provider moves, gateways, DMARC, MX."""
    from shared.core.domains import InvalidDomainError, normalize

    try:
        name = normalize(domain).name if domain else None
    except InvalidDomainError as exc:
        raise click.BadParameter(exc.reason, param_hint="--domain") from None
    events = _repository(_settings(database_url=database_url)).events(name, _parse_since(since), limit)
    if as_json:
        for e in events:
            out.file.write(
                json.dumps(
                    {
                        "domain": e.domain,
                        "kind": e.kind,
                        "before": e.before,
                        "after": e.after,
                        "summary": e.summary,
                        "meaning": e.meaning,
                        "at": e.at.isoformat(),
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
        return
    table = Table("When", "Domain", "Change", "Meaning", header_style="bold")
    for e in events:
        table.add_row(f"{e.at:%Y-%m-%d %H:%M}", e.domain, e.summary, e.meaning or "")
    out.print(table)
    err.print(f"{len(events)} changes since {_parse_since(since):%Y-%m-%d %H:%M} UTC")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=7071, show_default=True)
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Threads per server process. 1 runs gunicorn's sync worker (one request at a time per process, "
    "lowest latency); more let a process overlap slow requests such as big exports.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Server processes (default: one per core, at least 2).",
)
@click.option("--db", "database_url", help="Database URL (default HUNTER_DATABASE_URL or sqlite:///hunter.db).")
@click.option("--bootstrap-key", is_flag=True, help="Create and print an admin key when the database has none.")
@click.option(
    "--queue-workers",
    type=click.IntRange(0, 32),
    help="Queue workers beside the server (default HUNTER_WORKER_PROCESSES: one per core, at most 4); 0 = none.",
)
def serve(
    host: str,
    port: int,
    threads: int,
    workers: int | None,
    database_url: str | None,
    bootstrap_key: bool,
    queue_workers: int | None,
) -> None:
    """Run every HTTP function locally on one port (functions-framework), as on Azure: /api/v1/...

    Beside it, queue workers run the queue functions (bulk scans) with host.json's retry and
    poison settings; a worker that dies is restarted.
    """
    import os

    from shared.http.auth import ApiKeyStore
    from shared.local.server import serve as run_server

    settings = _settings(database_url=database_url)
    if database_url:
        os.environ["HUNTER_DATABASE_URL"] = database_url  # the server process reads its settings from the env
    from shared.store.db import make_engine, migrate

    # Migrate and bootstrap on a short-lived engine, closed before the server forks its workers:
    # a pooled connection inherited by two processes would interleave their protocol messages.
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
        store = ApiKeyStore(engine)
        if bootstrap_key and not store.list():
            key, _ = store.create("local-admin", ["admin"])
            err.print(f"Created API key 'local-admin' (admin). It is shown once, keep it:\n  [bold]{key}[/]")
    finally:
        engine.dispose()
    base = f"http://{host}:{port}/api"
    err.print(f"Hunter API on [bold]{base}/v1/leads[/] (OpenAPI: {base}/v1/openapi.json, health: {base}/healthz/ready)")
    err.print('Send your key as X-API-Key, e.g. curl -H "X-API-Key: $KEY" ' + f"{base}/v1/dashboard")
    from shared.local.server import shared_metrics
    from shared.local.supervisor import WorkerSupervisor

    count = settings.worker_processes if queue_workers is None else queue_workers
    with shared_metrics():  # one /healthz/metrics view of the server processes and queue workers
        supervisor = WorkerSupervisor(count).start() if count else None
        if supervisor:
            err.print(f"{count} queue worker(s) on the {settings.queue_backend} queue backend (hunter queue stats)")
        try:
            run_server(host, port, threads=threads, workers=workers)
        finally:
            if supervisor:
                supervisor.stop()


@main.group()
def apikey() -> None:
    """Create, list and revoke API keys (only a hash is stored)."""


def _key_store(database_url: str | None):
    from shared.http.auth import ApiKeyStore
    from shared.store.db import engine_for

    return ApiKeyStore(engine_for(_settings(database_url=database_url).database_url))


@apikey.command("create")
@click.option("--name", required=True, help="Who or what uses the key, e.g. power-automate.")
@click.option("--scopes", default="read", show_default=True, help="Comma list of read, scan, admin.")
@click.option(
    "--rate-limit", type=click.IntRange(1, 100_000), default=600, show_default=True, help="Requests per minute."
)
@click.option("--db", "database_url", help="Database URL (default HUNTER_DATABASE_URL).")
def apikey_create(name: str, scopes: str, rate_limit: int, database_url: str | None) -> None:
    """Create a key and print it once."""
    from shared.http.auth import ApiKeyError, parse_scopes

    try:
        key, row = _key_store(database_url).create(name, parse_scopes(scopes), rate_limit)
    except ApiKeyError as exc:
        raise click.ClickException(str(exc)) from None
    err.print(f"Key {row.name!r} ({row.scopes}, {row.rate_limit_per_minute}/min). Shown once, store it now:")
    out.file.write(key + "\n")


@apikey.command("list")
@click.option("--db", "database_url", help="Database URL (default HUNTER_DATABASE_URL).")
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
@click.option("--db", "database_url", help="Database URL (default HUNTER_DATABASE_URL).")
def apikey_revoke(name: str, database_url: str | None) -> None:
    """Revoke a key by name or id."""
    from shared.http.auth import ApiKeyError

    try:
        row = _key_store(database_url).revoke(name)
    except ApiKeyError as exc:
        raise click.ClickException(str(exc)) from None
    err.print(f"Revoked {row.name!r}.")


@main.group()
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
    from shared.api.docs import export_connector

    for path in export_connector(directory, host=host):
        err.print(f"wrote {path}")


def _register_queue_commands() -> None:
    from shared.cli.d365 import d365
    from shared.cli.pc import pc
    from shared.cli.queue import jobs, queue, worker

    main.add_command(d365)
    main.add_command(pc)
    main.add_command(worker)
    main.add_command(queue)
    main.add_command(jobs)


_register_queue_commands()
