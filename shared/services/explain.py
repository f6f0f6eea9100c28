"""A stored lead, re-explained: score breakdown, priority, sales summary and history.

The score is recomputed from the newest usable snapshot with the current rules file (pure and
cheap), so a rules change shows up at once; the stored row keeps the version it was saved with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.core.domains import normalize
from shared.core.models import ScanRecord
from shared.core.sales import SalesSummary, build_sales_summary
from shared.core.scoring import ScoreResult, score_record
from shared.store.leads import Repository
from shared.store.models import ChangeEventRow, LeadRow


class LeadNotFoundError(LookupError):
    pass


@dataclass
class LeadDetail:
    lead: LeadRow
    record: ScanRecord
    score: ScoreResult
    summary: SalesSummary
    events: list[ChangeEventRow]


def lead_detail(repository: Repository, raw_domain: str, *, lang: str, now: datetime | None = None) -> LeadDetail:
    domain = normalize(raw_domain).name
    lead = repository.lead(domain)
    record = repository.latest_record(domain, usable=True) or repository.latest_record(domain)
    if lead is None or record is None:
        raise LeadNotFoundError(f"{domain} has not been scanned yet; run: hunter scan {domain}")
    from shared.services.pc_sync import lead_context

    score = score_record(record, extra=lead_context(repository.engine, domain))
    summary = build_sales_summary(record, score, lang=lang, generated_at=now)
    return LeadDetail(lead, record, score, summary, repository.events(domain))
