"""What a lead's Partner Center referrals add to its score (a co-sell boost, a known Entra ID tenant).

DNS cannot see these facts, so every path that scores a lead from its snapshot (the after-scan
step, the lead explanation, the referral sync's rescoring) takes them from here, and a rescan
never drops them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from shared.core.referrals import referral_facts
from shared.core.scoring import LeadFacts, score_record
from shared.store import referrals as referral_store

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from shared.core.results import ScanResult

_FIELDS = ("type", "status", "customer_tenant_id", "updated_at")


def facts_from(referrals: Iterable[Mapping[str, Any] | Any]) -> LeadFacts:
    """The scoring facts of one lead's referrals (row objects or dicts with ``type``, ``status``,
    ``customer_tenant_id`` and ``updated_at``). Pure."""
    items = [
        item if isinstance(item, Mapping) else {name: getattr(item, name) for name in _FIELDS} for item in referrals
    ]
    facts = referral_facts(items)
    return LeadFacts(referral_type=facts.referral_type, known_tenant=facts.known_tenant)


def facts_for(engine: Engine, domains: Iterable[str]) -> dict[str, LeadFacts]:
    """:func:`facts_from` for every lead among ``domains`` that has referrals, in one query (leads
    without referrals are left out: they score from DNS alone)."""
    grouped = referral_store.referral_rows_for(engine, domains)
    return {domain: facts_from(rows) for domain, rows in grouped.items() if rows}


def facts_of(engine: Engine, domain: str) -> LeadFacts:
    return facts_for(engine, [domain]).get(domain, LeadFacts())


def rescore_with_referrals(engine: Engine, results: Sequence[ScanResult]) -> None:
    """Score the results whose domains have referrals again with those facts (the scanner scores
    from DNS alone). One indexed lookup per batch; nothing changes for domains without referrals."""
    domains = [r.record.domain for r in results if r.score is not None and r.record.domain]
    if not domains:
        return
    facts = facts_for(engine, domains)
    for result in results:
        if result.record.domain in facts:
            result.score = score_record(result.record, extra=facts[result.record.domain])
