"""``hunter d365 …``: send leads to Dynamics 365, retry failures, see where pushes stand."""

from __future__ import annotations

import click
from rich.table import Table

from shared.cli.common import db_option, err, out, settings_and_engine


@click.group()
def d365() -> None:
    """Dynamics 365: push leads (queued, upsert by domain), retry failures, show sync states."""


@d365.command("push")
@click.argument("domains", nargs=-1)
@click.option("--priority", multiple=True, help="Push every lead of these priorities (P1..P6); repeatable.")
@click.option("--segment", multiple=True, help="Push every lead of these segments; repeatable.")
@click.option("--min-score", type=click.IntRange(0, 100), help="Push every lead scoring at least this.")
@db_option
def d365_push(
    domains: tuple[str, ...],
    priority: tuple[str, ...],
    segment: tuple[str, ...],
    min_score: int | None,
    database_url: str | None,
) -> None:
    """Queue DOMAINS (or every lead the filters match) for Dynamics 365; workers push them."""
    from shared.core.domains import parse
    from shared.services.d365_push import D365Disabled, enqueue_pushes
    from shared.store.leads import LeadStore
    from shared.store.queries import LeadFilter

    settings, engine = settings_and_engine(database_url)
    if not domains and not (priority or segment or min_score is not None):
        raise click.UsageError("give DOMAINS or a filter (--priority, --segment, --min-score)")
    names = [p.domain.name for p in map(parse, domains) if p.domain is not None]
    invalid = [d for d in domains if parse(d).domain is None]
    if not domains:
        repository = LeadStore(engine)  # type: ignore[arg-type]
        lead_filter = LeadFilter(priority=list(priority), segment=list(segment), min_score=min_score, limit=500)
        names, offset = [], 0
        while True:
            page = repository.lead_page(lead_filter.model_copy(update={"offset": offset}))
            names.extend(row["domain"] for row in page.rows)
            if not page.more or len(names) >= 10_000:
                break
            offset += len(page.rows)
    try:
        queued, not_leads = enqueue_pushes(settings, engine, names)  # type: ignore[arg-type]
    except D365Disabled as exc:
        raise click.ClickException(f"{exc}; set HUNTER_D365_ENABLED=true and the HUNTER_D365_* settings") from None
    for name in invalid:
        err.print(f"[yellow]not a domain:[/] {name}")
    for name in not_leads:
        err.print(f"[yellow]not scanned yet:[/] {name} (hunter scan {name})")
    err.print(f"{queued} lead(s) queued for Dynamics 365, {len(set(names)) - len(not_leads) - queued} already queued")


@d365.command("retry")
@click.argument("domains", nargs=-1)
@db_option
def d365_retry(domains: tuple[str, ...], database_url: str | None) -> None:
    """Retry failed pushes (DOMAINS, or every failed lead): their poison messages are redriven."""
    import getpass

    from shared.core.domains import parse
    from shared.services.d365_retry import retry_failed_pushes

    settings, engine = settings_and_engine(database_url)
    if not settings.d365_enabled:
        raise click.ClickException("the Dynamics 365 integration is off (HUNTER_D365_ENABLED)")
    names = [p.domain.name for p in map(parse, domains) if p.domain is not None] if domains else None
    redriven, requeued = retry_failed_pushes(settings, engine, names, actor=f"cli:{getpass.getuser()}")  # type: ignore[arg-type]
    err.print(f"{redriven} poison message(s) redriven, {requeued} failed lead(s) queued afresh")


@d365.command("status")
@click.option("--status", "status_", type=click.Choice(["queued", "synced", "failed"]), help="Only this state.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@db_option
def d365_status(status_: str | None, limit: int, database_url: str | None) -> None:
    """Leads sent to Dynamics 365 with their state, Dataverse link and last error."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from shared.store.models import D365SyncRow

    _, engine = settings_and_engine(database_url)
    with Session(engine) as session:  # type: ignore[arg-type]
        counts = dict(session.execute(select(D365SyncRow.status, func.count()).group_by(D365SyncRow.status)).all())
        query = select(D365SyncRow).order_by(D365SyncRow.queued_at.desc()).limit(limit)
        if status_:
            query = query.where(D365SyncRow.status == status_)
        rows = list(session.scalars(query))
    table = Table("Domain", "State", "Synced", "Dataverse lead", "Last error", header_style="bold")
    for row in rows:
        synced = f"{row.synced_at:%Y-%m-%d %H:%M}" if row.synced_at else ""
        table.add_row(row.domain, row.status, synced, row.lead_url or "", row.last_error or "")
    out.print(table)
    err.print(", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing pushed yet")
