"""E-mail digests: one message per period (daily or weekly) to an e-mail subscription, with the
changes and new hot leads since its last digest that match its event types and lead filters.

The ``digest_timer`` function (``HUNTER_DIGEST_SCHEDULE``) sends what is due; ``POST
/v1/notifications/digest`` and ``hunter notify digest --now`` do it on demand (``force`` sends now
whatever the period). A period is claimed in the delivery log before its mail is sent
(``digest:<subscription>:<period start>``), so nothing is sent twice for the same period.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.core.alerts import wants
from shared.store import notifications as store
from shared.store.models import utcnow

if TYPE_CHECKING:
    from shared.runtime import Runtime
    from shared.store.models import SubscriptionRow

log = logging.getLogger("hunter.digests")
PERIODS = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}


class SmtpNotConfigured(RuntimeError):
    """HUNTER_SMTP_HOST (and HUNTER_SMTP_FROM) are not set."""


def smtp_settings(runtime: Runtime):  # type: ignore[no-untyped-def]
    from shared.integrations.smtp import SmtpSettings

    settings = runtime.settings
    if not settings.smtp_host or not settings.smtp_from:
        raise SmtpNotConfigured("e-mail needs HUNTER_SMTP_HOST and HUNTER_SMTP_FROM")
    return SmtpSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        sender=settings.smtp_from,
        starttls=settings.smtp_starttls,
    )


def send_digest_mail(
    runtime: Runtime, subscription: SubscriptionRow, events: list[dict[str, Any]], start: datetime, end: datetime
) -> str:
    """Render ``events`` in the subscription's language and mail them to its recipients; the Message-ID."""
    from shared.core.digest import render_digest
    from shared.integrations.smtp import send_mail

    message = render_digest(
        events, lang=subscription.lang, period_start=start, period_end=end, hunter_url=runtime.settings.public_url
    )
    return send_mail(smtp_settings(runtime), list(subscription.recipients), message)


@dataclass
class DigestOutcome:
    subscription_id: str
    status: str  # sent | empty | not_due | already_sent | failed
    events: int = 0
    error: str | None = None


def _matching(runtime: Runtime, subscription: SubscriptionRow, start: datetime, end: datetime) -> list[dict]:
    events = store.events_between(runtime.engine, start, end)
    return [
        e
        for e in events
        if wants(subscription.events, e["type"])
        and store.lead_matches(runtime.engine, subscription.lead_filter, e["data"].get("domain"))
    ]


def send_due_digests(runtime: Runtime, *, force: bool = False, now: datetime | None = None) -> list[DigestOutcome]:
    """Every e-mail subscription with a daily or weekly digest whose period has passed (all of them
    with ``force``) gets one message with what happened since its last digest."""
    now = now or utcnow()
    outcomes = []
    for subscription in store.subscriptions(runtime.engine, enabled_only=True):
        if subscription.kind != "email" or subscription.digest not in PERIODS:
            continue
        period = PERIODS[subscription.digest]
        start = subscription.last_digest_at or (subscription.created_at or now) - period
        if not force and now - start < period:
            outcomes.append(DigestOutcome(subscription.id, "not_due"))
            continue
        claimed = store.queue_deliveries(runtime.engine, [(subscription.id, f"digest:{start.isoformat()}")])
        if not claimed:
            outcomes.append(DigestOutcome(subscription.id, "already_sent"))
            continue
        events = _matching(runtime, subscription, start, now)
        if not events:
            store.update_delivery(runtime.engine, claimed[0], status="delivered", last_error="nothing to report")
            store.set_last_digest(runtime.engine, subscription.id, now)
            outcomes.append(DigestOutcome(subscription.id, "empty"))
            continue
        store.count_attempt(runtime.engine, claimed[0])
        try:
            send_digest_mail(runtime, subscription, events, start, now)
        except (OSError, ValueError, SmtpNotConfigured) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
            # Unclaim, so the next run (or a forced one) tries this period again.
            store.delete_delivery(runtime.engine, claimed[0])
            log.warning("digest not sent", extra={"subscription": subscription.id, "error": error})
            outcomes.append(DigestOutcome(subscription.id, "failed", len(events), error))
            continue
        store.update_delivery(
            runtime.engine, claimed[0], status="delivered", delivered_at=utcnow(), last_status_code=250
        )
        store.set_last_digest(runtime.engine, subscription.id, now)
        outcomes.append(DigestOutcome(subscription.id, "sent", len(events)))
    return outcomes


async def scheduled_digests(runtime: Runtime) -> None:
    """The ``digest_timer`` handler."""
    await asyncio.to_thread(send_due_digests, runtime)
