"""``hunter pc …``: sign in to Partner Center once, run the referral sync, list referrals."""

from __future__ import annotations

import json
import sys

import click
from rich.table import Table

from shared.cli.common import db_option, err, out, settings_and_engine
from shared.config import Settings


def _require_enabled(settings: Settings) -> None:
    if not settings.partner_center_enabled:
        raise click.ClickException(
            "the Partner Center integration is off: set HUNTER_PARTNER_CENTER_ENABLED=true and HUNTER_PC_CLIENT_ID"
        )


@click.group()
def pc() -> None:
    """Partner Center: sign in (device code), sync referrals, list them."""


@pc.command("login")
@db_option
def pc_login(database_url: str | None) -> None:
    """Sign in with a device code: open the URL, enter the code; the sign-in is stored (encrypted)
    in the Hunter database for every instance, and the sync refreshes it silently afterwards."""
    from shared.integrations.identity import SignInError
    from shared.integrations.partner_center.auth import complete_device_flow, start_device_flow

    settings, engine = settings_and_engine(database_url)
    try:
        flow = start_device_flow(settings, engine)  # type: ignore[arg-type]
        # The URL and the code on stdout, flushed: a person (or a script) acts on them while we wait.
        print(flow.get("message") or f"Open {flow['verification_uri']} and enter the code {flow['user_code']}")
        print(f"verification_uri: {flow['verification_uri']}")
        print(f"user_code: {flow['user_code']}", flush=True)
        user = complete_device_flow(settings, engine, flow)  # type: ignore[arg-type]
    except SignInError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:  # requests' ConnectionError is one
        raise click.ClickException(f"Microsoft sign-in is unreachable: {type(exc).__name__}") from None
    err.print(f"[green]signed in to Partner Center[/]{' as ' + user if user else ''}; the sync can run now")


@pc.command("logout")
@db_option
def pc_logout(database_url: str | None) -> None:
    """Forget the stored Partner Center sign-in (the sync then needs `hunter pc login`)."""
    from shared.integrations.partner_center.auth import logout

    settings, engine = settings_and_engine(database_url)
    logout(settings, engine)  # type: ignore[arg-type]
    err.print("Partner Center sign-in removed")


@pc.command("sync")
@click.option("--json", "as_json", is_flag=True, help="Print the run as one JSON object.")
@db_option
def pc_sync(as_json: bool, database_url: str | None) -> None:
    """Run the referral sync now (skipped if one is running). Exit code 0 only when it succeeded."""
    from shared.services.pc_sync import sync_now

    settings, engine = settings_and_engine(database_url)
    _require_enabled(settings)
    outcome = sync_now(settings, engine, trigger="manual")  # type: ignore[arg-type]
    if as_json:
        print(json.dumps(outcome.as_dict(), ensure_ascii=False))
    else:
        table = Table(title=f"Partner Center sync #{outcome.run_id}: {outcome.status}")
        for name in ("pages", "fetched", "created", "updated", "unchanged", "domain_missing", "scans_queued"):
            table.add_column(name.replace("_", " "), justify="right")
        table.add_column("rescored", justify="right")
        table.add_row(
            *(
                str(getattr(outcome, name))
                for name in (
                    "pages",
                    "fetched",
                    "created",
                    "updated",
                    "unchanged",
                    "domain_missing",
                    "scans_queued",
                    "rescored",
                )
            )
        )
        out.print(table)
        if outcome.error:
            err.print(f"[red]{outcome.error}[/]")
    if outcome.status != "ok":
        sys.exit(2 if outcome.status == "needs_login" else 1)


@pc.command("referrals")
@click.option(
    "--link-status",
    type=click.Choice(["linked", "domain_missing"]),
    help="domain_missing: referrals without a company e-mail, for a person to resolve.",
)
@click.option("--type", "types", multiple=True, help="Referral type (Independent, Shared); repeatable.")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per referral.")
@db_option
def pc_referrals(
    link_status: str | None, types: tuple[str, ...], limit: int, as_json: bool, database_url: str | None
) -> None:
    """List synced referrals, newest update first."""
    from shared.api.partner_center import referral_item
    from shared.api.pc_models import ReferralOut
    from shared.store.referrals import ReferralFilter, list_referrals

    _, engine = settings_and_engine(database_url)
    rows, total = list_referrals(
        engine,  # type: ignore[arg-type]
        ReferralFilter(link_status=[link_status] if link_status else [], type=list(types), limit=limit),
    )
    if as_json:
        for row in rows:
            print(ReferralOut.model_validate(referral_item(row)).model_dump_json())
        return
    table = Table(title=f"{len(rows)} of {total} referral(s)")
    for column in ("id", "customer", "domain", "link", "type", "status", "deal", "updated"):
        table.add_column(column)
    for row in rows:
        deal = f"{row.deal_value:,.0f} {row.currency or ''}".strip() if row.deal_value is not None else ""
        table.add_row(
            row.id,
            row.customer_name or "",
            row.domain or f"[yellow]({row.contact_domain or 'no e-mail'})[/]",
            row.link_status,
            row.type or "",
            "/".join(filter(None, [row.status, row.substatus])),
            deal,
            row.updated_at.strftime("%Y-%m-%d %H:%M") if row.updated_at else "",
        )
    out.print(table)


@pc.command("status")
@click.option("--json", "as_json", is_flag=True)
@db_option
def pc_status(as_json: bool, database_url: str | None) -> None:
    """Sign-in state (needs_login?), the last sync and the referral counts."""
    from shared.services.pc_sync import partner_center_status

    settings, engine = settings_and_engine(database_url)
    status = partner_center_status(engine, settings)  # type: ignore[arg-type]
    if as_json:
        print(json.dumps(status, ensure_ascii=False))
        return
    state = status.get("state")
    colour = {"ok": "green", "needs_login": "red", "error": "red"}.get(str(state), "yellow")
    out.print(f"Partner Center: {'on' if status.get('enabled') else 'off'}; sign-in [{colour}]{state}[/]")
    if status.get("detail"):
        out.print(f"  {status['detail']}")
    last = status.get("last_run")
    if last:
        when = last["finished_at"] or last["started_at"]
        out.print(
            f"  last sync #{last['id']} ({last['trigger']}) {last['status']} at {when}:"
            f" {last['fetched']} fetched, {last['created']} new, {last['updated']} updated,"
            f" {last['domain_missing']} without domain, {last['scans_queued']} scans queued"
        )
        if last.get("error"):
            out.print(f"  [red]{last['error']}[/]")
    counts = status.get("referrals") or {}
    out.print(f"  referrals: {counts.get('total', 0)} ({counts.get('domain_missing', 0)} need a domain)")
