"""The pure parts of tenant recon and hosting enrichment: parsing Microsoft's answers, reading the
IP databases' layouts, naming the host, and the classifier's use of it (supporting evidence only)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.core.models import HostedAddress, HostingInfo, MxHost, ScanRecord, ScanStatus, TenantRecon
from shared.core.providers import classify, provider_data
from shared.core.sales import build_sales_summary
from shared.core.scoring import score_record
from shared.integrations.tenant_recon import federation_idp, m365_possible, parse_discovery, parse_realm
from shared.scan.hosting import read_fields

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_discovery_document_gives_tenant_and_region() -> None:
    body = {
        "issuer": f"https://login.microsoftonline.com/{TENANT}/v2.0",
        "token_endpoint": f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token",
        "tenant_region_scope": "NA",
        "tenant_region_sub_scope": "GCC",
        "cloud_instance_name": "microsoftonline.com",
    }
    assert parse_discovery(200, body) == {
        "tenant_id": TENANT,
        "region_scope": "NA",
        "region_sub_scope": "GCC",
        "cloud_instance": "microsoftonline.com",
    }
    only_token = {"token_endpoint": f"https://login.microsoftonline.com/{TENANT.upper()}/oauth2/token"}
    assert parse_discovery(200, only_token)["tenant_id"] == TENANT


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, {"error": "invalid_tenant", "error_codes": [90002]}, "tenant_not_found"),
        (
            400,
            {"error": "invalid_tenant", "error_description": "AADSTS90002: Tenant 'x.com' not found."},
            "tenant_not_found",
        ),
        (400, {"error": "invalid_request", "error_codes": [900023]}, "http_400"),
        (503, None, "http_503"),
        (200, ["not", "a", "document"], "bad_response"),
        (200, {"issuer": "https://login.microsoftonline.com/common/v2.0"}, "bad_response"),
    ],
)
def test_discovery_failures_are_codes(status: int, body: object, error: str) -> None:
    assert parse_discovery(status, body) == {"error": error}


def test_user_realm_managed_federated_unknown() -> None:
    managed = {"State": 4, "UserState": 1, "NameSpaceType": "Managed", "FederationBrandName": "Contoso"}
    assert parse_realm(200, managed) == {"namespace_type": "Managed", "federation_brand": "Contoso"}
    federated = {
        "State": 3,
        "UserState": 2,
        "NameSpaceType": "Federated",
        "AuthURL": "https://sts.contoso.com/adfs/ls/?username=user%40contoso.com&wa=wsignin1.0",
        "FederationBrandName": "Contoso",
    }
    assert parse_realm(200, federated) == {
        "namespace_type": "Federated",
        "federation_brand": "Contoso",
        "auth_url_host": "sts.contoso.com",
        "federation_idp": "AD FS",
    }
    assert parse_realm(200, {"State": 4, "UserState": 1, "NameSpaceType": "Unknown"}) == {"namespace_type": "Unknown"}
    assert parse_realm(200, {"Login": "user@x"}) == {"error": "bad_response"}
    assert parse_realm(429, None) == {"error": "http_429"}


@pytest.mark.parametrize(
    ("url", "idp"),
    [
        ("https://sts.contoso.com/adfs/ls/?wa=wsignin1.0", "AD FS"),
        ("https://contoso.okta.com/app/office365/sso/wsfed/passive", "Okta"),
        ("https://sso.contoso.com/idp/prp.wsf", "PingFederate"),
        ("https://login.contoso.com/wsfed", None),
        (None, None),
    ],
)
def test_federation_idp_from_the_auth_url(url: str | None, idp: str | None) -> None:
    assert federation_idp(url) == idp


def test_recon_only_where_microsoft_365_is_possible() -> None:
    assert m365_possible("M365", [], None)
    assert m365_possible("Unknown", ["SPF include:spf.protection.outlook.com"], None)
    assert m365_possible("Google", [], "contoso.onmicrosoft.com")
    assert not m365_possible("Google", [], None)


@pytest.mark.parametrize(
    ("record", "fields"),
    [
        (
            {"autonomous_system_number": 13335, "autonomous_system_organization": "CLOUDFLARENET"},
            (13335, "CLOUDFLARENET", None),
        ),
        ({"country": {"iso_code": "tr", "names": {"en": "Türkiye"}}, "city": {}}, (None, None, "TR")),
        (
            {"asn": "AS34619", "as_name": "Natro Web Hizmetleri", "country_code": "TR", "country": "Turkey"},
            (34619, "Natro Web Hizmetleri", "TR"),
        ),
        (
            {"asn": "AS15169", "as_name": "Google LLC", "country": "US", "country_name": "United States"},
            (15169, "Google LLC", "US"),
        ),
        (None, (None, None, None)),
        ("garbage", (None, None, None)),
    ],
)
def test_every_database_layout_is_read(record: object, fields: tuple) -> None:
    assert read_fields(record) == fields


def _record(mx: str, ptr: str | None = None, org: str | None = None, ns: list[str] | None = None) -> ScanRecord:
    domain = "acme.com.tr"
    address = HostedAddress(ip="203.0.113.10", role="mx", host=mx, ptr=ptr, asn=34619 if org else None, org=org)
    return ScanRecord(
        input=domain,
        domain=domain,
        status=ScanStatus.OK,
        mx=[MxHost(preference=10, host=mx, addresses=["203.0.113.10"])],
        ns=ns or [],
        hosting=HostingInfo(addresses=[address]),
    )


def test_ptr_names_the_host_of_an_own_server() -> None:
    record = classify(_record("mail.acme.com.tr", ptr="srv1.natrohost.com"))
    assert record.provider == "Local" and record.local_provider == "Natro"
    assert record.hosting.company == "Natro"
    assert "MX address 203.0.113.10 PTR srv1.natrohost.com names the host Natro" in record.provider_evidence


def test_as_organisation_confirms_what_the_mx_says() -> None:
    record = classify(_record("mx1.natrohost.com", org="NATRO WEB HIZMETLERI"))
    assert record.provider == "Local" and record.local_provider == "Natro"
    assert "MX address 203.0.113.10 AS34619 NATRO WEB HIZMETLERI confirms Natro" in record.provider_evidence


def test_hosting_never_overrides_the_mx() -> None:
    google = classify(_record("aspmx.l.google.com", ptr="srv1.natrohost.com"))
    assert google.provider == "Google" and google.local_provider is None
    assert not any("natro" in e.lower() for e in google.provider_evidence)
    named_by_ns = classify(_record("mail.acme.com.tr", ptr="srv1.natrohost.com", ns=["ns1.turhost.com"]))
    assert named_by_ns.local_provider == "Turhost"  # the nameservers named it first; the PTR does not replace it
    gateway = classify(_record("acme-com-tr.mail.protection.outlook.com", org="Natro Web Hizmetleri"))
    assert gateway.provider == "M365" and gateway.local_provider is None


def test_a_word_inside_another_word_is_not_an_organisation() -> None:
    record = classify(_record("mail.acme.com.tr", org="Supernatrolium Networks"))
    assert record.local_provider is None and record.hosting.company is None


def test_summary_without_a_known_company_uses_what_is_known() -> None:
    hosting = HostingInfo(
        addresses=[
            HostedAddress(ip="192.0.2.1", role="mx", host="mx.acme.com.tr", ptr="static-1.bb.isp.com.tr", country="TR"),
            HostedAddress(ip="192.0.2.2", role="apex", host="acme.com.tr", asn=64500, org="Example Hosting Ltd"),
        ]
    )
    record = ScanRecord(input="acme.com.tr", domain="acme.com.tr", status=ScanStatus.NO_MX, hosting=hosting)
    classified = classify(record)
    assert classified.hosting.summary == "mail hosted by isp.com.tr (TR); website at Example Hosting Ltd (AS64500)"
    assert classified.hosting.company is None


def test_providers_yaml_networks_are_loaded() -> None:
    names = {net.name for net in provider_data().networks.items}
    assert {"Natro", "GoDaddy", "Cloudflare", "Microsoft", "Radore"} <= names


def _m365_lead(recon: TenantRecon | None) -> ScanRecord:
    domain = "federe.com.tr"
    record = ScanRecord(
        input=domain,
        domain=domain,
        status=ScanStatus.OK,
        mx=[MxHost(preference=0, host="federe-com-tr.mail.protection.outlook.com")],
        tenant_recon=recon,
    )
    return classify(record)


FEDERATED = TenantRecon(
    tenant_id=TENANT,
    region_scope="EU",
    namespace_type="Federated",
    federation_brand="Federe Sanayi",
    auth_url_host="sts.federe.com.tr",
    federation_idp="AD FS",
)


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", ("AD FS (sts.federe.com.tr)", "Entra ID cloud authentication", "Entra Connect cloud sync")),
        ("tr", ("AD FS (sts.federe.com.tr)", "Entra ID bulut kimlik doğrulamasına", "Entra Connect bulut eşitlemesi")),
    ],
)
def test_sales_summary_names_federation_as_a_modernisation(lang: str, words: tuple[str, ...]) -> None:
    record = _m365_lead(FEDERATED)
    summary = build_sales_summary(record, score_record(record), lang=lang)
    script = " ".join(summary.call_script)
    questions = " ".join(summary.discovery_questions)
    for word in words:
        assert word in script
    assert "AD FS (sts.federe.com.tr)" in questions
    assert len(summary.discovery_questions) <= 6


def test_sales_summary_without_federation_is_unchanged() -> None:
    managed = TenantRecon(tenant_id=TENANT, namespace_type="Managed", federation_brand="Federe Sanayi")
    for recon in (None, managed, TenantRecon(error="tenant_not_found", namespace_type="Unknown")):
        record = _m365_lead(recon)
        baseline = _m365_lead(None)
        for lang in ("tr", "en"):
            got = build_sales_summary(record, score_record(record), lang=lang, generated_at=NOW)
            want = build_sales_summary(baseline, score_record(baseline), lang=lang, generated_at=NOW)
            assert got == want


def test_federation_with_an_unrecognised_provider_and_no_host() -> None:
    recon = TenantRecon(namespace_type="Federated")
    record = _m365_lead(recon)
    en = build_sales_summary(record, score_record(record), lang="en")
    assert any("an on-premises federation service" in line for line in en.call_script)
    tr = build_sales_summary(record, score_record(record), lang="tr")
    assert any("şirket içi federasyon hizmeti" in line for line in tr.call_script)


def test_each_address_gets_the_network_it_names() -> None:
    hosting = HostingInfo(
        addresses=[
            HostedAddress(ip="203.0.113.10", role="mx", host="mail.acme.com.tr", ptr="srv1.natrohost.com"),
            HostedAddress(ip="104.16.1.1", role="apex", host="acme.com.tr", asn=13335, org="CLOUDFLARENET"),
        ]
    )
    record = ScanRecord(input="acme.com.tr", domain="acme.com.tr", status=ScanStatus.NO_MX, hosting=hosting)
    classified = classify(record).hosting
    assert [a.network for a in classified.addresses] == ["Natro", "Cloudflare"]
    assert classified.summary == "mail hosted by Natro; website at Cloudflare (AS13335)"
