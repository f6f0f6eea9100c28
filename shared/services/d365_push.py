"""Dynamics 365 push: enqueue leads on ``d365-push`` (once per lead until processed) and the
queue function that upserts one lead into Dataverse and records the outcome on the lead.

The sync state lives in ``d365_sync`` (one row per pushed lead; none = ``not_synced``):
``queued`` → ``synced`` (with Dataverse's ``leadid``) or ``failed`` (with the Dataverse error).
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shared.config import Settings
from shared.queues import open_queue
from shared.queues.hostjson import queue_options
from shared.store.models import D365SyncRow, DomainRow, LeadRow, utcnow
from shared.triggers.queue_runner import MessageContext, PermanentError, runtime_context

D365_QUEUE = "d365-push"
REQUEUE_AFTER = timedelta(hours=1)  # a lead "queued" longer than this (its message lost) may be queued again
SYNC = D365SyncRow.__table__


class D365Disabled(RuntimeError):
    pass


class PushMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: int = Field(1, ge=1, le=1)
    domain: str = Field(min_length=3, max_length=253)


def _insert(engine: Engine):  # type: ignore[no-untyped-def]
    return postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert


def mark_queued(engine: Engine, domains: Iterable[str]) -> list[str]:
    """Mark the known leads among ``domains`` as queued; return those that were not queued
    already (only they get a message: pushing the same lead twice before it runs pushes once)."""
    names = sorted(set(domains))
    if not names:
        return []
    now = utcnow()
    with engine.begin() as connection:
        ids = dict(
            connection.execute(
                select(DomainRow.name, DomainRow.id)
                .join(LeadRow, LeadRow.domain_id == DomainRow.id)
                .where(DomainRow.name.in_(names))
            ).all()
        )
        if not ids:
            return []
        stmt = _insert(engine)(SYNC).values(
            [{"domain_id": i, "domain": n, "status": "queued", "queued_at": now} for n, i in ids.items()]
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["domain_id"],
            set_={"status": "queued", "queued_at": now},
            where=(SYNC.c.status != "queued") | (SYNC.c.queued_at < now - REQUEUE_AFTER),
        ).returning(SYNC.c.domain)
        return sorted(connection.scalars(stmt))


def enqueue_pushes(settings: Settings, engine: Engine, domains: Iterable[str]) -> tuple[int, list[str]]:
    """(messages queued, domains that are not leads)."""
    if not settings.d365_enabled:
        raise D365Disabled("the Dynamics 365 integration is off (HUNTER_D365_ENABLED)")
    wanted = sorted(set(domains))
    fresh = mark_queued(engine, wanted)
    with Session(engine) as session:
        known = set(session.scalars(select(LeadRow.domain).where(LeadRow.domain.in_(wanted)))) if wanted else set()
    queue = open_queue(D365_QUEUE, settings, engine)
    queue.send_many(json.dumps({"v": 1, "domain": d}, separators=(",", ":")) for d in fresh)
    return len(fresh), [d for d in wanted if d not in known]


def sync_states(engine: Engine, domains: Iterable[str]) -> dict[str, D365SyncRow]:
    names = list(set(domains))
    if not names:
        return {}
    with Session(engine) as session:
        return {row.domain: row for row in session.scalars(select(D365SyncRow).where(D365SyncRow.domain.in_(names)))}


def _record(engine: Engine, domain: str, **values: Any) -> None:
    from sqlalchemy import update

    with engine.begin() as connection:
        connection.execute(update(SYNC).where(SYNC.c.domain == domain).values(**values))


def lead_document(lead: LeadRow, company: str | None, settings: Settings) -> dict[str, Any]:
    """The lead as the mapping file sees it (see FIELDS in mapping.py)."""
    from shared.core.models import ScanRecord
    from shared.core.sales import build_sales_summary
    from shared.core.scoring import score_record

    repository = runtime_context().repository
    record: ScanRecord | None = repository.latest_record(lead.domain, usable=True)
    one_liner = None
    label = None
    if record is not None:
        from shared.services.pc_sync import lead_context

        score = score_record(record, extra=lead_context(runtime_context().engine, lead.domain))
        summary = build_sales_summary(record, score, lang=settings.default_lang)
        one_liner, label = summary.one_liner, summary.priority_label
    host = lead.gateway or lead.local_provider
    return {
        "domain": lead.domain,
        "company_name": company,
        "company_or_domain": company or lead.domain,
        "website": f"https://{lead.domain}",
        "score": lead.score,
        "segment": lead.segment,
        "commercial_segment": lead.commercial_segment,
        "priority_category": lead.priority_category,
        "priority_label": label,
        "provider": lead.provider,
        "provider_text": f"{lead.provider} ({host})" if lead.provider and host else lead.provider,
        "sales_one_liner": one_liner,
        "hunter_url": f"{settings.public_url.rstrip('/')}/#/leads/{lead.domain}",
        "tenant_domain": lead.tenant_domain,
    }


_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _client():  # type: ignore[no-untyped-def]
    """One Dataverse client (one connection pool, one token, one concurrency bound) per event loop."""
    from shared.integrations.d365.client import DataverseClient

    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        context = runtime_context()
        client = _clients[loop] = DataverseClient(context.settings, context.engine)
    return client


async def handle_push(body: str, message: MessageContext) -> None:
    """The ``d365-push`` queue function: upsert one lead into Dataverse by its domain."""
    from shared.integrations.d365.client import DataverseError
    from shared.integrations.d365.mapping import MappingError, mapping_for
    from shared.integrations.identity import SignInError, set_state

    context = runtime_context()
    settings, engine = context.settings, context.engine
    request = PushMessage.model_validate_json(body)
    if not settings.d365_enabled:
        await asyncio.to_thread(_record, engine, request.domain, status="failed", last_error="D365 integration is off")
        return
    lead, company = await asyncio.to_thread(_lead, engine, request.domain)
    if lead is None:
        raise PermanentError(f"{request.domain} is not a lead (scan it first)")
    try:
        mapping = mapping_for(settings.d365_mapping_file)
        payload = mapping.payload(lead_document(lead, company, settings))
        client = _client()
        result = await client.upsert_lead(mapping.entity_set, mapping.alternate_key, request.domain, payload)
    except (MappingError, DataverseError, SignInError) as exc:
        error = exc.describe() if isinstance(exc, DataverseError) else str(exc)
        permanent = isinstance(exc, MappingError) or getattr(exc, "permanent", False)
        last_try = message.dequeue_count >= queue_options().max_dequeue_count
        if isinstance(exc, SignInError):
            await asyncio.to_thread(set_state, engine, "d365", "error", error)
        await asyncio.to_thread(
            _record,
            engine,
            request.domain,
            last_error=error,
            **({"status": "failed"} if permanent or last_try else {}),
        )
        if permanent:
            raise PermanentError(error) from None
        raise
    await asyncio.to_thread(
        _record,
        engine,
        request.domain,
        status="synced",
        lead_id=result.lead_id,
        lead_url=client.lead_url(result.lead_id),
        synced_at=utcnow(),
        last_error=None,
        pushed_score=lead.score,
        pushed_priority=lead.priority_category,
    )
    await asyncio.to_thread(set_state, engine, "d365", "ok", None)


def _lead(engine: Engine, domain: str) -> tuple[LeadRow | None, str | None]:
    with Session(engine) as session:
        row = session.execute(
            select(LeadRow, DomainRow.company_name)
            .join(DomainRow, DomainRow.id == LeadRow.domain_id)
            .where(LeadRow.domain == domain)
        ).first()
    return (row[0], row[1]) if row else (None, None)


def d365_status(engine: Engine, settings: Settings) -> dict[str, Any]:
    """The push at a glance for health and the dashboard: sign-in state, counts by sync state,
    the last success and the last error. Never raises (Dataverse trouble must not fail a probe)."""
    from sqlalchemy import func

    from shared.integrations.identity import get_states

    if not settings.d365_enabled:
        return {"enabled": False, "state": "disabled"}
    try:
        state = get_states(engine).get("d365")
        with Session(engine) as session:
            counts = dict(session.execute(select(D365SyncRow.status, func.count()).group_by(D365SyncRow.status)).all())
            last_synced = session.scalar(select(func.max(D365SyncRow.synced_at)))
            failed = session.scalar(
                select(D365SyncRow)
                .where(D365SyncRow.status == "failed")
                .order_by(D365SyncRow.queued_at.desc())
                .limit(1)
            )
        return {
            "enabled": True,
            "state": state.state if state else "unknown",
            "detail": state.detail if state else None,
            "counts": {k: counts.get(k, 0) for k in ("queued", "synced", "failed")},
            "last_synced_at": last_synced.isoformat() if last_synced else None,
            "last_error": {"domain": failed.domain, "error": failed.last_error} if failed else None,
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
    states = sync_states(engine, scored)
    changed = [
        domain
        for domain, state in states.items()
        if state.status == "synced"
        and (state.pushed_score != scored[domain].score or state.pushed_priority != scored[domain].priority_category)
    ]
    return enqueue_pushes(settings, engine, changed)[0] if changed else 0
