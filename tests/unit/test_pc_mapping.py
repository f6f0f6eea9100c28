"""Partner Center referral → row mapping: company domain from contacts (free-mail skipped),
tenant id, timestamps, and the referral facts scoring gets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devtools.msstandins import make_referral
from shared.core.models import MxHost, ScanRecord, ScanStatus
from shared.core.referrals import (
    DOMAIN_MISSING,
    LINKED,
    ReferralError,
    company_domain,
    contact_emails,
    is_free_mail,
    parse_timestamp,
    referral_facts,
    referral_fields,
    tenant_id,
)
from shared.core.scoring import LeadFacts, score_record

TENANT = "2d6f4c1e-8b3a-4e5f-9a7b-1c2d3e4f5a6b"


def with_team(*emails: str | None, **overrides: object) -> dict:
    referral = make_referral(**overrides)  # type: ignore[arg-type]
    referral["customerProfile"]["team"] = [
        {"firstName": "A", "lastName": "B", **({"email": email} if email is not None else {})} for email in emails
    ]
    return referral


@pytest.mark.parametrize(
    "domain",
    ["gmail.com", "GMAIL.com", "hotmail.com", "outlook.com", "yandex.com", "yandex.com.tr", "hotmail.co.uk"],
)
def test_free_mail_providers_are_not_company_domains(domain: str) -> None:
    assert is_free_mail(domain)


@pytest.mark.parametrize("domain", ["fabrikam.com.tr", "contoso.com", "microsoft.com", "gmail-partners.com"])
def test_company_domains_are_not_free_mail(domain: str) -> None:
    assert not is_free_mail(domain)


def test_first_company_address_wins_after_free_mail() -> None:
    found = company_domain(["ali@gmail.com", "it@Fabrikam.com.tr", "ceo@contoso.com"])
    assert found == ("fabrikam.com.tr", "gmail.com")
    assert company_domain(["ceo@contoso.com", "it@fabrikam.com.tr"]) == ("contoso.com", "contoso.com")


def test_subdomain_addresses_reduce_to_the_registrable_domain() -> None:
    assert company_domain(["it@mail.fabrikam.com.tr"]) == ("fabrikam.com.tr", "fabrikam.com.tr")
    assert company_domain(["x@eu.yandex.com"]) == (None, "yandex.com")  # still free mail


def test_tenant_default_domains_and_junk_are_skipped() -> None:
    assert company_domain(["admin@contoso.onmicrosoft.com", "not an address", "", "a@b"]) == (
        None,
        "onmicrosoft.com",
    )


def test_referral_fields_map_the_documented_shape() -> None:
    created = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
    referral = make_referral(
        name="M365 for Fabrikam",
        customer_name="Fabrikam A.Ş.",
        contact_email="ayse@fabrikam.com.tr",
        referral_type="Shared",
        status="Active",
        substatus="Accepted",
        deal_value=25000,
        currency="EUR",
        created=created,
        ids={"AzureAdTenantId": TENANT.upper(), "Duns": "123456789"},
    )
    fields = referral_fields(referral)
    assert fields["id"] == referral["id"] and fields["engagement_id"] == referral["engagementId"]
    assert (fields["name"], fields["type"], fields["status"], fields["substatus"]) == (
        "M365 for Fabrikam",
        "Shared",
        "Active",
        "Accepted",
    )
    assert (fields["qualification"], fields["direction"]) == ("SalesQualified", "Incoming")
    assert (fields["customer_name"], fields["customer_country"], fields["customer_size"]) == (
        "Fabrikam A.Ş.",
        "TR",
        "10to50employees",
    )
    assert (fields["deal_value"], fields["currency"]) == (25000.0, "EUR")
    assert fields["created_at"] == created and fields["updated_at"] == created
    assert fields["expires_at"] is not None and fields["expires_at"] > created
    assert (fields["domain"], fields["contact_domain"], fields["link_status"]) == (
        "fabrikam.com.tr",
        "fabrikam.com.tr",
        LINKED,
    )
    assert fields["customer_tenant_id"] == TENANT  # lower case, from the ids dictionary
    assert fields["raw"] == referral


def test_referral_without_company_mail_is_kept_as_domain_missing() -> None:
    free = referral_fields(with_team("ali.veli@gmail.com", "ayse@hotmail.com"))
    assert (free["domain"], free["contact_domain"], free["link_status"]) == (None, "gmail.com", DOMAIN_MISSING)
    none = referral_fields(with_team(None))
    assert (none["domain"], none["contact_domain"], none["link_status"]) == (None, None, DOMAIN_MISSING)
    referral = make_referral()
    del referral["customerProfile"]
    assert referral_fields(referral)["link_status"] == DOMAIN_MISSING


def test_contact_emails_keep_the_order_and_skip_members_without_one() -> None:
    assert contact_emails(with_team("a@x.com", None, "b@y.com")) == ["a@x.com", "b@y.com"]
    assert contact_emails({"customerProfile": {"team": "nonsense"}}) == []


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        ({"AzureAdTenantId": TENANT}, TENANT),
        ({"aadTenantId": "{" + TENANT + "}"}, TENANT),
        ({"Tenant Id": TENANT}, TENANT),
        ({"Duns": "123456789", "External": TENANT}, None),  # not a tenant key
        ({"AzureAdTenantId": "contoso.onmicrosoft.com"}, None),  # not a GUID
        ({}, None),
    ],
)
def test_tenant_id_comes_only_from_a_tenant_key_with_a_guid(ids: dict[str, str], expected: str | None) -> None:
    assert tenant_id(make_referral(ids=ids)) == expected


def test_timestamps_with_seven_fraction_digits_and_offsets() -> None:
    assert parse_timestamp("2026-01-05T10:00:00.1234567Z") == datetime(2026, 1, 5, 10, 0, 0, 123456, tzinfo=UTC)
    assert parse_timestamp("2026-01-05T13:00:00+03:00") == datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    assert parse_timestamp("2026-01-05T10:00:00") == datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    assert parse_timestamp("yesterday") is None and parse_timestamp(None) is None


def test_long_text_is_cut_to_the_column_and_an_id_is_required() -> None:
    fields = referral_fields(make_referral(name="x" * 1000, currency="EURO-DOLLARS"))
    assert len(fields["name"]) == 300 and len(fields["currency"]) == 8
    with pytest.raises(ReferralError):
        referral_fields({"name": "no id"})


def test_referral_facts_for_scoring() -> None:
    now = datetime(2026, 5, 1, tzinfo=UTC)
    shared_open = {"type": "Shared", "status": "Active", "customer_tenant_id": None, "updated_at": now}
    shared_closed = {"type": "Shared", "status": "Closed", "customer_tenant_id": None, "updated_at": now}
    independent = {"type": "Independent", "status": "New", "customer_tenant_id": TENANT, "updated_at": now}
    assert referral_facts([shared_open]).referral_type == "co-sell"
    assert referral_facts([shared_closed]).referral_type == "shared"  # decided: no boost any more
    assert referral_facts([independent, shared_open]) == referral_facts([shared_open, independent])
    facts = referral_facts([independent, shared_open])
    assert facts.referral_type == "co-sell" and facts.known_tenant
    assert referral_facts([]).referral_type is None and not referral_facts([]).known_tenant


def google_record() -> ScanRecord:
    return ScanRecord(
        input="fabrikam.com.tr",
        domain="fabrikam.com.tr",
        status=ScanStatus.OK,
        provider="Google",
        mx=[MxHost(preference=1, host="smtp.google.com")],
    )


def test_facts_drive_the_rules_file() -> None:
    """A co-sell referral earns the rules file's boost; a known tenant makes a Google lead Existing."""
    plain = score_record(google_record())
    now = datetime(2026, 5, 1, tzinfo=UTC)
    cosell = referral_facts([{"type": "Shared", "status": "New", "customer_tenant_id": None, "updated_at": now}])
    boosted = score_record(google_record(), extra=LeadFacts(referral_type=cosell.referral_type))
    assert {item.rule: item.points for item in boosted.breakdown}["referral_cosell"] == 15
    assert boosted.score == plain.score + 15
    tenant = referral_facts([{"type": "Independent", "status": "New", "customer_tenant_id": TENANT}])
    existing = score_record(google_record(), extra=LeadFacts(known_tenant=tenant.known_tenant))
    assert plain.segment.value != "Existing" and existing.segment.value == "Existing"
