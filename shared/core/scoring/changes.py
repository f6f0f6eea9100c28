"""What changed between two scans of the same domain, in sales terms.

A provider switch is the strongest buying signal a DNS scan can give (a Google → M365 move
means a partner just won, or we just lost; M365 → Google is churn). The same comparison is
also the easiest place to raise false alarms: a resolver that timed out once looks exactly
like a domain whose MX vanished. So a scan that failed transiently never produces events;
only definite answers (no MX, null MX, NXDOMAIN) count as mail disappearing.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from shared.core.models import ScanRecord, ScanStatus

# Answers that say nothing about the domain, only about this attempt to ask.
TRANSIENT_STATUSES = frozenset({ScanStatus.TIMEOUT, ScanStatus.SERVFAIL, ScanStatus.ERROR})

MICROSOFT = frozenset({"M365"})
CLOUD_COMPETITORS = frozenset({"Google", "Zoho", "Yandex"})

# (moved from, moved to, meaning); first match wins. None stands for "any provider".
_PROVIDER_MEANINGS: tuple[tuple[frozenset[str] | None, frozenset[str] | None, str], ...] = (
    (None, MICROSOFT, "won or lost to another partner: moved to Microsoft 365, check the partner of record"),
    (MICROSOFT, None, "churn risk: left Microsoft 365"),
    (frozenset({"Unknown"}), None, "provider identified: the previous scan could not classify it"),
    (None, frozenset({"Unknown"}), "provider no longer recognisable: review the MX records by hand"),
    (
        CLOUD_COMPETITORS,
        CLOUD_COMPETITORS,
        "switched between competitor clouds: it is shopping, approach now",
    ),
    (None, CLOUD_COMPETITORS, "lost to a competitor cloud: now a competitive takeover"),
    (CLOUD_COMPETITORS, None, "left a competitor cloud: open for a Microsoft 365 offer"),
    (None, None, "changed mail hosting: it is re-evaluating, approach now"),
)

_DMARC_STRENGTH = {"missing": 0, "invalid": 0, "none": 1, "quarantine": 2, "reject": 3}


class ChangeKind(StrEnum):
    PROVIDER_CHANGED = "provider_changed"
    GATEWAY_ADDED = "gateway_added"
    GATEWAY_REMOVED = "gateway_removed"
    DMARC_POLICY_CHANGED = "dmarc_policy_changed"
    MX_DISAPPEARED = "mx_disappeared"
    MX_APPEARED = "mx_appeared"
    TENANT_DOMAIN_CHANGED = "tenant_domain_changed"


class ChangeEvent(BaseModel):
    """One change between two scans; ``summary`` is a sentence a rep can read as is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ChangeKind
    before: str | None
    after: str | None
    summary: str
    meaning: str | None = None  # sales meaning, for provider changes and DMARC moves


def provider_change_meaning(before: str, after: str) -> str:
    """The sales meaning of a provider switch (e.g. M365 → Google is churn risk)."""
    for source, target, meaning in _PROVIDER_MEANINGS:
        if (source is None or before in source) and (target is None or after in target):
            return meaning
    raise AssertionError("unreachable: the last meaning matches everything")


def _dmarc_label(record: ScanRecord) -> str:
    dmarc = record.dmarc
    if dmarc is None:
        return "missing"
    if not dmarc.valid or dmarc.policy not in ("none", "quarantine", "reject"):
        return "invalid"
    if dmarc.policy != "none" and dmarc.pct < 100:
        return f"{dmarc.policy} pct={dmarc.pct}"
    return dmarc.policy


def _dmarc_strength(label: str) -> tuple[int, int]:
    policy, _, pct = label.partition(" pct=")
    return _DMARC_STRENGTH[policy], int(pct) if pct else 100


def _name(record: ScanRecord) -> str:
    return record.domain_unicode or record.domain or record.input


def _mx_events(before: ScanRecord, after: ScanRecord) -> list[ChangeEvent] | None:
    """Events when the ability to receive mail changed; None when it did not."""
    domain = _name(after)
    if before.can_receive_mail and not after.can_receive_mail:
        return [
            ChangeEvent(
                kind=ChangeKind.MX_DISAPPEARED,
                before=before.provider,
                after=after.status.value,
                summary=f"{domain} no longer receives mail "
                f"(was on {before.provider or 'an unknown provider'}, now {after.status.value}).",
                meaning="the domain may be abandoned or replaced by another domain",
            )
        ]
    if not before.can_receive_mail and after.can_receive_mail:
        via = f" behind {after.gateway}" if after.gateway else ""
        return [
            ChangeEvent(
                kind=ChangeKind.MX_APPEARED,
                before=before.status.value,
                after=after.provider,
                summary=f"{domain} started receiving mail on {after.provider or 'an unknown provider'}{via}.",
                meaning="new mail setup: a fresh buying decision was just made",
            )
        ]
    if not after.can_receive_mail:
        return []  # still no mail: nothing else is worth comparing
    return None


def diff_records(before: ScanRecord | None, after: ScanRecord) -> list[ChangeEvent]:
    """Changes from ``before`` to ``after`` (two scans of one domain).

    Returns no events when there is no earlier scan, or when either scan failed
    transiently (timeout, SERVFAIL, error): neither side of such a comparison is evidence.
    Callers should pass the last *successful* scan as ``before``.
    """
    if before is None or before.status in TRANSIENT_STATUSES or after.status in TRANSIENT_STATUSES:
        return []
    mx_events = _mx_events(before, after)
    if mx_events is not None:
        return mx_events

    domain = _name(after)
    events: list[ChangeEvent] = []
    if before.provider and after.provider and before.provider != after.provider:
        meaning = provider_change_meaning(before.provider, after.provider)
        events.append(
            ChangeEvent(
                kind=ChangeKind.PROVIDER_CHANGED,
                before=before.provider,
                after=after.provider,
                summary=f"{domain} moved its mail from {before.provider} to {after.provider}.",
                meaning=meaning,
            )
        )

    if before.gateway != after.gateway:
        if after.gateway is None:
            events.append(
                ChangeEvent(
                    kind=ChangeKind.GATEWAY_REMOVED,
                    before=before.gateway,
                    after=None,
                    summary=f"{domain} removed the {before.gateway} mail gateway.",
                )
            )
        else:
            replaced = f", replacing {before.gateway}" if before.gateway else ""
            events.append(
                ChangeEvent(
                    kind=ChangeKind.GATEWAY_ADDED,
                    before=before.gateway,
                    after=after.gateway,
                    summary=f"{domain} put its mail behind the {after.gateway} gateway{replaced}.",
                )
            )

    old_dmarc, new_dmarc = _dmarc_label(before), _dmarc_label(after)
    if old_dmarc != new_dmarc:
        stronger = _dmarc_strength(new_dmarc) > _dmarc_strength(old_dmarc)
        events.append(
            ChangeEvent(
                kind=ChangeKind.DMARC_POLICY_CHANGED,
                before=old_dmarc,
                after=new_dmarc,
                summary=f"{domain} changed its DMARC policy from {old_dmarc} to {new_dmarc}.",
                meaning="tightened: someone is working on mail security"
                if stronger
                else "loosened: spoofing protection got weaker",
            )
        )

    # A tenant domain that is no longer seen is usually a lookup that found nothing, not a
    # tenant that vanished (leaving M365 shows up as a provider change), so only report a
    # tenant domain that appeared or changed.
    old_tenant, new_tenant = before.m365.tenant_domain, after.m365.tenant_domain
    if new_tenant is not None and old_tenant != new_tenant:
        summary = (
            f"{domain} now points to Microsoft 365 tenant {new_tenant} (was {old_tenant})."
            if old_tenant
            else f"{domain} revealed its Microsoft 365 tenant {new_tenant}."
        )
        events.append(
            ChangeEvent(kind=ChangeKind.TENANT_DOMAIN_CHANGED, before=old_tenant, after=new_tenant, summary=summary)
        )
    return events
