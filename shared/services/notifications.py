"""Change alerts: scans → events → subscriptions → the ``notifications`` queue → delivery.

* :func:`publish` (called by the after-scan step and the integrations) stores events under their
  stable ids and queues one delivery per matching subscription — a new event only, so a redelivered
  scan batch alerts nobody twice.
* :func:`handle_notification` is the ``notifications`` queue function: it delivers one (subscription,
  event) pair — a Standard Webhooks POST, a Teams Adaptive Card, Slack Block Kit or an e-mail — and
  records the outcome. Non-2xx answers and timeouts are retried with exponential backoff
  (``HUNTER_NOTIFY_BACKOFF_BASE``, ``HUNTER_NOTIFY_MAX_ATTEMPTS``), then the message goes to
  ``notifications-poison``; ``410 Gone`` disables the subscription; a delivered pair is never sent again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from shared import telemetry
from shared.core.alerts import wants
from shared.queues import Delivery, PermanentError
from shared.store import notifications as store
from shared.store.models import utcnow

if TYPE_CHECKING:
    from shared.runtime import Runtime
    from shared.store.models import SubscriptionRow

log = logging.getLogger("hunter.notifications")
NOTIFY_QUEUE = "notifications"
IMMEDIATE_KINDS = ("webhook", "teams", "slack")


class NotificationMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: int = Field(1, ge=1, le=1)
    delivery: int = Field(ge=1)
    # The publisher's W3C trace context (shared.telemetry); older messages have none.
    traceparent: str | None = Field(None, max_length=128)
    tracestate: str | None = Field(None, max_length=512)


def _immediate(subscription: SubscriptionRow) -> bool:
    return subscription.kind in IMMEDIATE_KINDS or (subscription.kind == "email" and subscription.digest == "off")


def publish(runtime: Runtime, events: list[dict[str, Any]]) -> int:
    """Store ``events`` and queue a delivery of each new one to every enabled subscription that wants it
    (its event types, its lead filters; e-mail digests collect them later). Returns deliveries queued."""
    engine = runtime.engine
    fresh = store.store_events(engine, events)
    if not fresh:
        return 0
    pairs = []
    for subscription in store.subscriptions(engine, enabled_only=True):
        if not _immediate(subscription):
            continue
        for event in fresh:
            data = event["data"]
            if wants(subscription.events, event["type"]) and store.lead_matches(
                engine, subscription.lead_filter, data.get("domain")
            ):
                pairs.append((subscription.id, data["event_id"]))
    ids = store.queue_deliveries(engine, pairs)
    if ids:
        trace = telemetry.inject()  # the delivery continues the trace of the scan that raised the event
        runtime.queue(NOTIFY_QUEUE).send_many(json.dumps({"v": 1, "delivery": i, **trace}) for i in ids)
    return len(ids)


def webhook_request(secret: str, event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a Standard Webhooks delivery signed with ``secret`` (``webhook-id`` is
    the event id, the same on every retry, so a receiver can de-duplicate)."""
    from shared.core.notify import sign_standard_webhook

    body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    msg_id = event["data"]["event_id"]
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_standard_webhook(secret, msg_id, timestamp, body),
        "user-agent": "Hunter-Webhooks/1",
    }
    return body, headers


async def send(runtime: Runtime, subscription: SubscriptionRow, event: dict[str, Any]) -> int:
    """Deliver ``event`` to ``subscription`` once; the HTTP status (2xx) or 250 for a sent e-mail.
    Raises :class:`shared.integrations.webhooks.DeliveryError` (or OSError for SMTP) on failure."""
    from shared.integrations.webhooks import post_json

    settings = runtime.settings
    allow_private = settings.notify_allow_private
    if subscription.kind == "webhook":
        from shared.integrations.sealing import unseal

        body, headers = webhook_request(unseal(settings, subscription.secret) or "", event)
        return await post_json(subscription.url or "", body, headers, allow_private=allow_private)
    if subscription.kind in ("teams", "slack"):
        from shared.core.notify import slack_message, teams_card

        payload = (
            teams_card(event, subscription.lang)
            if subscription.kind == "teams"
            else slack_message(event, subscription.lang)
        )
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return await post_json(
            subscription.url or "", body, {"content-type": "application/json"}, allow_private=allow_private
        )
    from shared.services.digests import send_digest_mail

    await asyncio.to_thread(send_digest_mail, runtime, subscription, [event], utcnow(), utcnow())
    return 250


async def handle_notification(body: str, delivery: Delivery, runtime: Runtime) -> None:
    """The ``notifications`` queue function: deliver one (subscription, event) pair."""
    from shared.integrations.sealing import SealError
    from shared.integrations.webhooks import DeliveryError

    engine = runtime.engine
    message = NotificationMessage.model_validate_json(body)
    found = await asyncio.to_thread(store.delivery, engine, message.delivery)
    if found is None:
        return  # the subscription was deleted (its deliveries with it)
    row, subscription = found
    if row.status in ("delivered", "gone"):
        return  # at-least-once transport, exactly-once delivery
    if not subscription.enabled:
        await asyncio.to_thread(
            store.update_delivery, engine, row.id, status="failed", last_error="subscription disabled"
        )
        return
    event = await asyncio.to_thread(store.event, engine, row.event_id)
    if event is None:
        raise PermanentError(f"event {row.event_id} is not stored")
    await asyncio.to_thread(store.count_attempt, engine, row.id)
    try:
        status = await send(runtime, subscription, event)
    except DeliveryError as exc:
        await asyncio.to_thread(
            store.update_delivery, engine, row.id, last_status_code=exc.status, last_error=exc.detail[:500]
        )
        if exc.gone:
            await asyncio.to_thread(
                store.disable_subscription, engine, subscription.id, "the receiver answered 410 Gone"
            )
            await asyncio.to_thread(store.update_delivery, engine, row.id, status="gone")
            log.warning("subscription disabled: 410 Gone", extra={"subscription": subscription.id})
            return
        if not exc.retryable:
            await asyncio.to_thread(store.update_delivery, engine, row.id, status="failed")
            raise PermanentError(exc.detail) from None
        raise
    except SealError as exc:  # the key was removed or changed: retried, then poison, redrivable once fixed
        await asyncio.to_thread(store.update_delivery, engine, row.id, last_error=str(exc))
        raise
    except (OSError, ValueError) as exc:  # SMTP and address trouble
        await asyncio.to_thread(store.update_delivery, engine, row.id, last_error=f"{type(exc).__name__}: {exc}"[:500])
        raise
    await asyncio.to_thread(
        store.update_delivery,
        engine,
        row.id,
        status="delivered",
        last_status_code=status,
        last_error=None,
        delivered_at=utcnow(),
    )
