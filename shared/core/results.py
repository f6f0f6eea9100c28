"""One scanned domain on its way from the scanner to the store and the user, and its public
shape: what ``hunter scan --json`` prints and the API returns."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from shared.core.models import ScanRecord, ScanStatus
from shared.core.scoring import ChangeEvent, ScoreResult

# Failures that say nothing about the domain (asking again may succeed): never cached, never
# allowed to overwrite what an earlier good scan found, never a change event.
TRANSIENT = frozenset({ScanStatus.TIMEOUT, ScanStatus.SERVFAIL, ScanStatus.ERROR})


@dataclass
class ScanResult:
    """One scanned domain: the evidence, its score (None for an invalid input), the company name
    the input gave, and what changed since the previous scan (filled in when it is saved)."""

    record: ScanRecord
    score: ScoreResult | None = None
    company_name: str | None = None
    events: list[ChangeEvent] = field(default_factory=list)


def result_json(result: ScanResult) -> dict[str, Any]:
    record, score = result.record, result.score
    out: dict[str, Any] = {
        "input": record.input,
        "domain": record.domain,
        "domain_unicode": record.domain_unicode,
        "status": record.status.value,
        "error": record.error,
        "provider": record.provider,
        "local_provider": record.local_provider,
        "gateway": record.gateway,
        "provider_evidence": record.provider_evidence,
        "mx": [h.host for h in record.mx],
        "spf": (
            record.spf.model_dump(
                include={"record", "valid", "error", "all", "includes", "lookups", "void_lookups", "over_lookup_limit"}
            )
            if record.spf
            else None
        ),
        "dmarc": (
            record.dmarc.model_dump(
                include={"record", "valid", "error", "policy", "subdomain_policy", "pct", "rua", "ruf"}
            )
            if record.dmarc
            else None
        ),
        "dkim": record.dkim_found,
        "m365": record.m365.model_dump(),
        "tenant_size": record.tenant_size.model_dump() if record.tenant_size else None,
        "technologies": [tech.model_dump() for tech in record.technologies],
        "whois": record.whois.model_dump(mode="json") if record.whois else None,
        "tenant_recon": record.tenant_recon.model_dump() if record.tenant_recon else None,
        "hosting": record.hosting.model_dump() if record.hosting else None,
        "scanned_at": record.scanned_at.isoformat() if record.scanned_at else None,
        "duration_ms": record.duration_ms,
    }
    out.update(
        score=score.score if score else None,
        segment=score.segment.value if score else None,
        commercial_segment=score.commercial_segment.value if score else None,
        priority_category=score.priority_category if score else None,
        priority_label=score.priority_label if score else None,
        priority_score=score.priority_score if score else None,
        breakdown=[item.model_dump() for item in score.breakdown] if score else None,
        rules_version=score.rules_version if score else None,
        changes=[event.model_dump(mode="json") for event in result.events],
    )
    return out


def result_line(result: ScanResult) -> str:
    """One result as a JSON line (UTF-8 text kept readable)."""
    return json.dumps(result_json(result), ensure_ascii=False, default=str)
