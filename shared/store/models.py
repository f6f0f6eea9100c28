"""The tables. ``leads`` holds one current row per domain with denormalised, indexed columns for
filtering and sorting; ``snapshots`` keeps every scan's full record; ``change_events`` keeps
what changed between two scans."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JsonType = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class DomainRow(Base):
    __tablename__ = "domains"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(253), unique=True)  # A-label, the key
    unicode_name: Mapped[str] = mapped_column(String(253))
    company_name: Mapped[str | None] = mapped_column(String(300))
    search_text: Mapped[str | None] = mapped_column(String(900))  # shared.core.text.fold of names, for q=
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


# Each sort key has a (key, domain) index: a page comes straight off the index, ties included.
# Each filter column has a (filter, priority_score, domain) index: "P1 leads, best first" and the
# like (a filter with the default sort) read only the matching rows, already in order.
SORT_INDEXES = ("score", "priority_score", "scanned_at", "changed_at", "provider")
FILTER_INDEXES = ("segment", "commercial_segment", "priority_category", "provider", "status")
# The other (filter, sort key) pairs of the lead list get a (filter, key, domain) index too (migration
# 0005): "WEAK_PARTNER by score" or "no_mx by provider" read a page off one index range instead of
# walking the key's index past every non-matching lead (filters and keys correlate: no_mx leads
# all score 0 and have no provider) or sorting 20,000 rows. Not for changed_at: changed leads are
# few and lists of them come with changed_since, a range of the (changed_at, domain) index.
# Provider = X sorted by provider or by domain is the (provider, domain) sort index already.
FILTER_SORT_INDEXES = tuple(
    (column, key)
    for column in FILTER_INDEXES
    for key in ("score", "scanned_at", "provider", "domain")
    if column != key and (column, key) != ("provider", "domain")
)


def _ordered_index(name: str, *columns: str) -> Index:
    """An index that lists leads in order. Unless that order is the score's, the score comes last:
    min_score/max_score are then checked in the index while walking it, where they cut against
    the order (priority_score grows with the score, so "max_score=30, best priority first" skips
    every strong lead before the first match) - no table row is read for a lead that fails them."""
    return Index(name, *columns, *(("score",) if "score" not in columns else ()))


class LeadRow(Base):
    __tablename__ = "leads"
    __table_args__ = (
        *(_ordered_index(f"ix_leads_{column}_domain", column, "domain") for column in SORT_INDEXES),
        *(
            _ordered_index(f"ix_leads_{column}_priority", column, "priority_score", "domain")
            for column in FILTER_INDEXES
        ),
        *(
            _ordered_index(f"ix_leads_{column}_{key}", column, *((key,) if key != "domain" else ()), "domain")
            for column, key in FILTER_SORT_INDEXES
        ),
    )

    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"), primary_key=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    provider: Mapped[str | None] = mapped_column(String(32))
    local_provider: Mapped[str | None] = mapped_column(String(100))
    gateway: Mapped[str | None] = mapped_column(String(100))
    mx_primary: Mapped[str | None] = mapped_column(String(253))
    spf_valid: Mapped[bool | None]
    dkim_found: Mapped[int] = mapped_column(Integer, default=0)
    dmarc_policy: Mapped[str | None] = mapped_column(String(16))
    dmarc_pct: Mapped[int | None] = mapped_column(Integer)
    tenant_domain: Mapped[str | None] = mapped_column(String(253))
    tenant_size: Mapped[str | None] = mapped_column(String(16))
    whois_expires: Mapped[datetime | None] = mapped_column(UtcDateTime())
    technologies: Mapped[str | None] = mapped_column(Text)  # "Zoom; Salesforce" (see LeadTechnologyRow)
    # Scoring (rules file driven)
    score: Mapped[int | None] = mapped_column(Integer)
    segment: Mapped[str | None] = mapped_column(String(16))
    commercial_segment: Mapped[str | None] = mapped_column(String(16))
    priority_category: Mapped[str | None] = mapped_column(String(2))
    priority_score: Mapped[int | None] = mapped_column(Integer)
    rules_version: Mapped[str | None] = mapped_column(String(32))
    breakdown: Mapped[list[dict[str, Any]] | None] = mapped_column(JsonType)
    scan_count: Mapped[int] = mapped_column(Integer, default=1)
    scanned_at: Mapped[datetime] = mapped_column(UtcDateTime())
    changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class LeadTechnologyRow(Base):
    """One technology of a lead (``ScanRecord.technologies``), for the lead list's ``tech=`` filter:
    a (name, domain_id) index answers "every lead using Zoom" on SQLite and PostgreSQL alike,
    where a filter inside a JSON list could not use an index on either. Rewritten with the lead row."""

    __tablename__ = "lead_technologies"
    __table_args__ = (Index("ix_lead_technologies_name_domain_id", "name", "domain_id"),)

    domain_id: Mapped[int] = mapped_column(ForeignKey("leads.domain_id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    category: Mapped[str] = mapped_column(String(32))


class SnapshotRow(Base):
    __tablename__ = "snapshots"
    __table_args__ = (Index("ix_snapshots_domain_id_id", "domain_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"))
    scanned_at: Mapped[datetime] = mapped_column(UtcDateTime())
    collector_version: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    record: Mapped[dict[str, Any]] = mapped_column(JsonType)


class ChangeEventRow(Base):
    __tablename__ = "change_events"
    __table_args__ = (Index("ix_change_events_domain_id_at", "domain_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"))
    domain: Mapped[str] = mapped_column(String(253))
    kind: Mapped[str] = mapped_column(String(32), index=True)
    before: Mapped[str | None] = mapped_column(String(300))
    after: Mapped[str | None] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text)
    meaning: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class ApiKeyRow(Base):
    """An API key: only the Argon2 hash of the secret is stored, never the key itself."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # the public key id inside the key
    name: Mapped[str] = mapped_column(String(100), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[str] = mapped_column(String(100))  # comma list: read, scan, admin
    rate_limit_per_minute: Mapped[int] = mapped_column(Integer, default=600)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


# -- queues (the `local` backend) and bulk scan jobs ------------------------------------------


class QueueMessageRow(Base):
    """A message of the ``local`` queue backend. Times are epoch seconds: cheap to compare and
    to index on both databases, and what the receive query orders by."""

    __tablename__ = "queue_messages"
    __table_args__ = (Index("ix_queue_messages_queue_visible", "queue", "visible_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    queue: Mapped[str] = mapped_column(String(63))
    body: Mapped[str] = mapped_column(Text)
    enqueued_at: Mapped[float] = mapped_column(Float)
    visible_at: Mapped[float] = mapped_column(Float)
    dequeue_count: Mapped[int] = mapped_column(Integer, default=0)
    receipt: Mapped[str | None] = mapped_column(String(32))


class QueueFailureRow(Base):
    """The last error of a message that failed, keyed by its body's SHA-256: the body is what
    survives a move to the poison queue unchanged on every backend (ids do not on Azure)."""

    __tablename__ = "queue_failures"

    queue: Mapped[str] = mapped_column(String(63), primary_key=True)
    body_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(100))
    dequeue_count: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class QueueAuditRow(Base):
    """One line per operator or runtime action on a message: poisoned, redriven, purged."""

    __tablename__ = "queue_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    queue: Mapped[str] = mapped_column(String(63))
    action: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str] = mapped_column(String(100))
    body_sha256: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(100))
    detail: Mapped[str | None] = mapped_column(Text)


class ScanJobRow(Base):
    """A bulk scan. Progress counters are derived from the items, so a redelivered batch can
    never count a domain twice."""

    __tablename__ = "scan_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    source: Mapped[str] = mapped_column(String(300))
    lang: Mapped[str] = mapped_column(String(2))
    submitted_by: Mapped[str | None] = mapped_column(String(100))
    total: Mapped[int] = mapped_column(Integer)  # rows received, invalid and duplicates included
    unique_domains: Mapped[int] = mapped_column(Integer)
    invalid: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    batches: Mapped[int] = mapped_column(Integer)


class ScanJobItemRow(Base):
    """One input row of a job: a unique domain to scan, or an invalid row with its error."""

    __tablename__ = "scan_job_items"
    __table_args__ = (
        Index("ix_scan_job_items_job_status", "job_id", "status"),
        Index("ix_scan_job_items_job_batch", "job_id", "batch"),
    )

    job_id: Mapped[str] = mapped_column(ForeignKey("scan_jobs.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)  # order of first appearance
    row: Mapped[int | None] = mapped_column(Integer)  # 1-based row in the upload (header excluded)
    input: Mapped[str] = mapped_column(String(500))
    company: Mapped[str | None] = mapped_column(String(300))
    domain: Mapped[str | None] = mapped_column(String(253))
    batch: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # queued | done | failed | invalid
    error: Mapped[str | None] = mapped_column(Text)
    scan_status: Mapped[str | None] = mapped_column(String(16))
    provider: Mapped[str | None] = mapped_column(String(32))
    score: Mapped[int | None] = mapped_column(Integer)
    priority_category: Mapped[str | None] = mapped_column(String(2))
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


# -- integrations: Microsoft sign-in, run leases, Partner Center ------------------------------


class TokenCacheRow(Base):
    """An MSAL token cache, serialised (and Fernet-encrypted when a key is set): shared by every
    instance and surviving restarts, unlike a file on a function's ephemeral disk."""

    __tablename__ = "token_caches"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    data: Mapped[str] = mapped_column(Text)
    encrypted: Mapped[bool]
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class IntegrationStateRow(Base):
    """What an integration last reported: ok, needs_login (a human must sign in again), error."""

    __tablename__ = "integration_states"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class LeaseRow(Base):
    """A named lease (epoch seconds): at most one holder runs the job it guards, across processes and apps."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[float] = mapped_column(Float)


class D365SyncRow(Base):
    """A lead's Dynamics 365 state; no row means ``not_synced``."""

    __tablename__ = "d365_sync"
    __table_args__ = (Index("ix_d365_sync_status_domain", "status", "domain"),)

    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"), primary_key=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # queued | synced | failed
    queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    synced_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    lead_id: Mapped[str | None] = mapped_column(String(64))  # Dataverse leadid
    lead_url: Mapped[str | None] = mapped_column(String(500))
    last_error: Mapped[str | None] = mapped_column(Text)
    pushed_score: Mapped[int | None] = mapped_column(Integer)
    pushed_priority: Mapped[str | None] = mapped_column(String(2))


class ReferralRow(Base):
    """A Partner Center referral, upserted by its id; ``domain`` links it to a lead."""

    __tablename__ = "referrals"
    __table_args__ = (
        Index("ix_referrals_domain", "domain"),
        Index("ix_referrals_updated", "updated_at"),
        Index("ix_referrals_link_status", "link_status"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    engagement_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(300))
    type: Mapped[str | None] = mapped_column(String(32))
    qualification: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str | None] = mapped_column(String(32))
    substatus: Mapped[str | None] = mapped_column(String(64))
    direction: Mapped[str | None] = mapped_column(String(16))
    customer_name: Mapped[str | None] = mapped_column(String(300))
    customer_country: Mapped[str | None] = mapped_column(String(64))
    customer_size: Mapped[str | None] = mapped_column(String(64))
    customer_tenant_id: Mapped[str | None] = mapped_column(String(64))
    contact_domain: Mapped[str | None] = mapped_column(String(253))
    deal_value: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    domain: Mapped[str | None] = mapped_column(String(253))
    link_status: Mapped[str] = mapped_column(String(16))  # linked | domain_missing
    raw: Mapped[dict[str, Any]] = mapped_column(JsonType)
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    synced_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SyncRunRow(Base):
    """One Partner Center sync: when, what it found, how it ended."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    trigger: Mapped[str] = mapped_column(String(16))  # timer | manual
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16))  # running | ok | failed | needs_login | skipped
    pages: Mapped[int] = mapped_column(Integer, default=0)
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    domain_missing: Mapped[int] = mapped_column(Integer, default=0)
    scans_queued: Mapped[int] = mapped_column(Integer, default=0)
    watermark: Mapped[datetime | None] = mapped_column(UtcDateTime())
    error: Mapped[str | None] = mapped_column(Text)


class NotificationEventRow(Base):
    """One alert-worthy event (a provider move, a hot lead, a failed push, a new referral), stored once
    under a stable id derived from what happened, so a redelivered scan cannot make it twice."""

    __tablename__ = "notification_events"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    domain: Mapped[str | None] = mapped_column(String(253))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    payload: Mapped[dict] = mapped_column(JsonType)  # the event as delivered: {type, timestamp, data}


class SubscriptionRow(Base):
    """Who hears about which events: a webhook, a Teams or Slack channel, or e-mail addresses."""

    __tablename__ = "notification_subscriptions"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # webhook | teams | slack | email
    url: Mapped[str | None] = mapped_column(String(2000))
    recipients: Mapped[list] = mapped_column(JsonType, default=list)  # e-mail addresses
    events: Mapped[list] = mapped_column(JsonType, default=list)  # event types; empty = every type
    lead_filter: Mapped[dict] = mapped_column(JsonType, default=dict)  # lead-list filters the lead must match
    lang: Mapped[str] = mapped_column(String(2), default="tr")
    digest: Mapped[str] = mapped_column(String(8), default="off")  # off | daily | weekly (e-mail)
    secret: Mapped[str | None] = mapped_column(String(100))  # whsec_… of a webhook (shown once, never listed)
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(300))
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_digest_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class DeliveryRow(Base):
    """One event (or one digest period) for one subscription: delivered at most once, retried until then."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (Index("ux_delivery_subscription_event", "subscription_id", "event_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[str] = mapped_column(
        String(16), ForeignKey("notification_subscriptions.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str] = mapped_column(String(64))  # an event id, or "digest:<period>"
    status: Mapped[str] = mapped_column(String(16))  # queued | delivered | failed | gone
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
