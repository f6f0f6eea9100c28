"""Dynamics 365 push: enqueue leads on ``d365-push`` (once per lead until processed) and the
queue function that upserts one lead into Dataverse and records the outcome on the lead.

The sync state lives in the store (:mod:`shared.store.d365`); the Dataverse HTTP client in
:mod:`shared.integrations.d365.client`; the document pushed is built from the one lead
explanation (:mod:`shared.services.explain`), so the CRM shows what the screen shows.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from shared import telemetry
from shared.config import Settings
from shared.core.technologies import by_category
from shared.core.technologies import joined as joined_technologies
from shared.queues import Delivery, PermanentError, open_queue
from shared.queues.hostjson import queue_options
from shared.services.explain import explain_lead
from shared.store import d365 as sync_store
from shared.store.integrations import get_states, set_state
from shared.store.models import LeadRow, utcnow

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from shared.runtime import Runtime

D365_QUEUE = "d365-push"


class D365Disabled(RuntimeError):
    pass


class PushMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: int = Field(1, ge=1, le=1)
    domain: str = Field(min_length=3, max_length=253)
    # The sender's W3C trace context (shared.telemetry); older messages have none.
    traceparent: str | None = Field(None, max_length=128)
    tracestate: str | None = Field(None, max_length=512)


mark_queued = sync_store.mark_queued  # re-exported for the retry service and the CLI


def enqueue_pushes(settings: Settings, engine: Engine, domains: Iterable[str]) -> tuple[int, list[str]]:
    """(messages queued, domains that are not leads)."""
    if not settings.d365_enabled:
        raise D365Disabled("the Dynamics 365 integration is off (HUNTER_D365_ENABLED)")
    wanted = sorted(set(domains))
    fresh = sync_store.mark_queued(engine, wanted)
    known = sync_store.known_leads(engine, wanted)
    queue = open_queue(D365_QUEUE, settings, engine)
    trace = telemetry.inject()  # the push continues the trace of the request or scan that asked for it
    queue.send_many(json.dumps({"v": 1, "domain": d, **trace}, separators=(",", ":")) for d in fresh)
    return len(fresh), [d for d in wanted if d not in known]


def lead_document(runtime: Runtime, lead: LeadRow, company: str | None) -> dict[str, Any]:
    """The lead as the mapping file sees it (see FIELDS in mapping.py): the explained lead's score
    and priority (current rules, referral facts), its one-liner in the default language."""
    settings = runtime.settings
    explanation = explain_lead(runtime.leads, lead.domain)
    values = explanation.lead if explanation is not None else {}
    one_liner = label = None
    brief: list[str] = []
    technologies = []
    if explanation is not None:
        summary = explanation.summary(settings.default_lang)
        one_liner, label = summary.one_liner, summary.priority_label
        technologies = explanation.record.technologies
        brief = [one_liner, *filter(None, [summary.technologies_line]), *summary.technology_hooks[:1]]
    host = lead.gateway or lead.local_provider
    return {
        "domain": lead.domain,
        "company_name": company,
        "company_or_domain": company or lead.domain,
        "website": f"https://{lead.domain}",
        "score": values.get("score", lead.score),
        "segment": values.get("segment", lead.segment),
        "commercial_segment": values.get("commercial_segment", lead.commercial_segment),
        "priority_category": values.get("priority_category", lead.priority_category),
        "priority_label": label,
        "provider": lead.provider,
        "provider_text": f"{lead.provider} ({host})" if lead.provider and host else lead.provider,
        "sales_one_liner": one_liner,
        "sales_brief": "\n".join(brief) or None,
        "technologies": joined_technologies(technologies) or None,
        "technologies_by_category": by_category(technologies) or None,
        "hunter_url": f"{settings.public_url.rstrip('/')}/#/leads/{lead.domain}",
        "tenant_domain": lead.tenant_domain,
    }


_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _client(runtime: Runtime):  # type: ignore[no-untyped-def]
    """One Dataverse client (one connection pool, one token, one concurrency bound) per event loop."""
    from shared.integrations.d365.client import DataverseClient

    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = _clients[loop] = DataverseClient(runtime.settings, runtime.engine)
    return client


async def handle_push(body: str, delivery: Delivery, runtime: Runtime) -> None:
    """The ``d365-push`` queue function: upsert one lead into Dataverse by its domain."""
    from shared.integrations.d365.mapping import MappingError, mapping_for
    from shared.integrations.errors import IntegrationError
    from shared.integrations.identity import SignInError

    settings, engine = runtime.settings, runtime.engine
    request = PushMessage.model_validate_json(body)
    if not settings.d365_enabled:
        await asyncio.to_thread(
            sync_store.record, engine, request.domain, status="failed", last_error="D365 integration is off"
        )
        runtime.metrics.d365_pushes.labels("disabled").inc()
        return
    lead, company = await asyncio.to_thread(sync_store.lead_with_company, engine, request.domain)
    if lead is None:
        runtime.metrics.d365_pushes.labels("failed").inc()
        raise PermanentError(f"{request.domain} is not a lead (scan it first)")
    try:
        mapping = mapping_for(settings.d365_mapping_file)
        document = await asyncio.to_thread(lead_document, runtime, lead, company)
        payload = mapping.payload(document)
        client = _client(runtime)
        result = await client.upsert_lead(mapping.entity_set, mapping.alternate_key, request.domain, payload)
    except (MappingError, IntegrationError) as exc:
        if isinstance(exc, IntegrationError):  # Dataverse or the sign-in: each says whether a retry can help
            error, permanent = exc.describe(), exc.permanent
        else:  # the mapping file is wrong (mapping_invalid): no retry can help
            error, permanent = str(exc), True
        last_try = delivery.dequeue_count >= queue_options().max_dequeue_count
        if isinstance(exc, SignInError):
            await asyncio.to_thread(set_state, engine, "d365", "error", error)
        await asyncio.to_thread(
            sync_store.record,
            engine,
            request.domain,
            last_error=error,
            **({"status": "failed"} if permanent or last_try else {}),
        )
        runtime.metrics.d365_pushes.labels("failed" if permanent or last_try else "retry").inc()
        if permanent or last_try:
            await asyncio.to_thread(_publish_failure, runtime, lead, company, error, delivery)
        if permanent:
            raise PermanentError(error) from None
        raise
    await asyncio.to_thread(
        sync_store.record,
        engine,
        request.domain,
        status="synced",
        lead_id=result.lead_id,
        lead_url=client.lead_url(result.lead_id),
        synced_at=utcnow(),
        last_error=None,
        pushed_score=document["score"],
        pushed_priority=document["priority_category"],
    )
    await asyncio.to_thread(set_state, engine, "d365", "ok", None)
    runtime.metrics.d365_pushes.labels("synced").inc()


def _publish_failure(runtime: Runtime, lead: LeadRow, company: str | None, error: str, delivery: Delivery) -> None:
    """A ``d365.push_failed`` alert when a push has failed for good (never fails the handler)."""
    from shared.core.alerts import make_event
    from shared.logs import log_failure
    from shared.services.notifications import publish

    event = make_event(
        "d365.push_failed",
        domain=lead.domain,
        at=utcnow().isoformat(),
        company_name=company,
        before=None,
        after=error[:300],
        priority=lead.priority_category,
        score=lead.score,
        public_url=runtime.settings.public_url,
        identity=f"{delivery.id}:{delivery.dequeue_count}",
    )
    try:
        publish(runtime, [event])
    except Exception as exc:
        log_failure(logging.getLogger("hunter.d365"), "push failure alert not published", exc)


def d365_status(engine: Engine, settings: Settings) -> dict[str, Any]:
    """The push at a glance for health and the dashboard: sign-in state, counts by sync state,
    the last success and the last error. Never raises (Dataverse trouble must not fail a probe)."""
    if not settings.d365_enabled:
        return {"enabled": False, "state": "disabled"}
    try:
        state = get_states(engine).get("d365")
        return {
            "enabled": True,
            "state": state.state if state else "unknown",
            "detail": state.detail if state else None,
            **sync_store.push_counts(engine),
        }
    except Exception as exc:
        return {"enabled": True, "state": "unknown", "detail": f"status unavailable: {type(exc).__name__}"}


def repush_changed(settings: Settings, engine: Engine, results: Iterable[Any]) -> int:
    """With ``HUNTER_D365_REPUSH_ON_CHANGE``: queue again the synced leads whose score or priority
    a (re)scan just changed, so Dynamics 365 keeps up. Returns how many were queued."""
    if not (settings.d365_enabled and settings.d365_repush_on_change):
        return 0
    scored = {r.record.domain: r.score for r in results if r.record.domain and r.score is not None}
    if not scored:
        return 0
    states = sync_store.sync_states(engine, scored)
    changed = [
        domain
        for domain, state in states.items()
        if state.status == "synced"
        and (state.pushed_score != scored[domain].score or state.pushed_priority != scored[domain].priority_category)
    ]
    return enqueue_pushes(settings, engine, changed)[0] if changed else 0
