"""Alert events from a saved scan: what a webhook, Teams, Slack or a digest is told. Pure.

Every event has a stable id derived from what happened (type, domain, scan time, from, to), so a
redelivered scan batch produces the same ids and the store keeps each event once.
"""

from __future__ import annotations

import uuid
from typing import Any

from shared.core.results import TRANSIENT, ScanResult
from shared.core.scoring import ChangeKind

EVENT_TYPES = (
    "lead.provider_changed",
    "lead.gateway_changed",
    "lead.dmarc_changed",
    "lead.mx_changed",
    "lead.priority_changed",
    "lead.hot",
    "d365.push_failed",
    "referral.received",
)
HOT = ("P1", "P2")
_TYPE_OF_CHANGE = {
    ChangeKind.PROVIDER_CHANGED: "lead.provider_changed",
    ChangeKind.GATEWAY_ADDED: "lead.gateway_changed",
    ChangeKind.GATEWAY_REMOVED: "lead.gateway_changed",
    ChangeKind.DMARC_POLICY_CHANGED: "lead.dmarc_changed",
    ChangeKind.MX_DISAPPEARED: "lead.mx_changed",
    ChangeKind.MX_APPEARED: "lead.mx_changed",
}
_NAMESPACE = uuid.UUID("6f1b3c7e-2a4d-4c1e-9b8a-2d9e4f6a1c30")


def event_id(event_type: str, domain: str, at: str, before: Any, after: Any, identity: str = "") -> str:
    """Stable: the same happening gives the same id (``identity`` tells apart two of one kind at one time)."""
    return uuid.uuid5(_NAMESPACE, f"{event_type}|{domain}|{at}|{before}|{after}|{identity}").hex


def make_event(
    event_type: str,
    *,
    domain: str,
    at: str,
    company_name: str | None,
    before: Any,
    after: Any,
    priority: str | None,
    score: int | None,
    public_url: str,
    identity: str = "",
) -> dict[str, Any]:
    """The event as every channel receives it (the issue's payload shape)."""
    return {
        "type": event_type,
        "timestamp": at,
        "data": {
            "event_id": event_id(event_type, domain, at, before, after, identity),
            "domain": domain,
            "company_name": company_name,
            "from": before,
            "to": after,
            "priority": priority,
            "score": score,
            "lead_url": f"{public_url.rstrip('/')}/#/leads/{domain}",
        },
    }


def scan_events(result: ScanResult, previous_priority: str | None, *, public_url: str) -> list[dict[str, Any]]:
    """The events of one saved scan: its change records, a priority change, a lead becoming hot.

    A failed or timed-out scan says nothing about the company: no event (as for change records).
    ``previous_priority`` is the lead's category before this scan (None for a new lead)."""
    record, score = result.record, result.score
    if not record.domain or record.status in TRANSIENT or score is None:
        return []
    at = (record.scanned_at.isoformat() if record.scanned_at else "")
    common = {
        "domain": record.domain,
        "at": at,
        "company_name": result.company_name,
        "priority": score.priority_category,
        "score": score.score,
        "public_url": public_url,
    }
    events = [
        make_event(_TYPE_OF_CHANGE[change.kind], before=change.before, after=change.after, **common)
        for change in result.events
        if change.kind in _TYPE_OF_CHANGE
    ]
    now = score.priority_category
    if previous_priority is not None and previous_priority != now:
        events.append(make_event("lead.priority_changed", before=previous_priority, after=now, **common))
    if now in HOT and previous_priority not in HOT:
        events.append(make_event("lead.hot", before=previous_priority, after=now, **common))
    return events


def wants(subscribed_types: list[str], event_type: str) -> bool:
    """A subscription's event types (empty: every type) include ``event_type``."""
    return not subscribed_types or event_type in subscribed_types
