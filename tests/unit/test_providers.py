"""Mail-provider classification: MX first, weighted evidence behind gateways, always with evidence."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.core.models import DkimSelector, DmarcInfo, MxHost, ScanRecord, ScanStatus, SpfInfo
from shared.core.providers import PROVIDERS, classify, host_matches, provider_data


def record(
    *mx: str,
    domain: str = "contoso.com",
    status: ScanStatus = ScanStatus.OK,
    spf: Sequence[str] = (),
    dkim: Sequence[DkimSelector] = (),
    cnames: dict[str, str] | None = None,
    txt: Sequence[str] = (),
    ns: Sequence[str] = (),
    dmarc: DmarcInfo | None = None,
) -> ScanRecord:
    """A scan record built by hand; ``spf`` lists the include targets (direct and reached)."""
    return ScanRecord(
        input=domain,
        domain=domain,
        status=status,
        mx=[MxHost(preference=10 * (i + 1), host=h) for i, h in enumerate(mx)],
        spf=(
            SpfInfo(
                record="v=spf1 " + " ".join(f"include:{s}" for s in spf) + " -all",
                valid=True,
                all="-all",
                includes=list(spf),
                all_includes=list(spf),
            )
            if spf
            else None
        ),
        dkim=list(dkim),
        cnames=cnames or {},
        txt_verifications=list(txt),
        ns=list(ns),
        dmarc=dmarc,
    )


# -- host_matches --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "pattern", "expected"),
    [
        ("a.b.example.com", "*.example.com", True),
        ("b.example.com", "*.example.com", True),
        ("example.com", "*.example.com", True),  # the wildcard includes the base itself
        ("A.B.EXAMPLE.COM.", "*.example.com", True),  # case and trailing dot ignored
        ("badexample.com", "*.example.com", False),  # not a label boundary
        ("example.com.evil.net", "*.example.com", False),
        ("example.org", "*.example.com", False),
        ("example.com", "example.com", True),
        ("Example.Com.", "example.com", True),
        ("a.example.com", "example.com", False),  # a plain pattern matches only itself
        ("", "*.example.com", False),
    ],
)
def test_host_matches(host: str, pattern: str, expected: bool) -> None:
    assert host_matches(host, pattern) is expected


# -- MX names the provider -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mx", "provider", "local"),
    [
        ("contoso-com.mail.protection.outlook.com", "M365", None),
        ("contoso-com.o-v1.mx.microsoft", "M365", None),  # Microsoft's newer MX form
        ("aspmx.l.google.com", "Google", None),
        ("ALT1.ASPMX.L.GOOGLE.COM.", "Google", None),
        ("smtp.google.com", "Google", None),
        ("mx.yandex.net", "Yandex", None),
        ("mx.zoho.eu", "Zoho", None),
        ("mx.zoho.com", "Zoho", None),
        ("inbound-smtp.eu-west-1.amazonaws.com", "Amazon", None),
        ("mx.sendgrid.net", "SendGrid", None),
        ("mxa.mailgun.org", "Mailgun", None),
        ("smtp.secureserver.net", "Hosting", "GoDaddy"),
        ("mx1.hostinger.com", "Hosting", "Hostinger"),
        ("mx1.natrohost.com", "Local", "Natro"),
        ("mx.turhost.com", "Local", "Turhost"),
        ("mail.contoso.com", "Local", None),  # the company's own server
        ("contoso.com", "Local", None),
        ("mx.some-unknown-relay.net", "Unknown", None),
    ],
)
def test_mx_names_the_provider(mx: str, provider: str, local: str | None) -> None:
    result = classify(record(mx))
    assert result.provider == provider
    assert result.local_provider == local
    assert result.gateway is None
    assert result.provider_evidence
    assert any(mx in line for line in result.provider_evidence)


def test_own_mail_server_with_natro_nameservers() -> None:
    """An MX under the company's domain + Natro nameservers → Local, hosted at Natro."""
    result = classify(record("mail.contoso.com", ns=["ns1.natrohost.com", "ns2.natrohost.com"]))
    assert result.provider == "Local"
    assert result.local_provider == "Natro"
    assert any("Natro" in line for line in result.provider_evidence)


def test_own_mail_server_with_unknown_nameservers() -> None:
    result = classify(record("mail.contoso.com", ns=["ns1.cloudflare.com"]))
    assert (result.provider, result.local_provider) == ("Local", None)


def test_lookalike_domain_is_not_own_server() -> None:
    """mail.notcontoso.com is not under contoso.com."""
    assert classify(record("mail.notcontoso.com")).provider == "Unknown"


def test_first_mx_by_order_wins() -> None:
    result = classify(record("aspmx.l.google.com", "contoso-com.mail.protection.outlook.com"))
    assert result.provider == "Google"


def test_mx_evidence_is_combined_with_other_evidence() -> None:
    result = classify(record("aspmx.l.google.com", spf=["_spf.google.com"]))
    assert result.provider == "Google"
    assert any("aspmx.l.google.com" in line for line in result.provider_evidence)
    assert any("_spf.google.com" in line for line in result.provider_evidence)


# -- gateways ------------------------------------------------------------------------------------


def test_mimecast_in_front_of_m365() -> None:
    result = classify(
        record(
            "eu-smtp-inbound-1.mimecast.com",
            "eu-smtp-inbound-2.mimecast.com",
            spf=["spf.protection.outlook.com"],
            cnames={"autodiscover": "autodiscover.outlook.com"},
        )
    )
    assert result.gateway == "Mimecast"
    assert result.provider == "M365"
    evidence = " | ".join(result.provider_evidence)
    assert "Mimecast" in evidence
    assert "spf.protection.outlook.com" in evidence
    assert "autodiscover.outlook.com" in evidence


def test_proofpoint_in_front_of_google() -> None:
    result = classify(record("mx0a-001.pphosted.com", "mx0b-001.pphosted.com", spf=["_spf.google.com"]))
    assert result.gateway == "Proofpoint"
    assert result.provider == "Google"
    assert any("_spf.google.com" in line for line in result.provider_evidence)


def test_gateway_then_provider_mx() -> None:
    """A gateway first and the mailbox host as a lower-priority MX: the MX names the provider."""
    result = classify(record("eu-smtp-inbound-1.mimecast.com", "contoso-com.mail.protection.outlook.com"))
    assert (result.gateway, result.provider) == ("Mimecast", "M365")


def test_gateway_without_evidence_is_unknown() -> None:
    result = classify(record("mx0a-001.pphosted.com"))
    assert result.gateway == "Proofpoint"
    assert result.provider == "Unknown"
    assert result.provider_evidence
    assert any("Proofpoint" in line for line in result.provider_evidence)


def test_site_verification_alone_is_too_weak_behind_a_gateway() -> None:
    """Web teams verify Search Console everywhere: one google-site-verification TXT is not mail evidence."""
    result = classify(record("eu-smtp-inbound-1.mimecast.com", txt=["google-site-verification=abc123"]))
    assert result.gateway == "Mimecast"
    assert result.provider == "Unknown"


@pytest.mark.parametrize(
    ("kwargs", "provider"),
    [
        ({"dkim": [DkimSelector(selector="google", has_key=True)], "txt": ["google-site-verification=x"]}, "Google"),
        ({"dkim": [DkimSelector(selector="zmail", has_key=True)], "txt": ["zoho-verification=zb1"]}, "Zoho"),
        (
            {
                "dkim": [
                    DkimSelector(selector="selector1", cname="selector1-contoso-com._domainkey.contoso.onmicrosoft.com")
                ]
            },
            "M365",
        ),
        ({"cnames": {"autodiscover": "autodiscover.outlook.com"}}, "M365"),
        ({"spf": ["_spf.yandex.net"]}, "Yandex"),
        ({"spf": ["amazonses.com"]}, "Amazon"),
    ],
)
def test_weighted_evidence_behind_a_gateway(kwargs: dict, provider: str) -> None:
    """Enough non-MX evidence (weight >= min_weight) names the provider behind the gateway."""
    result = classify(record("us-smtp-inbound-1.mimecast.com", **kwargs))
    assert result.provider == provider
    assert result.gateway == "Mimecast"


def test_unknown_relay_with_evidence_uses_evidence() -> None:
    """An unknown relay (not a gateway) is treated like one: the evidence names the provider."""
    result = classify(record("relay.contoso-filter.net", spf=["spf.protection.outlook.com"]))
    assert result.gateway is None
    assert result.provider == "M365"


def test_strongest_evidence_wins() -> None:
    result = classify(
        record(
            "eu-smtp-inbound-1.mimecast.com",
            spf=["_spf.google.com", "spf.protection.outlook.com"],
            cnames={"autodiscover": "autodiscover.outlook.com"},
        )
    )
    assert result.provider == "M365"


# -- no mail -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "mx"),
    [(ScanStatus.NXDOMAIN, ()), (ScanStatus.NO_MX, ()), (ScanStatus.NULL_MX, ())],
)
def test_no_mail_means_no_provider(status: ScanStatus, mx: tuple[str, ...]) -> None:
    result = classify(record(*mx, status=status, spf=["spf.protection.outlook.com"], txt=["MS=ms123"]))
    assert result.provider is None
    assert result.gateway is None
    assert result.local_provider is None
    assert result.provider_evidence == []
    assert result.tenant_size is None


# -- Microsoft 365 details -----------------------------------------------------------------------


def test_tenant_domain_from_dkim_cname() -> None:
    result = classify(
        record(
            "contoso-com.mail.protection.outlook.com",
            dkim=[
                DkimSelector(selector="selector1", cname="selector1-contoso-com._domainkey.contoso.onmicrosoft.com"),
                DkimSelector(selector="selector2", cname="selector2-contoso-com._domainkey.contoso.onmicrosoft.com"),
            ],
        )
    )
    assert result.m365.tenant_domain == "contoso.onmicrosoft.com"
    assert any("selector1" in line for line in result.m365.evidence)


def test_no_tenant_domain_without_onmicrosoft_dkim() -> None:
    result = classify(record("aspmx.l.google.com", dkim=[DkimSelector(selector="google", has_key=True)]))
    assert result.m365.tenant_domain is None
    assert result.m365.evidence == []


def test_m365_evidence_lists_ms_txt_even_when_provider_is_google() -> None:
    """A left-over MS= verification is reported as M365 evidence without changing the provider."""
    result = classify(record("aspmx.l.google.com", txt=["MS=ms12345678"]))
    assert result.provider == "Google"
    assert any("MS" in line for line in result.m365.evidence)


def test_m365_evidence_starts_with_mx() -> None:
    result = classify(
        record("contoso-com.mail.protection.outlook.com", spf=["spf.protection.outlook.com"], txt=["MS=ms1"])
    )
    assert result.m365.evidence[0] == "MX contoso-com.mail.protection.outlook.com"
    assert len(result.m365.evidence) == 3


def test_m365_evidence_kept_for_no_mail_domain() -> None:
    result = classify(record(status=ScanStatus.NO_MX, txt=["MS=ms1"]))
    assert result.provider is None
    assert result.m365.evidence


# -- tenant size ---------------------------------------------------------------------------------


def test_tenant_size_none_without_evidence() -> None:
    assert classify(record("contoso-com.mail.protection.outlook.com")).tenant_size is None
    assert classify(record("aspmx.l.google.com")).tenant_size is None


def test_tenant_size_large_with_intune_registration_and_gateway() -> None:
    result = classify(
        record(
            "eu-smtp-inbound-1.mimecast.com",
            spf=["spf.protection.outlook.com"],
            cnames={
                "enterpriseenrollment": "enterpriseenrollment.manage.microsoft.com",
                "enterpriseregistration": "enterpriseregistration.windows.net",
            },
        )
    )
    size = result.tenant_size
    assert size is not None
    assert size.band in ("large", "medium")
    assert size.band == "large"  # 2 + 1 + 2 points
    assert len(size.evidence) == 3
    assert any("Mimecast" in line for line in size.evidence)


def test_tenant_size_medium_with_intune_and_registration() -> None:
    result = classify(
        record(
            "contoso-com.mail.protection.outlook.com",
            cnames={
                "enterpriseenrollment": "enterpriseenrollment.manage.microsoft.com",
                "enterpriseregistration": "enterpriseregistration.windows.net",
            },
        )
    )
    assert result.tenant_size is not None
    assert result.tenant_size.band == "medium"
    assert len(result.tenant_size.evidence) == 2


def test_tenant_size_counts_enforced_dmarc_and_many_senders() -> None:
    dmarc = DmarcInfo(
        record="v=DMARC1; p=reject; rua=mailto:a@x.com", valid=True, policy="reject", rua=["mailto:a@x.com"]
    )
    senders = ["_spf.google.com", "sendgrid.net", "mailgun.org", "amazonses.com"]
    result = classify(
        record("aspmx.l.google.com", spf=senders, dmarc=dmarc, cnames={"lyncdiscover": "webdir.online.lync.com"})
    )
    assert result.tenant_size is not None
    assert result.tenant_size.band == "medium"  # 1 + 1 + 1
    assert any("4 third-party senders" in line for line in result.tenant_size.evidence)


def test_shared_hosting_is_small() -> None:
    result = classify(record("smtp.secureserver.net"))
    assert result.tenant_size is not None
    assert result.tenant_size.band == "small"
    assert any("GoDaddy" in line for line in result.tenant_size.evidence)


# -- invariants ----------------------------------------------------------------------------------

_MX_POOL = [
    "contoso-com.mail.protection.outlook.com",
    "aspmx.l.google.com",
    "mx.yandex.net",
    "mx.zoho.eu",
    "smtp.secureserver.net",
    "mx1.natrohost.com",
    "mail.contoso.com",
    "eu-smtp-inbound-1.mimecast.com",
    "mx0a-001.pphosted.com",
    "mx.unknown-relay.net",
]
_SPF_POOL = ["spf.protection.outlook.com", "_spf.google.com", "sendgrid.net", "_spf.yandex.net", "spf.other.net"]
_TXT_POOL = ["MS=ms1", "google-site-verification=x", "zoho-verification=z", "yandex-verification: y"]


@settings(max_examples=300, deadline=None)
@given(
    mx=st.lists(st.sampled_from(_MX_POOL), min_size=1, max_size=3),
    spf=st.lists(st.sampled_from(_SPF_POOL), max_size=4, unique=True),
    txt=st.lists(st.sampled_from(_TXT_POOL), max_size=3, unique=True),
    autodiscover=st.booleans(),
    ns=st.lists(st.sampled_from(["ns1.natrohost.com", "ns1.cloudflare.com"]), max_size=2),
)
def test_every_classified_record_has_evidence(
    mx: list[str], spf: list[str], txt: list[str], autodiscover: bool, ns: list[str]
) -> None:
    """A mail-receiving record always gets a known provider and the evidence for it."""
    cnames = {"autodiscover": "autodiscover.outlook.com"} if autodiscover else {}
    result = classify(record(*mx, spf=spf, txt=txt, cnames=cnames, ns=ns))
    assert result.provider in PROVIDERS
    assert result.provider_evidence
    assert all(line.strip() for line in result.provider_evidence)
    if result.gateway is not None:
        assert any(result.gateway in line for line in result.provider_evidence)
    if result.tenant_size is not None:
        assert result.tenant_size.evidence
        assert result.tenant_size.band in ("small", "medium", "large")


def test_classify_does_not_modify_its_input() -> None:
    original = record("eu-smtp-inbound-1.mimecast.com", spf=["spf.protection.outlook.com"])
    before = original.model_dump()
    classify(original)
    assert original.model_dump() == before


def test_provider_data_is_consistent() -> None:
    """The YAML names only known providers and every hosting/gateway entry has patterns."""
    data = provider_data()
    assert set(data.providers) <= set(PROVIDERS)
    assert data.min_weight > data.weights["txt"]
    assert all(h.patterns and h.name for h in data.hosting + data.gateways + data.local_hosts)


def test_a_stored_null_mx_host_reads_as_no_host() -> None:
    """Snapshots saved before null MX became a status held one host named ""; they read as none."""
    from shared.core.models import ScanRecord

    old = ScanRecord.model_validate(
        {"input": "x.com", "domain": "x.com", "status": "null_mx", "mx": [{"preference": 0, "host": ""}]}
    )
    assert old.mx == []


@pytest.mark.parametrize(
    ("cname", "tenant"),
    [
        ("selector1-contoso-com._domainkey.contoso.onmicrosoft.com", "contoso.onmicrosoft.com"),
        ("selector1-contoso-com._domainkey.contoso.n-v1.dkim.mail.microsoft", "contoso.onmicrosoft.com"),
        ("selector2-firma-com-tr._domainkey.firma2024.f-v1.dkim.mail.microsoft.", "firma2024.onmicrosoft.com"),
        ("SELECTOR1-X._DOMAINKEY.Contoso.N-V1.DKIM.MAIL.MICROSOFT", "contoso.onmicrosoft.com"),
        # near misses: no tenant is guessed
        ("selector1-contoso-com._domainkey.contoso.nn-v1.dkim.mail.microsoft", None),  # a two-letter partition
        ("selector1-contoso-com._domainkey.contoso.n-v2.dkim.mail.microsoft", None),
        ("selector1-contoso-com._domainkey.n-v1.dkim.mail.microsoft", None),  # no tenant label
        ("selector1-x._domainkey.contoso.n-v1.dkim.mail.microsoft.evil.example", None),
        ("selector1-x._domainkey.onmicrosoft.com", None),
        ("selector1-x._domainkey.contoso.dkim.example.com", None),
    ],
)
def test_tenant_from_both_dkim_cname_forms(cname: str, tenant: str | None) -> None:
    from shared.core.providers import tenant_from_dkim_cname

    assert tenant_from_dkim_cname(cname) == tenant


def test_the_host_indexes_answer_like_the_pattern_lists() -> None:
    """mx_provider, gateway and local_host (indexed) give what a walk over the patterns in file order gives."""
    data = provider_data()

    def linear_mx(host: str) -> tuple[str, str | None] | None:
        for hosting in data.hosting:
            if hosting.match(host):
                return "Hosting", hosting.name
        for name, spec in data.providers.items():
            if name != "Hosting" and any(host_matches(host, p) for p in spec.get("mx", [])):
                return name, None
        return next((("Local", h.name) for h in data.local_hosts if h.match(host)), None)

    patterns = [p for spec in data.providers.values() for kind in ("mx", "spf") for p in spec.get(kind, [])]
    patterns = [p for p in patterns if isinstance(p, str)]  # Hosting's MX entries are in data.hosting
    patterns += [p for item in data.hosting + data.gateways + data.local_hosts for p in item.patterns]
    hosts = ["", "com", "example.com", "MAIL.Example.COM.", "notgoogle.com", "aspmx.l.google.com.evil.com"]
    for pattern in patterns:
        base = pattern.removeprefix("*.")
        hosts += [base, base.upper() + ".", f"mx1.{base}", f"x{base}", f"{base}.example.com"]
    for host in hosts:
        assert data.mx_provider(host) == linear_mx(host), host
        assert data.gateway(host) == next((g.name for g in data.gateways if g.match(host)), None), host
        assert data.local_host(host) == next((h.name for h in data.local_hosts if h.match(host)), None), host
        assert data.spf_index.all(host) == {
            n for n, spec in data.providers.items() if any(host_matches(host, p) for p in spec.get("spf", []))
        }, host
