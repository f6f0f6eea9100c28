"""Pydantic models of the Partner Center endpoints (referrals, sync) and of a lead's referrals."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.core.referrals import REFERRAL_STATUSES, REFERRAL_TYPES
from shared.store.queries import known_values

LinkStatus = Literal["linked", "domain_missing"]
MAX_OFFSET = 1_000_000


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _split(value: object) -> object:
    """Query strings give one value as text: accept ``a``, ``a,b`` and repeated keys alike."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [part.strip() for item in value for part in str(item).split(",") if part.strip()]
    return value


class ReferralQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    link_status: list[LinkStatus] = Field(
        default_factory=list, description="linked, or domain_missing (no company e-mail: a person must link it)"
    )
    type: list[str] = Field(default_factory=list, description="Partner Center referral types (Independent, Shared)")
    status: list[str] = Field(default_factory=list, description="referral statuses (New, Active, Closed)")
    domain: str | None = Field(None, max_length=253, description="only the referrals linked to this lead's domain")
    q: str | None = Field(None, max_length=200, description="substring of the customer, referral name or domain")
    updated_since: datetime | None = Field(None, description="only referrals Partner Center updated at or after this")
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)

    @field_validator("link_status", "type", "status", mode="before")
    @classmethod
    def _lists(cls, value: object) -> object:
        return _split(value)

    @field_validator("type")
    @classmethod
    def _types(cls, value: list[str]) -> list[str]:
        return known_values(value, REFERRAL_TYPES, "referral type")

    @field_validator("status")
    @classmethod
    def _statuses(cls, value: list[str]) -> list[str]:
        return known_values(value, REFERRAL_STATUSES, "referral status")


class ReferralOut(_Out):
    id: str
    engagement_id: str | None
    name: str | None
    type: str | None = Field(description="Independent, or Shared (co-sell with Microsoft)")
    qualification: str | None
    status: str | None = Field(description="the referral's own status in Partner Center: New, Active, Closed")
    substatus: str | None
    direction: str | None
    customer_name: str | None
    customer_country: str | None
    customer_size: str | None
    customer_tenant_id: str | None = Field(description="the customer's Entra ID (Azure AD) tenant, when given")
    contact_domain: str | None = Field(description="domain of the first contact e-mail (may be a free-mail one)")
    website: str | None = Field(description="https://<domain>: the API has none; derived from the contacts")
    domain: str | None = Field(description="company domain from the contacts' e-mail; the lead it links to")
    link_status: LinkStatus = Field(description="Hunter's link to a lead, apart from status/substatus")
    deal_value: float | None
    currency: str | None
    created_at: datetime | None
    updated_at: datetime | None
    expires_at: datetime | None
    first_seen_at: datetime
    synced_at: datetime


class ReferralPage(_Out):
    items: list[ReferralOut]
    total: int
    limit: int
    offset: int
    next_offset: int | None = Field(description="offset of the next page; null on the last page")


class ReferralLead(_Out):
    domain: str
    score: int | None
    segment: str | None
    priority_category: str | None


class ReferralDetailOut(ReferralOut):
    lead: ReferralLead | None = Field(description="the lead the referral links to, once scanned")
    raw: dict[str, Any] = Field(
        description="the referral as Partner Center sent it; for keys without the admin scope the names, "
        "phone numbers and e-mail addresses of its people are [redacted] (their e-mail domain is kept)"
    )


class LeadReferralOut(_Out):
    """A referral as the lead detail lists it."""

    id: str
    name: str | None
    type: str | None
    qualification: str | None
    status: str | None
    substatus: str | None
    customer_name: str | None
    customer_tenant_id: str | None
    deal_value: float | None
    currency: str | None
    created_at: datetime | None
    updated_at: datetime | None
    expires_at: datetime | None


class SyncRunOut(_Out):
    id: int
    trigger: str = Field(description="timer or manual")
    status: str = Field(description="ok, failed, needs_login or skipped (another run was going)")
    pages: int
    fetched: int
    created: int
    updated: int
    unchanged: int
    domain_missing: int = Field(description="referrals of this run without a company domain")
    scans_queued: int = Field(description="new referral domains sent to the bulk-scan queue")
    rescored: int = Field(description="leads whose score changed because of their referrals")
    watermark: datetime | None = Field(description="newest updatedDateTime read; the next run starts before it")
    error: str | None
