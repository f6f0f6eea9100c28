"""Reduce a :class:`ScanRecord` (plus the lead facts its referrals give) to the flat facts rules test.

Rules in ``rules.yaml`` never look at the raw record: they look at these facts. That keeps
the rules file small and declarative ("spf: [missing]") and puts every judgement about
what a DNS answer *means* (is an SPF record over the lookup limit broken? is an invalid
DMARC record as good as none?) in one reviewed place.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.core.models import ScanRecord, ScanStatus


class SpfState(StrEnum):
    """What an SPF record is worth to a receiver."""

    MISSING = "missing"  # no v=spf1 record at all
    VALID = "valid"  # parses, resolves, stays within the 10-lookup limit
    PERMERROR = "permerror"  # broken for good: syntax, >10 lookups, several records, ...
    TEMPERROR = "temperror"  # could not be evaluated this time (a DNS failure down the tree)


class DmarcState(StrEnum):
    """The DMARC policy a receiver would apply, or why none applies."""

    MISSING = "missing"
    INVALID = "invalid"  # a record exists but receivers must ignore it
    NONE = "none"
    QUARANTINE = "quarantine"
    REJECT = "reject"


class TenantBand(StrEnum):
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"
    UNKNOWN = "unknown"


def normalise_referral(value: str | None) -> str | None:
    """``"Co-Sell"``, ``"co_sell"`` and ``"co sell"`` are the same referral type."""
    if value is None:
        return None
    cleaned = value.strip().lower().replace("_", "-").replace(" ", "-")
    return cleaned or None


class LeadFacts(BaseModel):
    """Evidence about a lead that does not come from DNS (Partner Center, Entra ID, ...).

    It enters scoring only through rules that test ``referral_type`` / ``known_tenant``,
    so adding a new kind of evidence never needs a code branch in the scorer.
    """

    model_config = ConfigDict(extra="forbid")

    referral_type: str | None = Field(None, description='Partner Center referral type, e.g. "co-sell"')
    known_tenant: bool = Field(False, description="the organisation has a known Azure AD / Entra ID tenant")


class Facts(BaseModel):
    """Everything a rule condition or a reason template may refer to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    domain: str
    status: ScanStatus
    can_receive_mail: bool
    provider: str | None
    local_provider: str | None
    gateway: str | None
    spf: SpfState
    spf_error: str | None
    spf_lookups: int
    dkim: bool
    dkim_selectors: tuple[str, ...]
    dmarc: DmarcState
    dmarc_error: str | None
    dmarc_pct: int
    tenant_size: TenantBand
    tenant_domain: str | None
    referral_type: str | None
    known_tenant: bool

    def template_values(self) -> dict[str, str]:
        """String values for reason templates; absent values read as "-" rather than "None"."""
        values: dict[str, str] = {}
        for name, value in self.model_dump(mode="json").items():
            if value is None or value == []:
                values[name] = "-"
            elif isinstance(value, list):
                values[name] = ", ".join(str(v) for v in value)
            else:
                values[name] = str(value)
        return values


def _spf_state(record: ScanRecord) -> tuple[SpfState, str | None]:
    spf = record.spf
    if spf is None:
        return SpfState.MISSING, None
    if spf.over_lookup_limit:
        # RFC 7208 §4.6.4: more than 10 DNS-querying terms is a permerror, even if the
        # collector did not phrase it as one.
        return SpfState.PERMERROR, spf.error or f"permerror: {spf.lookups} DNS lookups, the limit is 10"
    if spf.valid:
        return SpfState.VALID, None
    error = spf.error or "permerror: invalid SPF record"
    if error.lower().startswith("temperror"):
        return SpfState.TEMPERROR, error
    return SpfState.PERMERROR, error


def _dmarc_state(record: ScanRecord) -> tuple[DmarcState, str | None, int]:
    dmarc = record.dmarc
    if dmarc is None:
        return DmarcState.MISSING, None, 100
    pct = min(100, max(0, dmarc.pct))
    if not dmarc.valid:
        return DmarcState.INVALID, dmarc.error or "invalid DMARC record", pct
    policy = (dmarc.policy or "").lower()
    try:
        return DmarcState(policy), None, pct
    except ValueError:
        problem = f"unknown policy p={dmarc.policy}" if dmarc.policy else "the required p= tag is missing"
        return DmarcState.INVALID, problem, pct


def extract_facts(record: ScanRecord, extra: LeadFacts | None = None) -> Facts:
    """The facts of one record; pure and total (never raises on a well-formed record)."""
    lead_facts = extra or LeadFacts()
    spf, spf_error = _spf_state(record)
    dmarc, dmarc_error, dmarc_pct = _dmarc_state(record)
    band = record.tenant_size.band.lower() if record.tenant_size else "unknown"
    return Facts(
        domain=record.domain_unicode or record.domain or record.input,
        status=record.status,
        can_receive_mail=record.can_receive_mail and record.provider is not None,
        provider=record.provider if record.can_receive_mail else None,
        local_provider=record.local_provider,
        gateway=record.gateway,
        spf=spf,
        spf_error=spf_error,
        spf_lookups=record.spf.lookups if record.spf else 0,
        dkim=bool(record.dkim_found),
        dkim_selectors=tuple(record.dkim_found),
        dmarc=dmarc,
        dmarc_error=dmarc_error,
        dmarc_pct=dmarc_pct,
        tenant_size=TenantBand(band) if band in TenantBand._value2member_map_ else TenantBand.UNKNOWN,
        tenant_domain=record.m365.tenant_domain,
        referral_type=normalise_referral(lead_facts.referral_type),
        known_tenant=lead_facts.known_tenant,
    )
