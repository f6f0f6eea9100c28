"""Pydantic models at the HTTP edge. The OpenAPI documents are generated from these."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.api.pc_models import LeadReferralOut
from shared.core.models import HostingInfo, ScanRecord, Technology, TenantRecon, TenantSize, WhoisInfo
from shared.core.sales import SalesSummary
from shared.store.queries import LeadFilter

Lang = Literal["tr", "en"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: str = Field(
        min_length=1,
        max_length=2048,
        description="a domain, URL or e-mail address",
        examples=["https://www.acme.com.tr/iletisim"],
    )
    lang: Lang | None = Field(None, description="language of the sales summary (default HUNTER_DEFAULT_LANG)")


class SpfOut(_Out):
    record: str
    valid: bool
    error: str | None
    all: str | None
    includes: list[str]
    lookups: int
    void_lookups: int
    over_lookup_limit: bool


class DmarcOut(_Out):
    record: str
    valid: bool
    error: str | None
    policy: str | None
    subdomain_policy: str | None
    pct: int
    rua: list[str]
    ruf: list[str]


class M365Out(_Out):
    evidence: list[str]
    tenant_domain: str | None


class BreakdownOut(_Out):
    rule: str
    points: int
    reason: str = Field(description="why, in English")
    reason_tr: str | None = Field(None, description="why, in Turkish (absent on leads scored before it existed)")


class ChangeOut(_Out):
    kind: str
    before: str | None
    after: str | None
    summary: str
    meaning: str | None = None
    at: datetime | None = None


class LeadResult(_Out):
    """One scanned domain: the same shape as a ``hunter scan --json`` line."""

    input: str
    domain: str | None
    domain_unicode: str | None
    status: str
    error: str | None
    provider: str | None
    local_provider: str | None
    gateway: str | None
    provider_evidence: list[str]
    mx: list[str]
    spf: SpfOut | None
    dmarc: DmarcOut | None
    dkim: list[str]
    m365: M365Out
    tenant_size: TenantSize | None
    technologies: list[Technology] = Field(
        default_factory=list,
        description="SaaS and security vendors the domain's DNS names (TXT verification, SPF include, DMARC "
        "report address, DKIM CNAME), each with its category and the records that prove it",
    )
    whois: WhoisInfo | None
    tenant_recon: TenantRecon | None = Field(
        None,
        description="Microsoft 365 leads with HUNTER_TENANT_RECON_ENABLED: tenant id, region scope and namespace type "
        "(Managed/Federated/Unknown) from Microsoft's public sign-in endpoints; `error` is a code when a part failed",
    )
    hosting: HostingInfo | None = Field(
        None,
        description="PTR names (and, with HUNTER_IP_DB_PATH, ASN, organisation, country) of the first MX and apex "
        "addresses, the hosting company they name and a one-line summary",
    )
    scanned_at: datetime | None
    duration_ms: float | None
    score: int | None
    segment: str | None
    commercial_segment: str | None
    priority_category: str | None
    priority_label: str | None
    priority_score: int | None
    breakdown: list[BreakdownOut] | None
    rules_version: str | None
    changes: list[ChangeOut]


class ScanResponse(LeadResult):
    sales_summary: SalesSummary | None = Field(None, description="present when the domain is valid")


class LeadQuery(LeadFilter):
    model_config = ConfigDict(extra="forbid")

    cursor: str | None = Field(
        None,
        max_length=600,
        description=(
            "opaque; the `next` value of the previous page. A page continues after the previous page's last "
            "lead (its sort value and domain), so leads added meanwhile do not shift the next pages as they "
            "would with `offset`, and a deep page costs what the first does. Takes precedence over `offset`."
        ),
    )


class LeadItem(_Out):
    domain: str
    domain_unicode: str | None = None
    company_name: str | None = None
    status: str
    provider: str | None
    local_provider: str | None
    gateway: str | None
    score: int | None
    segment: str | None
    commercial_segment: str | None
    priority_category: str | None
    priority_score: int | None
    dmarc_policy: str | None
    dmarc_pct: int | None
    spf_valid: bool | None
    dkim_found: int
    tenant_domain: str | None
    tenant_size: str | None
    technologies: str | None = Field(
        None, description="technologies seen in the lead's DNS, joined: `Zoom; Salesforce` (see the snapshot)"
    )
    scan_count: int
    scanned_at: datetime
    changed_at: datetime | None
    d365_sync_status: Literal["not_synced", "queued", "synced", "failed"] = "not_synced"
    d365_lead_id: str | None = None
    d365_lead_url: str | None = Field(None, description="opens the lead in Dynamics 365")
    d365_synced_at: datetime | None = None
    d365_last_error: str | None = None
    referral_count: int = Field(0, description="Partner Center referrals linked to this lead")


class LeadPage(_Out):
    items: list[LeadItem]
    total: int
    limit: int
    next: str | None = Field(description="cursor of the next page; null on the last page")


class PriorityOut(_Out):
    commercial_segment: str
    technical_heat: str = Field(description="Hot, Warm or Cold: how ready the mail setup is for Microsoft 365")
    commercial_heat: str = Field(description="HIGH, MEDIUM or LOW: how much new business the lead promises")
    priority_category: str
    priority_label: str
    priority_score: int


class LeadDetailOut(_Out):
    lead: LeadItem
    priority: PriorityOut | None = Field(description="the CSP priority with its heat; null for an unscored lead")
    breakdown: list[BreakdownOut]
    rules_version: str | None
    evidence: list[str]
    snapshot: ScanRecord = Field(description="the newest usable scan, every signal")
    changes: list[ChangeOut]
    referrals: list[LeadReferralOut] = Field(description="Partner Center referrals linked to this lead, newest first")


class NoQuery(BaseModel):
    """Endpoints without parameters still refuse unknown ones (a typo should not pass silently)."""

    model_config = ConfigDict(extra="forbid")


class LangQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lang: Lang | None = None


class ExportQuery(LeadFilter):
    model_config = ConfigDict(extra="forbid")

    format: Literal["csv", "xlsx"] = "csv"
    delimiter: Literal[",", ";"] = Field(",", description="';' suits Excel in Turkish and most EU locales")
    limit: int = Field(100_000, ge=1, le=1_000_000)


class Count(_Out):
    key: str | None
    count: int


class Dashboard(_Out):
    total: int
    average_score: float | None
    by_segment: list[Count]
    by_provider: list[Count]
    by_priority: list[Count]
    by_commercial_segment: list[Count]
    by_technology: list[Count] = Field(default_factory=list, description="leads per technology seen in their DNS")
    recent_changes: list[ChangeOut]
    integrations: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Dynamics 365 push and Partner Center sync at a glance: state (needs_login), counts, last run",
    )
    rescans: dict[str, Any] = Field(
        default_factory=dict,
        description="the rescan timer: schedule, budget, next_run_at, last run (at, trigger, status, due, submitted)",
    )
