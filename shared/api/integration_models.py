"""Pydantic models of the Dynamics 365 and Partner Center endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.store.queries import LeadFilter

MAX_PUSH = 10_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class D365PushRequest(LeadFilter):
    """Either ``domains`` or lead-list filters (e.g. ``{"priority": ["P1", "P2"]}``): every
    matching lead is queued, up to 10,000 per request."""

    model_config = ConfigDict(extra="forbid")

    domains: list[str] | None = Field(None, min_length=1, max_length=MAX_PUSH)


class D365PushResult(_Strict):
    queued: int = Field(description="messages put on d365-push (a lead already queued is not queued twice)")
    already_queued: int
    not_leads: list[str] = Field(description="requested domains that have not been scanned")
    invalid: list[str] = Field(default_factory=list, description="inputs that are not domains")


class D365RetryRequest(_Strict):
    domains: list[str] | None = Field(
        None, min_length=1, max_length=MAX_PUSH, description="failed leads to retry; omit for all failed leads"
    )


class D365RetryResult(_Strict):
    redriven: int = Field(description="poison messages moved back to d365-push")
    requeued: int = Field(description="failed leads without a poison message, queued afresh")


class D365State(_Strict):
    d365_sync_status: str = Field(description="not_synced, queued, synced or failed")
    d365_lead_id: str | None = None
    d365_lead_url: str | None = None
    d365_synced_at: datetime | None = None
    d365_last_error: str | None = None
