"""The one "explain a lead" service: the stored lead, scored under the current rules, with its
evidence, history, referrals and sales summary.

Every reader of a single lead goes through :func:`explain_lead` (``GET /v1/leads/{domain}``, the
sales summary route, ``hunter lead``, the Dynamics 365 document), so a screen, the CLI and the
CRM never disagree. The score is recomputed from the newest usable snapshot and the lead's
referral facts with the rules in force (pure, tens of microseconds): a rules change shows at once
on the lead, and ``stored_rules_version`` says which rules the stored row (what the lead list sorts
by) was saved with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.core.models import ScanRecord
from shared.core.sales import SalesSummary, build_sales_summary
from shared.core.scoring import ScoreResult, score_record
from shared.core.technologies import detect as detect_technologies
from shared.services.lead_facts import facts_from

if TYPE_CHECKING:
    from shared.store.leads import LeadStore

# The priority of a lead as the API shows it (a part of the score).
PRIORITY_FIELDS = (
    "commercial_segment",
    "technical_heat",
    "commercial_heat",
    "priority_category",
    "priority_label",
    "priority_score",
)


@dataclass
class LeadExplanation:
    """One lead, explained. ``lead`` holds the list fields and integration fields, with the score
    fields replaced by those of ``score``."""

    lead: dict[str, Any]
    record: ScanRecord
    score: ScoreResult
    stored_rules_version: str | None
    changes: list[dict[str, Any]]  # newest first: kind, before, after, summary, meaning, at
    referrals: list[dict[str, Any]]  # Partner Center referrals (no raw payload), newest first

    @property
    def domain(self) -> str:
        return self.lead["domain"]

    def priority(self) -> dict[str, Any]:
        return self.score.model_dump(mode="json", include=set(PRIORITY_FIELDS))

    def breakdown(self) -> list[dict[str, Any]]:
        return [item.model_dump() for item in self.score.breakdown]

    def summary(self, lang: str, *, now: datetime | None = None) -> SalesSummary:
        return build_sales_summary(self.record, self.score, lang=lang, generated_at=now)


def explain_lead(leads: LeadStore, domain: str, *, changes: int = 50) -> LeadExplanation | None:
    """The lead of ``domain`` (already normalised), or None when it has not been scanned."""
    detail = leads.lead_detail(domain, changes=changes)  # one connection, usually one statement
    if detail is None or detail.record is None:
        return None
    record = ScanRecord.model_validate(detail.record)
    # Technologies from the data in force, like the score from the rules in force: a snapshot saved
    # before a vendor was added to technologies.yaml (or before technographics) shows it at once.
    record = record.model_copy(update={"technologies": detect_technologies(record)})
    score = score_record(record, extra=facts_from(detail.referrals))
    lead = dict(detail.lead)
    lead.update(
        score=score.score,
        segment=score.segment.value,
        commercial_segment=score.commercial_segment.value,
        priority_category=score.priority_category,
        priority_score=score.priority_score,
    )
    return LeadExplanation(lead, record, score, detail.rules_version, detail.changes, detail.referrals)
