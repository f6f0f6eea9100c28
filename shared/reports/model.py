"""What one lead's report shows, already chosen and in the report's language where words matter.

Built by ``shared.services.reports.lead_report`` from the lead-explaining service, so a printed
report and the lead screen show the same score, breakdown, evidence and sales summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from shared.core.sales import SalesSummary

# The evidence table's rows, in this order (the renderer owns their words).
EVIDENCE_KEYS = ("provider", "gateway", "host", "mx", "spf", "dkim", "dmarc", "tenant", "technologies")


@dataclass(frozen=True)
class Bar:
    """One rule of the score breakdown: its reason (in the report's language) and its points."""

    label: str
    points: int


@dataclass(frozen=True)
class ChangeLine:
    at: datetime | None
    text: str


@dataclass(frozen=True)
class LeadReport:
    domain: str
    domain_unicode: str | None = None
    company_name: str | None = None
    status: str = "ok"
    score: int | None = None
    priority_category: str | None = None
    priority_label: str | None = None
    segment: str | None = None
    commercial_segment: str | None = None
    technical_heat: str | None = None
    commercial_heat: str | None = None
    scanned_at: datetime | None = None
    rules_version: str | None = None
    breakdown: list[Bar] = field(default_factory=list)
    evidence: dict[str, str | None] = field(default_factory=dict)  # EVIDENCE_KEYS → text (None: nothing found)
    technologies: list[tuple[str, list[str]]] = field(default_factory=list)  # (category id, vendor names)
    summary: SalesSummary | None = None
    changes: list[ChangeLine] = field(default_factory=list)  # newest first
    changes_complete: bool = True  # False: the lead has more changes than were read
