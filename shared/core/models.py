"""The typed, JSON-serialisable record one scan produces.

Everything the collectors find and everything the classifier concludes lands in a
:class:`ScanRecord`. It is the contract between the I/O side (``signals``) and the pure
core (``providers``, ``scoring``, ``sales``), it is what a snapshot stores, and it is what
``hunter scan --json`` prints. Keep it flat and explicit: a sales rep's question ("why
is this M365?") must be answerable from the record alone.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

COLLECTOR_VERSION = "1.0.0"


class ScanStatus(StrEnum):
    """Outcome of a scan. Only ``ok`` means the domain can receive mail."""

    OK = "ok"  # MX found (possibly via implicit A fallback is *not* counted)
    NO_MX = "no_mx"  # domain exists, publishes no MX
    NULL_MX = "null_mx"  # RFC 7505 "0 ." — explicitly accepts no mail
    NXDOMAIN = "nxdomain"  # domain does not exist
    TIMEOUT = "timeout"  # the resolver did not answer in time
    SERVFAIL = "servfail"  # the resolver answered SERVFAIL (broken delegation, DNSSEC...)
    ERROR = "error"  # any other DNS failure (REFUSED, malformed answer, ...)
    INVALID = "invalid"  # the input was not a usable domain


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MxHost(_Model):
    preference: int
    host: str = Field(min_length=1)  # lower-case, no trailing dot (a null MX is a status, not a host)
    addresses: list[str] = Field(default_factory=list)


class SpfInfo(_Model):
    """A parsed SPF record and what following its includes revealed (RFC 7208)."""

    record: str
    valid: bool
    error: str | None = None  # "permerror: ..." or "temperror: ..." when not valid
    all: str | None = None  # qualifier + "all", e.g. "-all", "~all"; None when absent
    mechanisms: list[str] = Field(default_factory=list)
    includes: list[str] = Field(default_factory=list)  # direct include: targets
    redirect: str | None = None
    lookups: int = 0  # DNS-querying terms counted over the whole include tree
    void_lookups: int = 0
    over_lookup_limit: bool = False
    all_includes: list[str] = Field(default_factory=list)  # every domain reached, in order


class DmarcInfo(_Model):
    """A DMARC record at ``_dmarc.<domain>`` (RFC 7489)."""

    record: str
    valid: bool
    error: str | None = None
    policy: str | None = None  # none | quarantine | reject
    subdomain_policy: str | None = None
    pct: int = 100  # "DMARC coverage"
    rua: list[str] = Field(default_factory=list)
    ruf: list[str] = Field(default_factory=list)
    adkim: str | None = None
    aspf: str | None = None


class DkimSelector(_Model):
    selector: str
    cname: str | None = None  # where the selector points, when it is a CNAME
    has_key: bool = False  # a v=DKIM1 / p= record was found at the end of the chain


class M365Info(_Model):
    evidence: list[str] = Field(default_factory=list)
    tenant_domain: str | None = None  # e.g. "contoso.onmicrosoft.com"


class TenantSize(_Model):
    """A size band estimated from public signals, always with what it rests on."""

    band: str  # "small" | "medium" | "large"
    confidence: str  # "low" | "medium"
    evidence: list[str]


class Technology(_Model):
    """A SaaS or security vendor the company's public DNS names (``shared/core/technologies.yaml``),
    with the records that prove it: a TXT verification, an SPF include, a DMARC report address..."""

    name: str  # exactly as technologies.yaml spells it, e.g. "Zoom", "Amazon SES"
    category: str  # e.g. "collaboration", "dmarc-monitoring"
    evidence: list[str] = Field(default_factory=list)  # e.g. "include:servers.mcsv.net"


class TenantRecon(_Model):
    """What Microsoft's public sign-in endpoints say about a domain's Entra ID tenant.

    ``tenant_id``, ``region_scope`` (``tenant_region_scope``: EU, NA, AS, ...), ``region_sub_scope``
    (GCC, DOD, DODCON) and ``cloud_instance`` come from the domain's OpenID configuration;
    ``namespace_type`` (Managed, Federated, Unknown), ``federation_brand`` and, for a federated
    domain, the host of its sign-in page (``auth_url_host``) and the identity provider it names
    (``federation_idp``: AD FS, Okta, ...) from ``getuserrealm.srf``. ``error`` is a code
    (``tenant_not_found``, ``timeout``, ``unreachable``, ``http_<status>``, ``bad_response``,
    ``rate_limited``) when a part could not be read; a recon never fails a scan."""

    tenant_id: str | None = None
    region_scope: str | None = None
    region_sub_scope: str | None = None
    cloud_instance: str | None = None
    namespace_type: str | None = None  # "Managed" | "Federated" | "Unknown"
    federation_brand: str | None = None
    auth_url_host: str | None = None
    federation_idp: str | None = None
    error: str | None = None

    @property
    def federated(self) -> bool:
        return self.namespace_type == "Federated"


class HostedAddress(_Model):
    """One address of an MX host or of the apex: its reverse DNS and what the IP database knows."""

    ip: str
    role: str  # "mx" | "apex"
    host: str  # the MX host or the domain that resolved to ``ip``
    ptr: str | None = None
    asn: int | None = None
    org: str | None = None
    country: str | None = None  # ISO 3166 alpha-2
    network: str | None = None  # the company its PTR or AS organisation names (set by the classifier)


class HostingInfo(_Model):
    """Where the mail servers and the website live, from PTR records and an optional IP database.

    ``company`` and ``summary`` are set by the classifier (pure) from ``addresses``; ``error`` says
    why the IP database could not be read (the PTR part still works)."""

    addresses: list[HostedAddress] = Field(default_factory=list)
    company: str | None = None  # the hosting company a PTR suffix or an AS organisation names
    summary: str | None = None  # "mail hosted by Natro (AS12345, TR); website at Cloudflare (AS13335, US)"
    error: str | None = None


class WhoisInfo(_Model):
    registrar: str | None = None
    created: datetime | None = None
    expires: datetime | None = None
    error: str | None = None


class ScanRecord(_Model):
    """Everything one scan of one domain found, plus the classification."""

    input: str
    domain: str | None
    domain_unicode: str | None = None
    status: ScanStatus
    error: str | None = None
    mx: list[MxHost] = Field(default_factory=list)
    spf: SpfInfo | None = None
    dmarc: DmarcInfo | None = None
    dkim: list[DkimSelector] = Field(default_factory=list)
    txt_verifications: list[str] = Field(default_factory=list)  # e.g. "MS=ms123", "google-site-verification"
    cnames: dict[str, str] = Field(default_factory=dict)  # "autodiscover" -> target
    ns: list[str] = Field(default_factory=list)  # nameservers of the domain (hint for local hosts)
    provider: str | None = None
    provider_evidence: list[str] = Field(default_factory=list)
    local_provider: str | None = None
    gateway: str | None = None
    m365: M365Info = Field(default_factory=M365Info)
    tenant_size: TenantSize | None = None
    technologies: list[Technology] = Field(default_factory=list)  # vendors from TXT, SPF, DMARC, DKIM, MX, NS
    whois: WhoisInfo | None = None
    tenant_recon: TenantRecon | None = None
    hosting: HostingInfo | None = None
    collector_version: str = COLLECTOR_VERSION
    scanned_at: datetime | None = None
    duration_ms: float | None = None

    @field_validator("mx", mode="before")
    @classmethod
    def _no_empty_host(cls, value: object) -> object:
        """A null MX (RFC 7505 ``0 .``) is the status ``null_mx`` with no hosts; snapshots stored
        before that rule held one host named "" and are read the same way."""
        if isinstance(value, list):
            return [h for h in value if not (isinstance(h, dict) and h.get("host") in ("", "."))]
        return value

    @property
    def dkim_found(self) -> list[str]:
        return [s.selector for s in self.dkim if s.has_key or s.cname]

    @property
    def can_receive_mail(self) -> bool:
        return self.status is ScanStatus.OK
