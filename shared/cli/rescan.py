"""``hunter rescan``: scan known leads again as one bulk job and follow it (workers do the scanning)."""

from __future__ import annotations

import click

from shared.cli.common import db_option, err, runtime_for, settings_for


@click.command()
@click.argument("domains", nargs=-1)
@click.option("--due", is_flag=True, help="The leads the rescan policy says are due (shared/core/rescans.yaml).")
@click.option("--all", "every", is_flag=True, help="Every lead.")
@click.option("--priority", multiple=True, help="Only leads of these priority categories (P1..P6); repeatable.")
@click.option("--segment", multiple=True, help="Only leads of these segments; repeatable.")
@click.option("--provider", multiple=True, help="Only leads on these mail providers; repeatable.")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Follow the job with a progress bar.")
@db_option
def rescan(
    domains: tuple[str, ...],
    due: bool,
    every: bool,
    priority: tuple[str, ...],
    segment: tuple[str, ...],
    provider: tuple[str, ...],
    wait: bool,
    database_url: str | None,
) -> None:
    """Rescan leads: DOMAIN…, --due, --all, or the leads matching --priority/--segment/--provider.

    \\b
    Examples:
      hunter rescan --due                 (what the nightly timer does)
      hunter rescan --priority P1 --priority P2
      hunter rescan acme.com.tr firma.com.tr
    The job runs on the queue: `hunter serve` or `hunter worker` must be running.
    """
    from pydantic import ValidationError

    from shared.cli.queue import follow
    from shared.core.domains import parse
    from shared.services import rescans
    from shared.store.queries import LeadFilter

    filters = {"priority": list(priority), "segment": list(segment), "provider": list(provider)}
    chosen = [bool(domains), due, every, any(filters.values())]
    if sum(chosen) != 1:
        raise click.UsageError("give DOMAINS, --due, --all, or filters (--priority/--segment/--provider), one kind")
    settings = settings_for(database_url=database_url)
    runtime = runtime_for(settings)
    if domains:
        parsed = [parse(d) for d in domains]
        bad = [f"{p.input}: {p.error}" for p in parsed if p.domain is None]
        if bad:
            raise click.BadParameter("; ".join(bad), param_hint="DOMAINS")
        leads, not_leads = rescans.known_leads(runtime, [p.domain.name for p in parsed if p.domain])
        if not_leads:
            err.print(f"[yellow]not leads yet (scan them first): {', '.join(not_leads)}[/]")
    elif due:
        leads = rescans.due_leads(runtime, limit=settings.rescan_budget)
    else:
        try:
            lead_filter = LeadFilter.model_validate({k: v for k, v in filters.items() if v})
        except ValidationError as exc:
            raise click.BadParameter(exc.errors()[0]["msg"]) from None
        leads = rescans.filtered_leads(runtime, lead_filter)
    if not leads:
        err.print("nothing to rescan")
        return
    job = rescans.rescan(runtime, leads, submitted_by="cli")
    if wait:
        follow(job, settings)
    else:
        err.print(f"rescan job {job.id}: {job.unique_domains} leads queued; follow with: hunter jobs show {job.id}")
