"""Microsoft 365 tenant recon against the identity stand-in, and hosting enrichment (PTR through the
loopback DNS server, ASN/org/country from MaxMind-format files these tests write themselves)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from devtools.msstandins import start_standins
from shared import aio
from shared.config import Settings
from shared.core.models import ScanRecord, ScanStatus
from shared.core.results import ScanResult, result_json
from shared.scan import hosting as hosting_module
from shared.scan.pipeline import Scanner

MANAGED_TENANT = "3c1f9a2e-7b4d-4e8a-9c6f-1d2e3f4a5b6c"
FEDERATED_TENANT = "8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d"
NATRO_ORG = "Natro Web Hizmetleri"
MICROSOFT_ORG = "MICROSOFT-CORP-MSN-AS-BLOCK"


def _m365(domain: str, ip: str) -> str:
    host = domain.replace(".", "-") + ".mail.protection.outlook.com."
    return f'{domain}. MX 0 {host}\n{host} A {ip}\n{domain}. TXT "v=spf1 include:spf.protection.outlook.com -all"\n'


RECORDS = (
    'spf.protection.outlook.com. TXT "v=spf1 ip4:40.92.0.0/15 -all"\n'
    + _m365("managed.com.tr", "52.101.1.10")
    + _m365("federated.com.tr", "52.101.1.11")
    + _m365("ghost.com.tr", "52.101.1.12")
    + _m365("outage.com.tr", "52.101.1.13")
    + _m365("closed.com.tr", "52.101.1.14")
    + _m365("twice.com.tr", "52.101.1.15")
    + _m365("quiet.com.tr", "52.101.1.16")
    + "10.1.101.52.in-addr.arpa. PTR mail-am6eur05on2040.outbound.protection.outlook.com.\n"
    + "gmail-like.com.tr. MX 1 aspmx.l.google.com.\naspmx.l.google.com. A 142.250.1.26\n"
    # A company's own mail server in a Natro data centre, its website on the same network.
    + "natro-own.com.tr. MX 10 mail.natro-own.com.tr.\n"
    + "mail.natro-own.com.tr. A 203.0.113.10\n"
    + "natro-own.com.tr. A 203.0.113.20\n"
    + "10.113.0.203.in-addr.arpa. PTR srv10.natrohost.com.\n"
    + "20.113.0.203.in-addr.arpa. PTR web20.natrohost.com.\n"
    # Own server, no telling PTR: only the IP database's AS organisation names the host.
    + "asn-only.com.tr. MX 10 mx.asn-only.com.tr.\n"
    + "mx.asn-only.com.tr. A 198.51.100.7\n"
    # Five exchangers and a website: only HUNTER_HOSTING_ADDRESSES addresses are enriched.
    + "".join(f"many.com.tr. MX {i} mx{i}.many.com.tr.\nmx{i}.many.com.tr. A 192.0.2.{i}\n" for i in range(1, 6))
    + "many.com.tr. A 192.0.2.100\n"
)


@pytest.fixture(scope="module")
def dns(dns_server_factory):
    return dns_server_factory(RECORDS)


@pytest.fixture(scope="module")
def ms():
    with start_standins() as standins:
        identity = standins.identity
        identity.add_domain("managed.com.tr", tenant_id=MANAGED_TENANT, brand="Managed Holding A.Ş.")
        identity.add_domain(
            "federated.com.tr",
            tenant_id=FEDERATED_TENANT,
            brand="Federated Sanayi",
            region_scope="EU",
            federated_sts="sts.federated.com.tr",
        )
        for domain in ("outage.com.tr", "closed.com.tr", "twice.com.tr", "quiet.com.tr"):
            identity.add_domain(domain)
        yield standins


@pytest.fixture
def tls(ms, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(ms.ca_path))
    ms.identity.recon_status = None
    return ms


def settings_for(dns, **overrides: object) -> Settings:
    values: dict[str, object] = dict(
        dns_nameservers=[dns.address], dns_timeout=0.3, dns_attempts=2, dns_domain_budget=3.0, whois_enabled=False
    )
    values.update(overrides)
    return Settings(**values)


def recon_settings(dns, ms, **overrides: object) -> Settings:
    values: dict[str, object] = dict(
        tenant_recon_enabled=True, tenant_recon_url=ms.authority_host, tenant_recon_timeout=3.0, tenant_recon_qps=50
    )
    values.update(overrides)
    return settings_for(dns, **values)


def scan(settings: Settings, *domains: str) -> list[ScanResult]:
    async def run() -> list[ScanResult]:
        scanner = Scanner(settings)
        try:
            return [await scanner.scan_row_text(d) for d in domains]
        finally:
            await scanner.close()

    return aio.run(run())


def scan_one(settings: Settings, domain: str) -> ScanRecord:
    return scan(settings, domain)[0].record


def recon_requests(ms) -> int:
    return ms.identity.stats.recon_discovery + ms.identity.stats.user_realm


# ---------------------------------------------------------------------------------- tenant recon


def test_managed_domain(dns, tls):
    record = scan_one(recon_settings(dns, tls), "managed.com.tr")
    assert record.status is ScanStatus.OK and record.provider == "M365"
    recon = record.tenant_recon
    assert recon is not None
    assert recon.tenant_id == MANAGED_TENANT
    assert recon.region_scope == "EU" and recon.region_sub_scope is None
    assert recon.cloud_instance == "microsoftonline.com"
    assert recon.namespace_type == "Managed" and not recon.federated
    assert recon.federation_brand == "Managed Holding A.Ş."
    assert recon.auth_url_host is None and recon.federation_idp is None
    assert recon.error is None


def test_federated_domain_names_its_ad_fs(dns, tls):
    result = scan(recon_settings(dns, tls), "federated.com.tr")[0]
    recon = result.record.tenant_recon
    assert recon is not None and recon.federated
    assert recon.tenant_id == FEDERATED_TENANT
    assert recon.namespace_type == "Federated"
    assert recon.auth_url_host == "sts.federated.com.tr"
    assert recon.federation_idp == "AD FS"
    assert recon.federation_brand == "Federated Sanayi"
    shown = result_json(result)["tenant_recon"]
    assert shown["namespace_type"] == "Federated" and shown["auth_url_host"] == "sts.federated.com.tr"


def test_unknown_domain_is_aadsts90002_not_a_failure(dns, tls):
    record = scan_one(recon_settings(dns, tls), "ghost.com.tr")
    assert record.status is ScanStatus.OK and record.provider == "M365"
    recon = record.tenant_recon
    assert recon is not None
    assert recon.error == "tenant_not_found"
    assert recon.tenant_id is None and recon.namespace_type == "Unknown"


def test_an_outage_never_fails_the_scan_and_is_not_cached(dns, tls):
    tls.identity.recon_status = 503
    settings = recon_settings(dns, tls)
    record = scan_one(settings, "outage.com.tr")
    assert record.status is ScanStatus.OK and record.provider == "M365"
    assert record.tenant_recon is not None and record.tenant_recon.error == "http_503"
    assert record.tenant_recon.tenant_id is None
    tls.identity.recon_status = None
    again = scan_one(settings, "outage.com.tr")  # the failure was not cached: asked again, answered
    assert again.tenant_recon is not None and again.tenant_recon.error is None
    assert again.tenant_recon.namespace_type == "Managed"


def test_a_stand_in_that_is_not_there_is_unreachable(dns, tls):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket is closed
    record = scan_one(recon_settings(dns, tls, tenant_recon_url=f"https://127.0.0.1:{port}"), "closed.com.tr")
    assert record.status is ScanStatus.OK and record.provider == "M365"
    assert record.tenant_recon is not None and record.tenant_recon.error == "unreachable"


def test_second_scan_is_answered_from_the_cache(dns, tls):
    settings = recon_settings(dns, tls)
    first = scan_one(settings, "twice.com.tr").tenant_recon
    asked = recon_requests(tls)
    second = scan_one(settings, "twice.com.tr").tenant_recon  # a new Scanner: the cache is the process's
    assert recon_requests(tls) == asked
    assert first is not None and second == first and second.namespace_type == "Managed"


def test_disabled_by_default_asks_nothing(dns, tls):
    assert Settings().tenant_recon_enabled is False
    asked = recon_requests(tls)
    record = scan_one(settings_for(dns, tenant_recon_url=tls.authority_host), "quiet.com.tr")
    assert record.provider == "M365" and record.tenant_recon is None
    assert recon_requests(tls) == asked
    scanner_settings = settings_for(dns)

    async def build() -> object:
        scanner = Scanner(scanner_settings)
        try:
            return scanner.recon
        finally:
            await scanner.close()

    assert aio.run(build()) is None


def test_no_recon_where_microsoft_365_is_not_possible(dns, tls):
    asked = recon_requests(tls)
    record = scan_one(recon_settings(dns, tls), "gmail-like.com.tr")
    assert record.provider == "Google" and record.tenant_recon is None
    assert recon_requests(tls) == asked


# ---------------------------------------------------------------------------------- hosting


def write_mmdb(path: Path, database_type: str, networks: dict[str, dict]) -> Path:
    writer = MMDBWriter(ip_version=6, database_type=database_type, ipv4_compatible=True)
    for network, record in networks.items():
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path


@pytest.fixture(scope="module")
def geolite(tmp_path_factory) -> str:
    """A GeoLite2-ASN file and a GeoLite2-City file, read together (comma-separated paths)."""
    directory = tmp_path_factory.mktemp("mmdb")
    asn = write_mmdb(
        directory / "GeoLite2-ASN.mmdb",
        "GeoLite2-ASN",
        {
            "203.0.113.0/24": {
                "autonomous_system_number": 34619,
                "autonomous_system_organization": "Natro Web Hizmetleri",
            },
            "52.96.0.0/12": {
                "autonomous_system_number": 8075,
                "autonomous_system_organization": "MICROSOFT-CORP-MSN-AS-BLOCK",
            },
        },
    )
    city = write_mmdb(
        directory / "GeoLite2-City.mmdb",
        "GeoLite2-City",
        {
            "203.0.113.0/24": {
                "country": {"iso_code": "TR", "names": {"en": "Türkiye"}},
                "city": {"names": {"en": "Istanbul"}},
            },
            "52.96.0.0/12": {"country": {"iso_code": "NL", "names": {"en": "Netherlands"}}},
        },
    )
    return f"{asn},{city}"


@pytest.fixture(scope="module")
def ipinfo_lite(tmp_path_factory) -> str:
    directory = tmp_path_factory.mktemp("ipinfo")
    return str(
        write_mmdb(
            directory / "ipinfo_lite.mmdb",
            "ipinfo_lite.mmdb",
            {
                "198.51.100.0/24": {
                    "asn": "AS42926",
                    "as_name": "Radore Veri Merkezi Hizmetleri A.S.",
                    "as_domain": "radore.com",
                    "country_code": "TR",
                    "country": "Turkey",
                    "continent_code": "EU",
                    "continent": "Europe",
                }
            },
        )
    )


def test_ptr_names_the_host_of_an_own_mail_server_without_a_database(dns):
    record = scan_one(settings_for(dns), "natro-own.com.tr")
    assert record.provider == "Local" and record.local_provider == "Natro"  # the nameservers said nothing
    assert any("PTR srv10.natrohost.com" in e and "Natro" in e for e in record.provider_evidence)
    hosting = record.hosting
    assert hosting is not None and hosting.error is None
    assert [(a.role, a.ip, a.ptr) for a in hosting.addresses] == [
        ("mx", "203.0.113.10", "srv10.natrohost.com"),
        ("apex", "203.0.113.20", "web20.natrohost.com"),
    ]
    assert all(a.asn is None and a.country is None for a in hosting.addresses)
    assert hosting.company == "Natro"
    assert hosting.summary == "mail hosted by Natro; website at Natro"


def test_geolite_asn_and_city_add_asn_org_and_country(dns, geolite):
    result = scan(settings_for(dns, ip_db_path=geolite), "natro-own.com.tr")[0]
    hosting = result.record.hosting
    assert hosting is not None and hosting.error is None
    mail = hosting.addresses[0]
    assert (mail.asn, mail.org, mail.country) == (34619, "Natro Web Hizmetleri", "TR")
    assert hosting.summary == "mail hosted by Natro (AS34619, TR); website at Natro (AS34619, TR)"
    assert result_json(result)["hosting"]["summary"] == hosting.summary


def test_ipinfo_lite_layout_and_the_as_organisation_as_evidence(dns, ipinfo_lite):
    record = scan_one(settings_for(dns, ip_db_path=ipinfo_lite), "asn-only.com.tr")
    assert record.provider == "Local"
    assert record.local_provider == "Radore"  # named by the AS organisation only
    assert any("AS42926 Radore" in e for e in record.provider_evidence)
    mail = record.hosting.addresses[0]
    assert (mail.ip, mail.ptr, mail.asn, mail.country) == ("198.51.100.7", None, 42926, "TR")
    assert record.hosting.summary == "mail hosted by Radore (AS42926, TR)"


def test_big_providers_mx_address_gets_no_ptr_question_but_its_asn(dns, geolite):
    record = scan_one(settings_for(dns, ip_db_path=geolite), "managed.com.tr")
    mail = record.hosting.addresses[0]
    assert mail.role == "mx" and mail.ip == "52.101.1.10"
    assert mail.ptr is None  # the zone has one, but asking it would tell nothing the MX does not
    assert (mail.asn, mail.country) == (8075, "NL")
    assert record.hosting.summary == "mail hosted by Microsoft (AS8075, NL)"
    assert record.provider == "M365" and record.local_provider is None


def test_addresses_are_bounded(dns):
    record = scan_one(settings_for(dns, hosting_addresses=3), "many.com.tr")
    assert [(a.role, a.ip) for a in record.hosting.addresses] == [
        ("mx", "192.0.2.1"),
        ("mx", "192.0.2.2"),
        ("apex", "192.0.2.100"),
    ]
    assert scan_one(settings_for(dns, hosting_addresses=0), "many.com.tr").hosting is None


@pytest.mark.parametrize("kind", ["missing", "corrupt"])
def test_an_unreadable_database_is_an_error_on_the_record_not_a_crash(dns, tmp_path, kind, caplog):
    path = tmp_path / "GeoLite2-ASN.mmdb"
    if kind == "corrupt":
        path.write_bytes(b"\x00not a maxmind database\xff" * 64)
    record = scan_one(settings_for(dns, ip_db_path=str(path)), "natro-own.com.tr")
    assert record.status is ScanStatus.OK
    assert record.hosting is not None
    assert record.hosting.error and str(path) in record.hosting.error
    assert record.hosting.addresses[0].ptr == "srv10.natrohost.com"  # PTR still works
    assert record.local_provider == "Natro"
    assert str(path) in caplog.text  # said once, at start, in the log
    with pytest.raises(hosting_module.IpDatabaseError):
        hosting_module.ip_database(str(path))


# ---------------------------------------------------------------------------------- the command line


def test_hunter_scan_and_lead_show_tenant_and_hosting(dns, tls, geolite, tmp_path):
    """End to end through the CLI: ``hunter scan`` with recon and the IP database on, then ``hunter lead``."""
    env = dict(
        os.environ,
        HUNTER_DATABASE_URL=f"sqlite:///{tmp_path / 'hunter.db'}",
        HUNTER_DNS_NAMESERVERS=dns.address,
        HUNTER_DNS_TIMEOUT="1.0",
        HUNTER_WHOIS_ENABLED="false",
        HUNTER_TENANT_RECON_ENABLED="true",
        HUNTER_TENANT_RECON_URL=tls.authority_host,
        HUNTER_IP_DB_PATH=geolite,
        SSL_CERT_FILE=str(tls.ca_path),
    )

    def hunter(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "shared", *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
        )

    scanned = hunter("scan", "--json", "federated.com.tr", "natro-own.com.tr")
    assert scanned.returncode == 0, scanned.stderr
    lines = [json.loads(line) for line in scanned.stdout.splitlines() if line.startswith("{")]
    by_domain = {line["domain"]: line for line in lines}
    assert by_domain["federated.com.tr"]["tenant_recon"]["namespace_type"] == "Federated"
    assert by_domain["natro-own.com.tr"]["hosting"]["company"] == "Natro"
    shown = hunter("lead", "federated.com.tr", "--lang", "en")
    assert shown.returncode == 0, shown.stderr
    assert f"Tenant: {FEDERATED_TENANT} · EU · Federated · AD FS (sts.federated.com.tr)" in shown.stdout
    assert "Entra ID cloud authentication" in shown.stdout
    hosted = hunter("lead", "natro-own.com.tr", "--json")
    assert json.loads(hosted.stdout)["hosting"]["summary"].startswith("mail hosted by Natro (AS34619, TR)")


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_recon_is_cached_in_redis_and_rate_limited_for_all_workers(tls, tmp_path):
    from shared.integrations.tenant_recon import TenantReconClient
    from shared.redis.cache import RedisCache
    from shared.redis.connection import RedisConnection
    from shared.redis.limits import AsyncLimiter, RedisBuckets
    from tests.integration.test_redis import RedisServer

    server = RedisServer(tmp_path)
    prefix = f"test:{uuid.uuid4().hex[:10]}:"
    connection = RedisConnection(server.url, timeout=2)
    cache = RedisCache(connection, "tenant-recon", prefix=prefix)
    buckets = RedisBuckets(connection, prefix=prefix)
    base = tls.authority_host

    async def run() -> tuple[list, list, int, int]:
        limiter = AsyncLimiter(buckets, "tenant-recon", 0.1, capacity=2, max_batch=1)
        client = TenantReconClient(base_url=base, timeout=2, cache=cache, cache_ttl=60, limiter=limiter)
        first = [await client.recon(d) for d in ("managed.com.tr", "federated.com.tr", "quiet.com.tr")]
        await client.close()
        asked = recon_requests(tls)
        again = TenantReconClient(base_url=base, timeout=2, cache=cache, cache_ttl=60)  # another worker
        second = [await again.recon("managed.com.tr"), await again.recon("federated.com.tr")]
        await again.close()
        return first, second, asked, recon_requests(tls)

    try:
        first, second, asked, after = aio.run(run())
        ttl = server.client().pttl(f"{prefix}tenant-recon:{base}|managed.com.tr")
    finally:
        server.stop()
    assert first[0].tenant_id == MANAGED_TENANT and first[1].federated
    assert first[2].error == "rate_limited"  # a burst of 2, then one per 10 s: no turn within the wait allowed
    assert second == first[:2] and after == asked  # the other worker was answered from Redis
    assert 0 < ttl <= 60_000
