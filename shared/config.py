"""One settings object, read from ``HUNTER_*`` environment variables.

Every knob has a safe local default so that a fresh checkout runs with nothing configured:
a SQLite file in the working directory and the system's DNS resolver.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DKIM_SELECTORS = (
    "selector1",
    "selector2",
    "google",
    "default",
    "k1",
    "s1",
    "s2",
    "dkim",
    "mail",
    "zmail",
)

CommaList = Annotated[list[str], NoDecode]


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


KEYGEN_HINT = (
    "make one with: python -c \"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\""
)


class Settings(BaseSettings):
    """Hunter's configuration. Field ``x`` is read from ``HUNTER_X``."""

    model_config = SettingsConfigDict(env_prefix="HUNTER_", extra="ignore")

    database_url: str = "sqlite:///hunter.db"
    database_auth: Literal["password", "entra"] = Field(
        "password",
        description="entra = the password of every new PostgreSQL connection is a Microsoft Entra access token "
        "(azure-identity; on Azure the app's managed identity, AZURE_CLIENT_ID) for the URL's user, over TLS",
    )
    auto_migrate: bool = Field(
        True,
        description="migrate the schema on first use; production sets false and runs `hunter migrate` on deploy",
    )
    default_lang: str = "tr"
    log_level: str = "INFO"
    trace_domain_sample: float = Field(
        1.0,
        ge=0,
        le=1,
        description="with OpenTelemetry on, the share of a bulk job's domains traced as a span each (by domain "
        "hash: the same domains every time); lower it for very large jobs",
    )
    cors_origins: CommaList = Field(default_factory=list, description="browser origins allowed to call the API")
    auth_failures_per_minute: int = Field(
        10, ge=1, description="wrong API keys allowed per client address and per key id per minute, then 429"
    )

    # DNS: where and how fast we ask.
    dns_nameservers: CommaList = Field(
        default_factory=list, description="host[:port] list; empty means the system resolver"
    )
    dns_timeout: float = Field(2.0, gt=0, description="seconds to wait for one answer before a retry")
    dns_attempts: int = Field(2, ge=1, le=5, description="tries per query (UDP retransmissions)")
    dns_domain_budget: float = Field(10.0, gt=0, description="seconds allowed for all lookups of one domain")
    dns_concurrency: int = Field(1024, ge=1, description="queries in flight at once, process-wide")
    dns_qps: float = Field(0, ge=0, description="queries per second, process-wide; 0 = unlimited")
    dns_cache_size: int = Field(100_000, ge=0, description="answers kept in the in-process cache")
    dkim_selectors: CommaList = Field(default_factory=lambda: list(DEFAULT_DKIM_SELECTORS))

    # Pipeline
    scan_concurrency: int = Field(256, ge=1, description="domains scanned at once (per process)")
    scan_workers: int = Field(1, ge=1, le=32, description="processes for a file scan (one per core is the most)")
    write_batch_size: int = Field(200, ge=1, description="results written per database transaction")

    # WHOIS (python-whois parses; a stand-in server can be named for tests)
    whois_enabled: bool = True
    whois_server: str | None = Field(None, description="host[:port] to ask instead of the registry's server")
    whois_timeout: float = Field(5.0, gt=0)

    # Queues (bulk scans, D365 pushes). maxDequeueCount and batch sizes come from host.json, as on Azure;
    # the backoff between retries is Hunter's own (queue_retry_*), on every host.
    queue_backend: Literal["local", "azure", "sqs"] = Field(
        "local", description="local = a table in the Hunter database; azure = Storage queues; sqs = AWS SQS"
    )
    queue_connection: str | None = Field(
        None,
        description="Azure Storage connection string (default: the AzureWebJobsStorage setting; with neither, "
        "AzureWebJobsStorage__accountName and the managed identity, as the Functions host connects)",
    )
    sqs_endpoint_url: str | None = Field(None, description="SQS endpoint (default: AWS for the region)")
    aws_region: str = "eu-west-1"
    bulk_batch_size: int = Field(100, ge=1, le=1000, description="domains per scan-requests message")
    worker_processes: int = Field(
        default_factory=lambda: min(4, os.cpu_count() or 1),
        ge=0,
        le=32,
        description="queue worker processes `hunter serve` starts (default: one per core, at most 4)",
    )
    queue_lease: float = Field(
        30.0, gt=0, description="seconds a message stays hidden while a local worker runs it (renewed as it runs)"
    )
    queue_retry_base: float = Field(
        30.0,
        ge=0,
        description="seconds before the first retry of a failed message; doubles per delivery, jittered "
        "(shared/queues/retry.py: 5 deliveries span 3¾-7½ min); 0 = retry at once",
    )
    queue_retry_max: float = Field(
        900.0, gt=0, le=12 * 3600, description="longest wait between two deliveries of a failed message (s)"
    )

    # Redis: shared caches and rate limits; unset = in-process caches and limits.
    redis_url: str | None = Field(None, description="redis://host:port/db; unset = in-process fallback")
    redis_auth: Literal["password", "entra"] = Field(
        "password",
        description="entra = sign in to Azure Managed Redis with a Microsoft Entra access token as the password "
        "(the URL's user is the identity's object id)",
    )
    redis_timeout: float = Field(0.25, gt=0, description="seconds to wait for Redis before falling back")
    redis_retry_interval: float = Field(
        10.0, gt=0, description="after a Redis failure, seconds before it is tried again (circuit breaker)"
    )
    cache_dns_ttl: int = Field(3600, ge=0, le=3600, description="upper bound on a cached DNS answer's life (s)")
    cache_whois_ttl: int = Field(86400, ge=0, description="seconds a WHOIS answer is cached")
    cache_scan_ttl: int = Field(3600, ge=0, description="seconds a scan result is cached (rescan invalidates)")
    whois_qps: float = Field(2.0, ge=0, description="WHOIS queries per second shared by all workers; 0 = unlimited")

    # Hosting enrichment: reverse DNS of the MX hosts' and the apex's addresses, and what an IP database says.
    hosting_addresses: int = Field(
        3, ge=0, le=8, description="addresses (MX hosts first, then the apex) given a PTR lookup; 0 = no enrichment"
    )
    ip_db_path: str | None = Field(
        None, description="a MaxMind-format database (GeoLite2-ASN/City, IPinfo Lite, DB-IP Lite): ASN, org, country"
    )

    # Microsoft 365 tenant recon: Microsoft's public OpenID discovery and user-realm endpoints, for M365 leads.
    tenant_recon_enabled: bool = Field(False, description="ask Microsoft's public sign-in endpoints about M365 leads")
    tenant_recon_url: str = Field(
        "https://login.microsoftonline.com", description="where the OpenID configuration and getuserrealm.srf live"
    )
    tenant_recon_timeout: float = Field(5.0, gt=0, le=60, description="seconds for the recon of one domain")
    tenant_recon_qps: float = Field(
        5.0, ge=0, description="domain recons (two requests each) per second, all workers; 0 = unlimited"
    )
    tenant_recon_cache_ttl: int = Field(7 * 86400, ge=0, description="seconds a domain's recon answer is cached")

    # Microsoft sign-in, Dynamics 365 (Dataverse) and Partner Center; each integration behind a flag.
    authority_host: str = Field("https://login.microsoftonline.com", description="Microsoft identity platform host")
    token_cache_key: SecretStr | None = Field(
        None,
        description="Fernet key(s) encrypting the stored MSAL token cache, comma-separated: the first encrypts, "
        "every one decrypts (rotation); required unless token_cache_allow_plaintext",
    )
    token_cache_allow_plaintext: bool = Field(
        False, description="development only: store the MSAL token cache (a refresh token) unencrypted"
    )
    d365_enabled: bool = False
    d365_url: str | None = Field(None, description="Dataverse organisation URL, e.g. https://contoso.crm4.dynamics.com")
    d365_tenant_id: str | None = None
    d365_client_id: str | None = None
    d365_client_secret: SecretStr | None = None
    d365_mapping_file: str | None = Field(None, description="lead → Dataverse column mapping (default: bundled)")
    d365_repush_on_change: bool = Field(False, description="re-push a synced lead when a rescan changes its score")
    d365_timeout: float = Field(30.0, gt=0, description="seconds per Dataverse request")
    d365_max_concurrency: int = Field(8, ge=1, le=52, description="Dataverse requests in flight per worker (cap)")
    partner_center_enabled: bool = False
    pc_api_url: str = Field("https://api.partner.microsoft.com", description="Partner Center API base URL")
    pc_tenant_id: str | None = None
    pc_client_id: str | None = None
    pc_sync_schedule: str = Field("0 */10 * * * *", description="NCRONTAB schedule of the referral sync")
    rescan_schedule: str = Field("0 0 2 * * *", description="NCRONTAB schedule of the rescan timer (UTC)")
    rescan_budget: int = Field(5000, ge=1, le=100_000, description="most leads one rescan timer run submits")

    # Change alerts: webhooks, Teams, Slack and e-mail (immediate or a daily/weekly digest).
    notify_backoff_base: float = Field(10.0, ge=0, description="seconds before a delivery's first retry (doubling)")
    notify_max_attempts: int = Field(8, ge=1, le=20, description="deliveries of an alert before notifications-poison")
    notify_allow_private: bool = Field(
        False, description="allow http and private or loopback receivers (tests, on-premises servers)"
    )
    digest_schedule: str = Field("0 0 7 * * *", description="NCRONTAB schedule of the e-mail digest timer (UTC)")
    smtp_host: str | None = Field(None, description="SMTP relay, e.g. smtp.office365.com or smtp.azurecomm.net")
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str | None = Field(None, description="the sender address of alert e-mails")
    smtp_starttls: bool = True
    public_url: str = Field("http://127.0.0.1:7071", description="where users open Hunter (links from Dynamics)")

    @field_validator("token_cache_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        """Every key must be a Fernet key, checked at start rather than at the first sign-in."""
        if value is None:
            return None
        keys = [key.strip() for key in value.get_secret_value().split(",") if key.strip()]
        if not keys:
            return None
        import base64
        import binascii

        for position, key in enumerate(keys, start=1):
            try:
                valid = len(base64.urlsafe_b64decode(key.encode())) == 32
            except (binascii.Error, ValueError):
                valid = False
            if not valid:
                raise ValueError(f"key {position} is not a Fernet key (32 url-safe base64 bytes); {KEYGEN_HINT}")
        return SecretStr(",".join(keys))

    @field_validator("dns_nameservers", "dkim_selectors", "cors_origins", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("dkim_selectors")
    @classmethod
    def _lower_selectors(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(s.lower() for s in value))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached: environment is read once per process)."""
    return Settings()
