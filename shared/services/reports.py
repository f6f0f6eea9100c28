"""The PDF lead report: one lead, or a call list of leads, from the one lead-explaining service.

``GET /v1/leads/{domain}/report.pdf``, ``POST /v1/leads/report.pdf`` and ``hunter lead --pdf`` all
come here, and the data comes from :func:`shared.services.explain.explain_lead` (the same score,
breakdown, evidence and sales summary the lead screen shows); :mod:`shared.reports.pdf` only draws.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared import __version__
from shared.core.models import ScanRecord
from shared.reports.model import Bar, ChangeLine, LeadReport
from shared.reports.pdf import render_pdf
from shared.services.explain import LeadExplanation, explain_lead

if TYPE_CHECKING:
    from shared.store.leads import LeadStore
    from shared.store.queries import LeadFilter

MAX_BATCH = 50  # leads in one call-list PDF
REPORT_CHANGES = 200  # change events read per lead: more than three pages hold (the renderer stops at three)


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def technology_groups(record: ScanRecord) -> list[tuple[str, list[str]]]:
    """The record's technologies as (category, names) in the record's order; empty when the scan found
    none (or predates technology detection)."""
    found = getattr(record, "technologies", None) or []
    groups: dict[str, list[str]] = {}
    for item in found:
        name = _field(item, "name")
        if name:
            names = groups.setdefault(str(_field(item, "category") or "other"), [])
            if str(name) not in names:
                names.append(str(name))
    return list(groups.items())


def evidence_rows(record: ScanRecord, lead: dict[str, Any]) -> dict[str, str | None]:
    """The evidence table's values, as the lead screen shows them."""
    mx = ", ".join(f"{host.host} ({host.preference})" for host in record.mx) or (
        "null MX (RFC 7505)" if record.status.value == "null_mx" else None
    )
    spf = None
    if record.spf is not None:
        spf = record.spf.record if record.spf.valid else f"{record.spf.record} — {record.spf.error or 'invalid'}"
    dmarc = None
    if record.dmarc is not None:
        dmarc = f"p={record.dmarc.policy or '—'} · pct={record.dmarc.pct}"
        if record.dmarc.rua:
            dmarc += f" · rua={', '.join(record.dmarc.rua)}"
        if not record.dmarc.valid:
            dmarc += f" — {record.dmarc.error or 'invalid'}"
    tenant = record.m365.tenant_domain or lead.get("tenant_domain")
    if record.tenant_size is not None:
        tenant = f"{tenant or '—'} · {record.tenant_size.band}"
    recon = getattr(record, "tenant_recon", None)  # Microsoft's sign-in endpoints, when recon is on
    if recon is not None and getattr(recon, "namespace_type", None):
        idp = getattr(recon, "federation_idp", None)
        tenant = f"{tenant or '—'} · {recon.namespace_type}" + (f" ({idp})" if idp else "")
    hosting = getattr(record, "hosting", None)  # PTR and IP-database enrichment, when present
    host = record.local_provider or (getattr(hosting, "company", None) if hosting is not None else None)
    summary = getattr(hosting, "summary", None) if hosting is not None else None
    if summary:
        host = f"{host} — {summary}" if host else summary
    provider = record.provider
    if provider and record.provider_evidence:
        provider = f"{provider} ({record.provider_evidence[0]})"
    return {
        "provider": provider,
        "gateway": record.gateway,
        "host": host,
        "mx": mx,
        "spf": spf,
        "dkim": ", ".join(record.dkim_found) or None,
        "dmarc": dmarc,
        "tenant": tenant,
    }


def lead_report(explanation: LeadExplanation, lang: str, *, now: datetime | None = None) -> LeadReport:
    """What the PDF shows of one explained lead, in ``lang``."""
    record, score, lead = explanation.record, explanation.score, explanation.lead
    summary = explanation.summary(lang, now=now)
    turkish = lang == "tr"
    return LeadReport(
        domain=explanation.domain,
        domain_unicode=lead.get("domain_unicode") or record.domain_unicode,
        company_name=lead.get("company_name"),
        status=record.status.value,
        score=score.score,
        priority_category=score.priority_category,
        priority_label=summary.priority_label,
        segment=score.segment.value,
        commercial_segment=score.commercial_segment.value,
        technical_heat=score.technical_heat.value,
        commercial_heat=score.commercial_heat.value,
        scanned_at=record.scanned_at or lead.get("scanned_at"),
        rules_version=score.rules_version,
        breakdown=[Bar((item.reason_tr if turkish else None) or item.reason, item.points) for item in score.breakdown],
        evidence=evidence_rows(record, lead),
        technologies=technology_groups(record),
        summary=summary,
        changes=[
            ChangeLine(change.get("at"), change.get("summary") or change.get("kind", ""))
            for change in explanation.changes
        ],
        changes_complete=len(explanation.changes) < REPORT_CHANGES,
    )


def render_reports(explanations: list[LeadExplanation], lang: str, *, now: datetime | None = None) -> bytes:
    now = now or datetime.now(UTC)
    reports = [lead_report(explanation, lang, now=now) for explanation in explanations]
    return render_pdf(reports, lang=lang, version=__version__, generated_at=now)


def lead_pdf(leads: LeadStore, domain: str, lang: str, *, now: datetime | None = None) -> bytes | None:
    """The report of ``domain`` (already normalised), or None when it has not been scanned."""
    explanation = explain_lead(leads, domain, changes=REPORT_CHANGES)
    return None if explanation is None else render_reports([explanation], lang, now=now)


def filtered_explanations(leads: LeadStore, lead_filter: LeadFilter) -> list[LeadExplanation]:
    """The first ``lead_filter.limit`` (≤ MAX_BATCH) leads the filter matches, in the list's order, explained."""
    page = leads.lead_page(lead_filter.model_copy(update={"limit": min(lead_filter.limit, MAX_BATCH)}))
    found = (explain_lead(leads, row["domain"], changes=REPORT_CHANGES) for row in page.rows)
    return [explanation for explanation in found if explanation is not None]
