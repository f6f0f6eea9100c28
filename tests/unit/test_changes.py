"""Change detection between two scans of one domain."""

from __future__ import annotations

from typing import Any

import pytest

from shared.core.models import DmarcInfo, M365Info, MxHost, ScanRecord, ScanStatus
from shared.core.scoring import ChangeEvent, ChangeKind, diff_records

TRANSIENT = [ScanStatus.TIMEOUT, ScanStatus.SERVFAIL, ScanStatus.ERROR]
DEFINITE_NO_MAIL = [ScanStatus.NO_MX, ScanStatus.NULL_MX, ScanStatus.NXDOMAIN]


def scan(provider: str | None = "Google", status: ScanStatus = ScanStatus.OK, **fields: Any) -> ScanRecord:
    values: dict[str, Any] = {
        "input": "acme.com.tr",
        "domain": "acme.com.tr",
        "status": status,
        "provider": provider if status is ScanStatus.OK else None,
        "mx": [MxHost(preference=10, host="mx.acme.com.tr")] if status is ScanStatus.OK else [],
    }
    values.update(fields)
    return ScanRecord(**values)


def dmarc(policy: str, pct: int = 100) -> DmarcInfo:
    return DmarcInfo(record=f"v=DMARC1; p={policy}", valid=True, policy=policy, pct=pct)


def kinds(events: list[ChangeEvent]) -> list[ChangeKind]:
    return [e.kind for e in events]


def test_no_previous_scan_means_no_events() -> None:
    assert diff_records(None, scan("M365", gateway="Mimecast", dmarc=dmarc("reject"))) == []


def test_identical_scans_have_no_events() -> None:
    rec = scan(
        "M365",
        gateway="Mimecast",
        dmarc=dmarc("quarantine", 50),
        m365=M365Info(tenant_domain="acme.onmicrosoft.com"),
    )
    assert diff_records(rec, rec.model_copy()) == []


@pytest.mark.parametrize(
    ("before", "after", "meaning_fragment"),
    [
        ("Google", "M365", "won or lost to another partner"),
        ("Local", "M365", "won or lost to another partner"),
        ("M365", "Google", "churn risk"),
        ("M365", "Hosting", "churn risk"),
        ("Google", "Zoho", "switched between competitor clouds"),
        ("Hosting", "Google", "lost to a competitor cloud"),
        ("Zoho", "Local", "left a competitor cloud"),
        ("Local", "Hosting", "changed mail hosting"),
        ("Unknown", "Hosting", "provider identified"),
        ("Hosting", "Unknown", "no longer recognisable"),
    ],
)
def test_provider_changes_carry_a_sales_meaning(before: str, after: str, meaning_fragment: str) -> None:
    events = diff_records(scan(before), scan(after))
    assert kinds(events) == [ChangeKind.PROVIDER_CHANGED]
    event = events[0]
    assert (event.before, event.after) == (before, after)
    assert event.meaning is not None and meaning_fragment in event.meaning
    assert event.summary == f"acme.com.tr moved its mail from {before} to {after}."


def test_gateway_added_removed_and_replaced() -> None:
    added = diff_records(scan("M365"), scan("M365", gateway="Mimecast"))
    assert kinds(added) == [ChangeKind.GATEWAY_ADDED]
    assert added[0].after == "Mimecast" and "Mimecast" in added[0].summary

    removed = diff_records(scan("M365", gateway="Mimecast"), scan("M365"))
    assert kinds(removed) == [ChangeKind.GATEWAY_REMOVED]
    assert (removed[0].before, removed[0].after) == ("Mimecast", None)

    replaced = diff_records(scan("M365", gateway="Mimecast"), scan("M365", gateway="Proofpoint"))
    assert kinds(replaced) == [ChangeKind.GATEWAY_ADDED]
    assert (replaced[0].before, replaced[0].after) == ("Mimecast", "Proofpoint")
    assert "replacing Mimecast" in replaced[0].summary


@pytest.mark.parametrize(
    ("before", "after", "labels", "direction"),
    [
        (None, dmarc("none"), ("missing", "none"), "tightened"),
        (dmarc("none"), dmarc("reject"), ("none", "reject"), "tightened"),
        (dmarc("reject"), dmarc("none"), ("reject", "none"), "loosened"),
        (dmarc("quarantine", 25), dmarc("quarantine"), ("quarantine pct=25", "quarantine"), "tightened"),
        (dmarc("reject"), dmarc("reject", 50), ("reject", "reject pct=50"), "loosened"),
        (dmarc("reject"), None, ("reject", "missing"), "loosened"),
        (
            dmarc("quarantine"),
            DmarcInfo(record="v=DMARC1; p=bogus", valid=False),
            ("quarantine", "invalid"),
            "loosened",
        ),
    ],
)
def test_dmarc_policy_changes(
    before: DmarcInfo | None, after: DmarcInfo | None, labels: tuple[str, str], direction: str
) -> None:
    events = diff_records(scan("Google", dmarc=before), scan("Google", dmarc=after))
    assert kinds(events) == [ChangeKind.DMARC_POLICY_CHANGED]
    assert (events[0].before, events[0].after) == labels
    assert events[0].meaning is not None and events[0].meaning.startswith(direction)


def test_none_policy_pct_is_not_a_change() -> None:
    """pct does not apply to p=none, so changing it is noise."""
    assert diff_records(scan(dmarc=dmarc("none", 100)), scan(dmarc=dmarc("none", 10))) == []


@pytest.mark.parametrize("status", DEFINITE_NO_MAIL)
def test_mx_disappeared_on_a_definite_answer(status: ScanStatus) -> None:
    events = diff_records(scan("M365", gateway="Mimecast"), scan(status=status))
    assert kinds(events) == [ChangeKind.MX_DISAPPEARED]  # no provider_changed / gateway_removed noise
    assert events[0].before == "M365" and events[0].after == status.value
    assert "no longer receives mail" in events[0].summary


@pytest.mark.parametrize("status", DEFINITE_NO_MAIL)
def test_mx_appeared(status: ScanStatus) -> None:
    events = diff_records(scan(status=status), scan("Hosting", gateway="Proofpoint"))
    assert kinds(events) == [ChangeKind.MX_APPEARED]
    assert events[0].after == "Hosting"
    assert "started receiving mail on Hosting behind Proofpoint" in events[0].summary


def test_still_no_mail_is_not_a_change() -> None:
    assert diff_records(scan(status=ScanStatus.NO_MX), scan(status=ScanStatus.NXDOMAIN)) == []


@pytest.mark.parametrize("status", TRANSIENT)
def test_a_flaky_lookup_is_not_churn(status: ScanStatus) -> None:
    before = scan(
        "M365", gateway="Mimecast", dmarc=dmarc("reject"), m365=M365Info(tenant_domain="acme.onmicrosoft.com")
    )
    # even if the failed scan carries partial data that looks like a change
    after = scan(status=status, provider=None, dmarc=None)
    assert diff_records(before, after) == []


@pytest.mark.parametrize("status", TRANSIENT)
def test_a_flaky_baseline_is_not_a_new_mail_setup(status: ScanStatus) -> None:
    assert diff_records(scan(status=status), scan("Google")) == []


def test_tenant_domain_discovered_and_changed() -> None:
    found = diff_records(scan("M365"), scan("M365", m365=M365Info(tenant_domain="acme.onmicrosoft.com")))
    assert kinds(found) == [ChangeKind.TENANT_DOMAIN_CHANGED]
    assert found[0].before is None and found[0].after == "acme.onmicrosoft.com"

    moved = diff_records(
        scan("M365", m365=M365Info(tenant_domain="acme.onmicrosoft.com")),
        scan("M365", m365=M365Info(tenant_domain="acmeholding.onmicrosoft.com")),
    )
    assert kinds(moved) == [ChangeKind.TENANT_DOMAIN_CHANGED]
    assert "was acme.onmicrosoft.com" in moved[0].summary


def test_tenant_domain_not_seen_again_is_not_reported() -> None:
    before = scan("M365", m365=M365Info(tenant_domain="acme.onmicrosoft.com"))
    assert diff_records(before, scan("M365")) == []


def test_several_changes_at_once() -> None:
    before = scan("Google", dmarc=None)
    after = scan(
        "M365",
        gateway="Mimecast",
        dmarc=dmarc("quarantine"),
        m365=M365Info(tenant_domain="acme.onmicrosoft.com"),
    )
    assert kinds(diff_records(before, after)) == [
        ChangeKind.PROVIDER_CHANGED,
        ChangeKind.GATEWAY_ADDED,
        ChangeKind.DMARC_POLICY_CHANGED,
        ChangeKind.TENANT_DOMAIN_CHANGED,
    ]


def test_summary_uses_the_unicode_domain() -> None:
    before = scan("Google", domain="xn--kardeler-05a.com.tr", domain_unicode="kardeşler.com.tr")
    after = scan("M365", domain="xn--kardeler-05a.com.tr", domain_unicode="kardeşler.com.tr")
    assert diff_records(before, after)[0].summary.startswith("kardeşler.com.tr moved")
