"""Change-alert subscriptions (admin): create (a webhook's signing secret is shown once), list, read,
delete, send a test event; the delivery log; e-mail digests on demand."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.api.models import NoQuery
from shared.api.rescans import RescanFilter
from shared.core.alerts import EVENT_TYPES
from shared.http.types import HttpRequest, HttpResponse, ProblemError
from shared.runtime import Runtime

EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]  # the alert types of shared.core.alerts
_EMAIL = re.compile(r"^[^@\s<>,;\"]{1,64}@[^@\s<>,;\"]{1,253}\.[^@\s<>,;\"]{2,63}$")


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["webhook", "teams", "slack", "email"]
    url: str | None = Field(None, max_length=2000, description="the receiver (webhook, Teams Workflows, Slack)")
    to: list[str] = Field(default_factory=list, max_length=50, description="e-mail addresses (email)")
    events: list[EventType] = Field(default_factory=list, max_length=len(EVENT_TYPES), description="[] = every type")
    filter: RescanFilter | None = Field(None, description="only leads these lead-list filters match")
    lang: Literal["tr", "en"] = "tr"
    digest: Literal["off", "daily", "weekly"] = Field("off", description="e-mail: one message per period")

    @model_validator(mode="after")
    def _consistent(self) -> SubscriptionIn:
        if self.kind == "email":
            if not self.to:
                raise ValueError("an email subscription needs `to` addresses")
            bad = [a for a in self.to if not _EMAIL.match(a)]
            if bad:
                raise ValueError(f"not an e-mail address: {bad[0][:80]!r}")
            if self.url is not None:
                raise ValueError("an email subscription has no url")
        else:
            if not self.url or not self.url.lower().startswith(("https://", "http://")):
                raise ValueError(f"a {self.kind} subscription needs an https:// url")
            if self.to or self.digest != "off":
                raise ValueError("to and digest are for email subscriptions")
        return self


class SubscriptionOut(BaseModel):
    id: str
    kind: str
    url: str | None
    to: list[str]
    events: list[str]
    filter: dict[str, Any]
    lang: str
    digest: str
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    last_digest_at: datetime | None
    secret: str | None = Field(None, description="the webhook signing secret: in the create answer only")


class SubscriptionList(BaseModel):
    items: list[SubscriptionOut]


class DeliveryOut(BaseModel):
    id: int
    subscription_id: str
    event_id: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None


class DeliveryList(BaseModel):
    items: list[DeliveryOut]


class DeliveryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subscription: str | None = Field(None, max_length=16)
    limit: int = Field(100, ge=1, le=500)


class DigestQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    force: bool = False


def _out(row, *, secret: str | None = None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return SubscriptionOut(
        id=row.id,
        kind=row.kind,
        url=row.url,
        to=list(row.recipients or []),
        events=list(row.events or []),
        filter=dict(row.lead_filter or {}),
        lang=row.lang,
        digest=row.digest,
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        created_at=row.created_at,
        last_digest_at=row.last_digest_at,
        secret=secret,
    ).model_dump(mode="json", exclude_none=secret is None)


def _check_url(runtime: Runtime, url: str | None) -> None:
    if url and url.lower().startswith("http://") and not runtime.settings.notify_allow_private:
        raise ProblemError(
            422, "Invalid request", "receivers must use https", errors=[{"field": "url", "message": "https only"}]
        )


def subscribe(runtime: Runtime, body: SubscriptionIn, *, created_by: str | None):  # type: ignore[no-untyped-def]
    """Store a subscription; (its row, the webhook signing secret to show once or None)."""
    from shared.core.notify import new_webhook_secret
    from shared.integrations.sealing import seal
    from shared.store import notifications as store

    secret = new_webhook_secret() if body.kind == "webhook" else None
    row = store.create_subscription(
        runtime.engine,
        kind=body.kind,
        url=body.url,
        recipients=body.to,
        events=list(body.events),
        lead_filter=body.filter.model_dump(exclude_defaults=True) if body.filter else {},
        lang=body.lang,
        digest=body.digest,
        secret=seal(runtime.settings, secret),  # sealed at rest when HUNTER_TOKEN_CACHE_KEY is set
        created_by=created_by,
    )
    return row, secret


def create_subscription(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    body = SubscriptionIn.model_validate(request.json())
    _check_url(runtime, body.url)
    row, secret = subscribe(runtime, body, created_by=request.key_name)
    headers = {"Location": f"/api/v1/notifications/subscriptions/{row.id}", "Cache-Control": "no-store"}
    return HttpResponse.json(_out(row, secret=secret), status=201, headers=headers)


def _subscription(request: HttpRequest, runtime: Runtime):  # type: ignore[no-untyped-def]
    from shared.store import notifications as store

    subscription_id = request.route_params["subscription_id"]
    row = store.subscription(runtime.engine, subscription_id) if len(subscription_id) <= 16 else None
    if row is None:
        raise ProblemError(404, "Subscription not found", f"no subscription {subscription_id[:40]!r}")
    return row


def list_subscriptions(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    from shared.store import notifications as store

    NoQuery.model_validate(request.query_params())
    return HttpResponse.json({"items": [_out(row) for row in store.subscriptions(runtime.engine)]})


def get_subscription(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    NoQuery.model_validate(request.query_params())
    return HttpResponse.json(_out(_subscription(request, runtime)))


def delete_subscription(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    from shared.store import notifications as store

    row = _subscription(request, runtime)
    store.delete_subscription(runtime.engine, row.id)
    return HttpResponse(204, b"")


def test_subscription(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    """Send a ``hunter.test`` event now and answer what the receiver said (no queue, no retry)."""
    from shared import aio
    from shared.core.alerts import make_event
    from shared.integrations.webhooks import DeliveryError
    from shared.services.digests import SmtpNotConfigured
    from shared.services.notifications import send
    from shared.store.models import utcnow

    row = _subscription(request, runtime)
    event = make_event(
        "hunter.test",
        domain="example.com.tr",
        at=utcnow().isoformat(),
        company_name="Hunter test",
        before=None,
        after=secrets.token_hex(4),
        priority="P1",
        score=80,
        public_url=runtime.settings.public_url,
    )
    try:
        status = aio.run(send(runtime, row, event))
    except DeliveryError as exc:
        return HttpResponse.json({"delivered": False, "status": exc.status, "error": exc.detail}, status=200)
    except (OSError, ValueError, SmtpNotConfigured) as exc:
        return HttpResponse.json({"delivered": False, "status": None, "error": f"{type(exc).__name__}: {exc}"[:300]})
    return HttpResponse.json(
        {"delivered": True, "status": status, "error": None, "event_id": event["data"]["event_id"]}
    )


def list_deliveries(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    from shared.store import notifications as store

    query = DeliveryQuery.model_validate(request.query_params())
    rows = store.deliveries(runtime.engine, query.subscription, query.limit)
    items = [DeliveryOut.model_validate(row, from_attributes=True).model_dump(mode="json") for row in rows]
    return HttpResponse.json({"items": items})


def send_digests(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    from dataclasses import asdict

    from shared.services.digests import send_due_digests

    query = DigestQuery.model_validate(request.query_params())
    outcomes = send_due_digests(runtime, force=query.force)
    return HttpResponse.json({"digests": [asdict(outcome) for outcome in outcomes]})
