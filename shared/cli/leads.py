"""``hunter lead``, ``hunter leads`` and ``hunter changes``: read the stored leads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import click
from rich.table import Table

from shared.cli.common import db_option, err, out, runtime_for, settings_for

if TYPE_CHECKING:
    from shared.core.sales import SalesSummary
    from shared.services.explain import LeadExplanation


@click.command()
@click.argument("domain")
@click.option(
    "--lang", type=click.Choice(["tr", "en"]), help="Language of the sales summary (default HUNTER_DEFAULT_LANG)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the lead as one JSON object.")
@click.option(
    "--pdf",
    "pdf_file",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the one-page PDF lead report to this file (the API's report.pdf) instead.",
)
@db_option
def lead(domain: str, lang: str | None, as_json: bool, pdf_file: str | None, database_url: str | None) -> None:
    """Show a stored lead: score breakdown, priority, sales summary and change history."""
    from shared.core.domains import InvalidDomainError, normalize
    from shared.services.explain import explain_lead

    settings = settings_for(database_url=database_url)
    try:
        name = normalize(domain).name
    except InvalidDomainError as exc:
        raise click.BadParameter(exc.reason, param_hint="DOMAIN") from None
    runtime = runtime_for(settings)
    explanation = explain_lead(runtime.leads, name)
    if explanation is None:
        raise click.ClickException(f"{name} has not been scanned yet; run: hunter scan {name}")
    if pdf_file is not None:
        from pathlib import Path

        from shared.services.reports import lead_pdf

        body = lead_pdf(runtime.leads, name, lang or settings.default_lang)  # what the API sends
        Path(pdf_file).write_bytes(body or b"")
        err.print(f"Wrote {pdf_file}")
        return
    summary = explanation.summary(lang or settings.default_lang)
    if as_json:
        record = explanation.record
        out.file.write(
            json.dumps(
                {
                    "domain": record.domain,
                    "domain_unicode": record.domain_unicode,
                    "provider": record.provider,
                    "score": explanation.score.model_dump(mode="json"),
                    "stored_rules_version": explanation.stored_rules_version,
                    "sales_summary": summary.model_dump(mode="json"),
                    "tenant_recon": record.tenant_recon.model_dump() if record.tenant_recon else None,
                    "hosting": record.hosting.model_dump() if record.hosting else None,
                    "changes": [
                        {key: event[key] for key in ("kind", "before", "after", "summary")}
                        | {"at": event["at"].isoformat()}
                        for event in explanation.changes
                    ],
                },
                ensure_ascii=False,
            )
            + "\n"
        )
        return
    print_lead(explanation, summary)


def print_lead(explanation: LeadExplanation, summary: SalesSummary) -> None:
    record, score = explanation.record, explanation.score
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
    if summary.technologies_line:  # the technologies seen in its DNS, and what they open
        out.print(f"[bold]Tech:[/] {summary.technologies_line}")
        for hook in summary.technology_hooks:
            out.print(f"  + {hook}")
    recon = record.tenant_recon
    if recon is not None:  # HUNTER_TENANT_RECON_ENABLED: what Microsoft's public sign-in endpoints said
        federation = " ".join(filter(None, [recon.federation_idp, recon.auth_url_host and f"({recon.auth_url_host})"]))
        parts = [recon.tenant_id, recon.region_scope, recon.region_sub_scope, recon.namespace_type, federation]
        parts.append(recon.error and f"error: {recon.error}")
        out.print("[bold]Tenant:[/] " + " · ".join(p for p in parts if p))
    if record.hosting is not None and (record.hosting.summary or record.hosting.error):
        out.print("[bold]Hosting:[/] " + " · ".join(p for p in (record.hosting.summary, record.hosting.error) if p))
    out.print(f"[bold]Next:[/] {summary.next_action}")
    if explanation.changes:
        out.print("\n[bold]History[/]")
        for event in explanation.changes:
            out.print(f"  {event['at']:%Y-%m-%d %H:%M}  {event['summary']}")


@click.command()
@click.option("--segment", multiple=True, help="Existing, Migration, Cold or Skip; repeatable.")
@click.option("--priority", multiple=True, help="P1..P6; repeatable.")
@click.option("--provider", multiple=True, help="M365, Google, Local, ...; repeatable.")
@click.option("--commercial-segment", multiple=True, help="GREENFIELD, COMPETITIVE, ...; repeatable.")
@click.option("--tech", multiple=True, help="A technology seen in the lead's DNS (Zoom, Salesforce, ...); repeatable.")
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
@db_option
def leads(
    segment,
    priority,
    provider,
    commercial_segment,
    tech,
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
            tech=list(tech),
            min_score=min_score,
            max_score=max_score,
            q=search,
            sort=sort,
            limit=limit,
            offset=offset,
        )
    except ValidationError as exc:
        raise click.UsageError("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None
    rows, total = runtime_for(settings_for(database_url=database_url)).leads.leads(lead_filter)
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


@click.command()
@click.option("--since", default="7d", show_default=True, help="Duration (7d, 12h) or ISO date.")
@click.option("--domain", help="Only this domain.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per change.")
@db_option
def changes(since: str, domain: str | None, limit: int, as_json: bool, database_url: str | None) -> None:
    """Changes found by rescans across all leads: provider moves, gateways, DMARC, MX."""
    from shared.core.domains import InvalidDomainError, normalize

    try:
        name = normalize(domain).name if domain else None
    except InvalidDomainError as exc:
        raise click.BadParameter(exc.reason, param_hint="--domain") from None
    events = runtime_for(settings_for(database_url=database_url)).leads.events(name, _parse_since(since), limit)
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
