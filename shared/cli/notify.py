"""``hunter notify …``: change-alert subscriptions (webhook, Teams, Slack, e-mail), tests and digests."""

from __future__ import annotations

import json

import click
from rich.table import Table

from shared.cli.common import db_option, err, out, runtime_for, settings_for


@click.group()
def notify() -> None:
    """Change alerts: who hears about provider moves, hot leads, failed pushes and new referrals."""


@notify.command("list")
@db_option
def notify_list(database_url: str | None) -> None:
    """The subscriptions (secrets are never shown again)."""
    from shared.store import notifications as store

    table = Table("id", "kind", "target", "events", "lang", "digest", "enabled", header_style="bold")
    for row in store.subscriptions(runtime_for(settings_for(database_url=database_url)).engine):
        target = row.url if row.kind != "email" else ", ".join(row.recipients or [])
        table.add_row(
            row.id, row.kind, target or "", ", ".join(row.events or []) or "all", row.lang, row.digest,
            "yes" if row.enabled else f"no ({row.disabled_reason})",
        )  # fmt: skip
    out.print(table)


@notify.command("add")
@click.option("--kind", type=click.Choice(["webhook", "teams", "slack", "email"]), required=True)
@click.option("--url", help="The receiver (webhook, Teams Workflows or Slack incoming-webhook URL).")
@click.option("--to", "recipients", multiple=True, help="An e-mail address (email); repeatable.")
@click.option("--event", "events", multiple=True, help="An event type (default: every type); repeatable.")
@click.option("--priority", multiple=True, help="Only leads of these priority categories; repeatable.")
@click.option("--lang", type=click.Choice(["tr", "en"]), default="tr", show_default=True)
@click.option("--digest", type=click.Choice(["off", "daily", "weekly"]), default="off", show_default=True)
@db_option
def notify_add(
    kind: str,
    url: str | None,
    recipients: tuple[str, ...],
    events: tuple[str, ...],
    priority: tuple[str, ...],
    lang: str,
    digest: str,
    database_url: str | None,
) -> None:
    """Subscribe a receiver; a webhook's signing secret is printed once (store it now)."""
    from pydantic import ValidationError

    from shared.api.notifications import SubscriptionIn, subscribe

    try:
        body = SubscriptionIn.model_validate(
            {"kind": kind, "url": url, "to": list(recipients), "events": list(events), "lang": lang, "digest": digest}
            | ({"filter": {"priority": list(priority)}} if priority else {})
        )
    except ValidationError as exc:
        raise click.BadParameter("; ".join(error["msg"] for error in exc.errors())) from None
    row, secret = subscribe(runtime_for(settings_for(database_url=database_url)), body, created_by="cli")
    err.print(f"subscription {row.id} ({row.kind}) created")
    if secret:
        err.print("Signing secret (shown once):")
        out.file.write(secret + "\n")


@notify.command("remove")
@click.argument("subscription_id")
@db_option
def notify_remove(subscription_id: str, database_url: str | None) -> None:
    """Delete a subscription and its delivery log."""
    from shared.store import notifications as store

    if not store.delete_subscription(runtime_for(settings_for(database_url=database_url)).engine, subscription_id):
        raise click.ClickException(f"no subscription {subscription_id}")
    err.print(f"subscription {subscription_id} removed")


@notify.command("test")
@click.argument("subscription_id")
@db_option
def notify_test(subscription_id: str, database_url: str | None) -> None:
    """Send a test event now and say what the receiver answered."""
    from shared.api.notifications import test_subscription
    from shared.http.types import HttpRequest

    runtime = runtime_for(settings_for(database_url=database_url))
    request = HttpRequest("POST", f"/v1/notifications/subscriptions/{subscription_id}/test")
    request.route_params = {"subscription_id": subscription_id}
    from shared.http.types import ProblemError

    try:
        answer = json.loads(test_subscription(request, runtime).body_bytes())
    except ProblemError as exc:
        raise click.ClickException(exc.detail or exc.title) from None
    if not answer["delivered"]:
        raise click.ClickException(f"not delivered: {answer['error']} (status {answer['status']})")
    err.print(f"[green]delivered[/] (answer {answer['status']})")


@notify.command("digest")
@click.option("--now", "force", is_flag=True, help="Send every digest now, whatever its period.")
@db_option
def notify_digest(force: bool, database_url: str | None) -> None:
    """Send the e-mail digests that are due (what the digest timer does)."""
    from shared.services.digests import send_due_digests

    for outcome in send_due_digests(runtime_for(settings_for(database_url=database_url)), force=force):
        why = f" — {outcome.error}" if outcome.error else ""
        err.print(f"{outcome.subscription_id}: {outcome.status} ({outcome.events} events){why}")
