"""Signal collection and classification against a real DNS server process on 127.0.0.1."""

from __future__ import annotations

import time

import pytest

from shared import aio
from shared.config import Settings
from shared.core.domains import normalize
from shared.core.models import ScanRecord, ScanStatus
from shared.scan.pipeline import Scanner
from tests.integration.zones import RECORDS


@pytest.fixture(scope="module")
def dns(dns_server_factory):
    return dns_server_factory(RECORDS)


def make_settings(nameserver: str, **overrides: object) -> Settings:
    values = dict(
        dns_nameservers=[nameserver], dns_timeout=0.3, dns_attempts=2, dns_domain_budget=3.0, whois_enabled=False
    )
    values.update(overrides)
    return Settings(**values)


def scan(dns, *domains: str, **overrides: object) -> list[ScanRecord]:
    """Scan through the same Scanner the pipeline uses (collect + classify + score)."""

    async def run() -> list[ScanRecord]:
        scanner = Scanner(make_settings(dns.address, **overrides))
        try:
            results = [await scanner.scan_row_text(d) for d in domains]
        finally:
            await scanner.close()
        return [r.record for r in results]

    return aio.run(run())


def scan_one(dns, domain: str, **overrides: object) -> ScanRecord:
    return scan(dns, domain, **overrides)[0]


def test_m365_full_evidence(dns):
    record = scan_one(dns, "https://www.M365.com.tr/iletisim")
    assert record.status is ScanStatus.OK
    assert record.domain == "m365.com.tr"
    assert record.provider == "M365"
    assert [h.host for h in record.mx] == ["m365-com-tr.mail.protection.outlook.com"]
    assert record.mx[0].addresses == ["52.101.1.1", "2a01:111:f403::1"]
    assert record.spf.valid and record.spf.all == "-all"
    assert record.spf.includes == ["spf.protection.outlook.com"]
    assert record.spf.all_includes == ["spf.protection.outlook.com", "spfd.protection.outlook.com"]
    assert record.spf.lookups == 2
    assert record.dmarc.policy == "reject" and record.dmarc.pct == 100
    assert record.dmarc.rua == ["mailto:dmarc@m365.com.tr"]
    assert {s.selector for s in record.dkim} == {"selector1", "selector2"}
    selector1 = next(s for s in record.dkim if s.selector == "selector1")
    assert selector1.has_key and selector1.cname.endswith("m365tr.onmicrosoft.com")
    assert record.m365.tenant_domain == "m365tr.onmicrosoft.com"
    evidence = " | ".join(record.m365.evidence)
    for needle in (
        "MX m365-com-tr",
        "SPF include:spf.protection.outlook.com",
        "autodiscover",
        "enterpriseregistration",
        "DKIM selector1",
        "TXT MS",
    ):
        assert needle in evidence
    assert "MS=ms12345678" in record.txt_verifications
    assert record.cnames["autodiscover"] == "autodiscover.outlook.com"
    assert record.tenant_size is not None and record.tenant_size.band in ("medium", "large")
    assert record.tenant_size.evidence


def test_new_microsoft_mx_form_is_m365(dns):
    record = scan_one(dns, "newmx.com")
    assert record.provider == "M365"
    assert record.mx[0].host == "newmx-com.o-v1.mx.microsoft"


def test_gateway_in_front_of_m365(dns):
    record = scan_one(dns, "gw.com.tr")
    assert record.gateway == "Mimecast"
    assert record.provider == "M365"
    assert any("spf.protection.outlook.com" in e for e in record.provider_evidence)


def test_gateway_without_mailbox_evidence_is_unknown(dns):
    record = scan_one(dns, "pp.com")
    assert (record.gateway, record.provider) == ("Proofpoint", "Unknown")


def test_google_split_txt_and_dmarc_coverage(dns):
    record = scan_one(dns, "info@google.com.tr")
    assert record.provider == "Google"
    assert record.spf.record == "v=spf1 include:_spf.google.com ~all"  # two character-strings joined
    assert record.spf.all == "~all"
    assert record.dmarc.policy == "none" and record.dmarc.pct == 50
    assert [s.selector for s in record.dkim] == ["google"] and record.dkim[0].has_key
    assert [h.preference for h in record.mx] == [1, 5]


def test_godaddy_is_hosting_and_own_server_is_local(dns):
    godaddy, own = scan(dns, "godaddy.com.tr", "own.com.tr")
    assert (godaddy.provider, godaddy.local_provider) == ("Hosting", "GoDaddy")
    assert godaddy.spf is None and godaddy.dmarc is None
    assert (own.provider, own.local_provider) == ("Local", "Natro")
    assert own.ns == ["ns1.natrohost.com", "ns2.natrohost.com"]
    assert own.mx[0].addresses == ["94.73.150.10"]


@pytest.mark.parametrize(
    ("domain", "status"),
    [
        ("nullmx.com", ScanStatus.NULL_MX),
        ("nomx.com", ScanStatus.NO_MX),
        ("doesnotexist.com", ScanStatus.NXDOMAIN),
        ("broken.com", ScanStatus.SERVFAIL),
        ("slow.com", ScanStatus.TIMEOUT),
    ],
)
def test_cannot_receive_mail_statuses_are_distinct(dns, domain, status):
    record = scan_one(dns, domain)
    assert record.status is status
    assert record.provider is None
    assert record.mx == []  # a null MX is a status, never a host named ""
    if status in (ScanStatus.SERVFAIL, ScanStatus.TIMEOUT):
        assert record.error
    else:
        assert record.error is None


def test_timeout_respects_the_per_query_timeout(dns):
    started = time.monotonic()
    record = scan_one(dns, "slow.com", dns_timeout=0.2, dns_attempts=2)
    assert record.status is ScanStatus.TIMEOUT
    assert time.monotonic() - started < 2.0  # 2 attempts x 0.2 s, all lookups concurrent


def test_domain_budget_caps_the_whole_domain(dns):
    started = time.monotonic()
    record = scan_one(dns, "slow.com", dns_timeout=5, dns_attempts=3, dns_domain_budget=0.4)
    assert record.status is ScanStatus.TIMEOUT
    assert time.monotonic() - started < 1.5


def test_unreachable_nameserver_is_a_timeout_not_a_crash(dns):
    async def run():
        scanner = Scanner(make_settings("127.0.0.1:9", dns_timeout=0.2, dns_attempts=1))
        try:
            return (await scanner.scan_row_text("m365.com.tr")).record
        finally:
            await scanner.close()

    assert aio.run(run()).status in (ScanStatus.TIMEOUT, ScanStatus.ERROR)


def test_spf_loop_is_permerror(dns):
    record = scan_one(dns, "loop.com")
    assert not record.spf.valid
    assert "loop" in record.spf.error


def test_spf_lookup_limit(dns):
    many, ten = scan(dns, "many.com", "ten.com")
    assert many.spf.lookups == 11 and many.spf.over_lookup_limit and not many.spf.valid
    assert "permerror" in many.spf.error
    assert ten.spf.lookups == 10 and ten.spf.valid


def test_spf_void_lookups_multiple_records_and_missing_include(dns):
    voids, multi, missing = scan(dns, "voids.com", "multi.com", "missing.com")
    assert not voids.spf.valid and "void" in voids.spf.error
    assert not multi.spf.valid and "more than one" in multi.spf.error
    assert not missing.spf.valid and "no SPF record" in missing.spf.error


def test_dmarc_edge_cases(dns):
    tolerant, bogus, duplicate = scan(dns, "dmarc1.com", "dmarc2.com", "dmarc3.com")
    assert tolerant.dmarc.valid
    assert (tolerant.dmarc.policy, tolerant.dmarc.pct) == ("quarantine", 25)
    assert tolerant.dmarc.rua == ["mailto:a@x.com", "mailto:b@y.com"]
    assert not bogus.dmarc.valid and bogus.dmarc.policy is None  # flagged, not guessed
    assert not duplicate.dmarc.valid and "more than one" in duplicate.dmarc.error


def test_truncated_answer_is_retried_over_tcp(dns):
    record = scan_one(dns, "big.com")
    assert record.spf is not None and record.spf.record == "v=spf1 -all"
    assert any(v.startswith("google-site-verification=token000") for v in record.txt_verifications)


def test_idn_domain(dns):
    record = scan_one(dns, "ŞİRKETİM.com.tr")
    assert record.domain == normalize("şirketim.com.tr").name == "xn--irketim-8pb.com.tr"
    assert record.domain_unicode == "şirketim.com.tr"
    assert record.provider == "M365"


def test_configurable_dkim_selectors(dns):
    record = scan_one(dns, "m365.com.tr", dkim_selectors=["selector2", "nothere"])
    assert [s.selector for s in record.dkim] == ["selector2"]


def test_many_domains_run_concurrently_not_one_at_a_time(dns_server_factory):
    """With 30 ms per query, 40 domains one lookup at a time would take ~40 x 20 x 30 ms = 24 s."""
    slow_dns = dns_server_factory(RECORDS, delay_ms=30)
    names = ["m365.com.tr", "google.com.tr", "gw.com.tr", "own.com.tr", "godaddy.com.tr"] * 8

    async def run():
        scanner = Scanner(make_settings(slow_dns.address, dns_timeout=2))
        try:
            import asyncio

            return await asyncio.gather(*(scanner.scan_row_text(n) for n in names))
        finally:
            await scanner.close()

    started = time.monotonic()
    results = aio.run(run())
    elapsed = time.monotonic() - started
    assert all(r.record.status is ScanStatus.OK for r in results)
    assert elapsed < 1.5, elapsed  # a few round trips, not hundreds


def test_one_domains_lookups_run_in_parallel(dns_server_factory):
    """A domain needs ~22 queries (MX, SPF and its includes, DMARC, DKIM selectors, M365/Google
    evidence) but only 2-4 rounds of them: at 100 ms per query, serial lookups would take ~2.2 s.

    Each domain is scanned alone, so the bound measures the pipeline's depth, not the event loop's
    contention on a busy CI machine (the 40-domain test above covers concurrency across domains)."""
    slow_dns = dns_server_factory(RECORDS, delay_ms=100)
    for name in ["m365.com.tr", "google.com.tr", "gw.com.tr", "own.com.tr", "godaddy.com.tr"]:
        record = scan_one(slow_dns, name, dns_timeout=2)
        assert record.status is ScanStatus.OK
        assert record.duration_ms < 1200, (name, record.duration_ms)  # measured 200-400 ms


NEW_DKIM_FORM = """
yeni.com.tr. MX 0 yeni-com-tr.mail.protection.outlook.com.
yeni-com-tr.mail.protection.outlook.com. A 52.101.1.9
yeni.com.tr. TXT "v=spf1 include:spf.protection.outlook.com -all"
selector1._domainkey.yeni.com.tr. CNAME selector1-yeni-com-tr._domainkey.yenitenant.y-v1.dkim.mail.microsoft.
selector2._domainkey.yeni.com.tr. CNAME selector2-yeni-com-tr._domainkey.yenitenant.y-v1.dkim.mail.microsoft.
selector1-yeni-com-tr._domainkey.yenitenant.y-v1.dkim.mail.microsoft. TXT "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEB"
"""


def test_the_tenant_behind_microsofts_new_dkim_form(dns_server_factory):
    """Tenants created or re-keyed since 2024 publish
    selector1-<domain>._domainkey.<tenant>.<partition>-v1.dkim.mail.microsoft."""
    record = scan_one(dns_server_factory(NEW_DKIM_FORM), "yeni.com.tr")
    assert record.provider == "M365"
    assert record.m365.tenant_domain == "yenitenant.onmicrosoft.com"
    assert any("yenitenant.y-v1.dkim.mail.microsoft" in text for text in record.m365.evidence)


def test_provider_specific_questions_only_when_that_provider_is_possible():
    """selector1/selector2 and the discovery CNAMEs (Microsoft 365), google and zmail are asked only when
    the MX and apex TXT leave their provider possible; an unknown or own MX leaves every provider possible."""
    from shared.dns import wire
    from shared.dns.client import Answer, Outcome
    from shared.scan.collector import possible_providers

    def mx(*hosts: str) -> Answer:
        return Answer("x.com", "MX", Outcome.OK, [wire.Mx(10 * i, h) for i, h in enumerate(hosts)])

    google = mx("aspmx.l.google.com", "alt1.aspmx.l.google.com")
    assert possible_providers(google, ["google-site-verification=abc"]) == {"Google"}
    assert possible_providers(google, ["MS=ms12345678"]) == {"Google", "M365"}
    assert possible_providers(google, ["v=spf1 include:_spf.google.com ~include:spf.protection.outlook.com -all"]) == {
        "Google",
        "M365",
    }
    assert possible_providers(mx("m365-com.mail.protection.outlook.com"), []) == {"M365"}
    assert possible_providers(mx("smtp.secureserver.net"), ["v=spf1 redirect=zoho.com"]) == {"Hosting", "Zoho"}
    assert possible_providers(mx("eu-smtp-inbound-1.mimecast.com"), []) is None  # the mailbox is behind the gateway
    assert possible_providers(mx("mail.x.com"), []) is None  # the company's own server
    assert possible_providers(mx("aspmx.l.google.com", "backup.example.net"), []) is None  # an unknown relay
    assert possible_providers(Answer("x.com", "MX", Outcome.NODATA), []) is None
    assert possible_providers(Answer("x.com", "MX", Outcome.TIMEOUT), []) is None
    assert possible_providers(Answer("x.com", "MX", Outcome.NXDOMAIN), []) == frozenset()


def test_a_google_domain_is_not_asked_microsofts_names(dns, monkeypatch):
    from shared.dns.client import DnsClient

    asked: list[str] = []
    real_query = DnsClient.query

    async def query(self, name, rdtype, *, deadline=None):
        asked.append(name)
        return await real_query(self, name, rdtype, deadline=deadline)

    monkeypatch.setattr(DnsClient, "query", query)
    record = scan_one(dns, "google.com.tr")
    assert [s.selector for s in record.dkim] == ["google"] and record.provider == "Google"
    assert not {
        "selector1._domainkey.google.com.tr",
        "autodiscover.google.com.tr",
        "zmail._domainkey.google.com.tr",
    } & {*asked}
    asked.clear()
    full = scan_one(dns, "m365.com.tr")  # M365: every Microsoft name asked, as before
    assert {s.selector for s in full.dkim} == {"selector1", "selector2"} and len(full.cnames) == 4
    assert "google._domainkey.m365.com.tr" not in asked and "s1._domainkey.m365.com.tr" in asked
