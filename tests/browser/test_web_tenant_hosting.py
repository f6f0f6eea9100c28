"""The lead detail shows Microsoft 365 tenant recon (tenant id, region, managed or federated sign-in)
and hosting (PTR names, ASN, organisation, country), in Turkish and English, in Chromium.

Its own ``web`` fixture (overriding the shared one): leads scanned with tenant recon on against the
identity stand-in and with an IP database these tests write, then ``hunter serve``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet
from playwright.sync_api import expect

from devtools.api_server import start_api_server
from shared import aio
from shared.config import Settings
from shared.core.inputs import InputRow
from shared.scan.pipeline import run_pipeline
from shared.store.db import engine_for
from shared.store.keys import ApiKeyStore
from shared.store.leads import LeadStore

# Full-page screenshots, as in test_web_app.py (HUNTER_SCREENSHOTS=docs/screenshots refreshes committed ones).
SCREENSHOTS = Path(os.environ.get("HUNTER_SCREENSHOTS") or Path(__file__).with_name("artifacts") / "screens")
TENANT = "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a"
RECORDS = """
federe.com.tr. MX 0 federe-com-tr.mail.protection.outlook.com.
federe-com-tr.mail.protection.outlook.com. A 52.101.2.10
federe.com.tr. TXT "v=spf1 include:spf.protection.outlook.com -all"
spf.protection.outlook.com. TXT "v=spf1 ip4:40.92.0.0/15 -all"
natrolu.com.tr. MX 10 mail.natrolu.com.tr.
mail.natrolu.com.tr. A 203.0.113.10
natrolu.com.tr. A 203.0.113.20
10.113.0.203.in-addr.arpa. PTR srv10.natrohost.com.
20.113.0.203.in-addr.arpa. PTR web20.natrohost.com.
"""


def _mmdb(path: Any) -> str:
    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-ASN", ipv4_compatible=True)
    writer.insert_network(
        IPSet(["203.0.113.0/24"]),
        {"autonomous_system_number": 34619, "autonomous_system_organization": "Natro Web Hizmetleri"},
    )
    writer.to_db_file(str(path))
    city = path.with_name("GeoLite2-City.mmdb")
    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-City", ipv4_compatible=True)
    writer.insert_network(IPSet(["203.0.113.0/24"]), {"country": {"iso_code": "TR"}})
    writer.to_db_file(str(city))
    return f"{path},{city}"


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, dns_server_factory, ms) -> Iterator[dict[str, Any]]:
    ms.identity.add_domain("federe.com.tr", tenant_id=TENANT, brand="Federe Sanayi", federated_sts="sts.federe.com.tr")
    dns = dns_server_factory(RECORDS)
    directory = tmp_path_factory.mktemp("web-recon")
    db_url = f"sqlite:///{directory / 'hunter.db'}"
    env = {
        "HUNTER_DATABASE_URL": db_url,
        "HUNTER_DNS_NAMESERVERS": dns.address,
        "HUNTER_DNS_TIMEOUT": "0.3",
        "HUNTER_WHOIS_ENABLED": "false",
        "HUNTER_TENANT_RECON_ENABLED": "true",
        "HUNTER_TENANT_RECON_URL": ms.authority_host,
        "HUNTER_IP_DB_PATH": _mmdb(directory / "GeoLite2-ASN.mmdb"),
        "SSL_CERT_FILE": str(ms.ca_path),
    }
    settings = Settings(**{k.removeprefix("HUNTER_").lower(): v for k, v in env.items() if k.startswith("HUNTER_")})
    previous = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = str(ms.ca_path)  # the recon's HTTPS client trusts the stand-ins' test CA
    try:
        rows = [InputRow("federe.com.tr", "Federe Sanayi A.Ş."), InputRow("natrolu.com.tr", "Natrolu Gıda")]
        aio.run(run_pipeline(rows, settings, LeadStore(engine_for(db_url))))
    finally:
        if previous is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = previous
    keys = {"read": ApiKeyStore(engine_for(db_url)).create("okuyucu", ["read"], rate_limit_per_minute=100_000)[0]}
    log = (directory / "server.log").open("wb")
    server, base = start_api_server(env, queue_workers=0, log=log)
    yield {"base": base, "origin": base.removesuffix("/api"), "app": f"{base}/ui/", "keys": keys, "ms": ms}
    server.terminate()
    server.wait(timeout=10)
    log.close()


def sign_in(page, web, route: str) -> None:
    page.goto(f"{web['app']}{route}")
    page.fill("input[name=api_key]", web["keys"]["read"])
    page.click("form.signin button[type=submit]")
    expect(page.locator("#topbar")).to_be_visible()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_federated_tenant_box_in_both_languages(page, web):
    sign_in(page, web, "#/leads/federe.com.tr")
    box = page.locator("section", has=page.get_by_role("heading", name="Microsoft 365 kiracısı (Entra ID)"))
    expect(box.locator("code.tenant-id")).to_have_text(TENANT)
    expect(box).to_contain_text("EU")
    expect(box.locator(".signin-federated")).to_have_text("Federe: AD FS (sts.federe.com.tr)")
    expect(box).to_contain_text("Federe Sanayi")
    expect(box).to_contain_text("Entra ID bulut kimlik doğrulamasına")
    summary = page.locator(".summary-body")
    expect(summary).to_contain_text("AD FS (sts.federe.com.tr)")
    shot(page, "lead-tenant-recon-tr")
    page.get_by_role("button", name="Switch to English").click()
    box = page.locator("section", has=page.get_by_role("heading", name="Microsoft 365 tenant (Entra ID)"))
    expect(box.locator(".signin-federated")).to_have_text("Federated: AD FS (sts.federe.com.tr)")
    expect(box).to_contain_text("Entra ID cloud authentication")


def test_hosting_line_names_the_host_asn_and_country(page, web):
    sign_in(page, web, "#/leads/natrolu.com.tr")
    evidence = page.locator("section", has=page.get_by_role("heading", name="Kanıtlar", exact=True))
    hosting = evidence.locator("ul.hosting")
    expect(hosting.locator("li").first).to_have_text("e-posta: Natro (AS34619, TR)")
    expect(hosting.locator("li").nth(1)).to_have_text("web sitesi: Natro (AS34619, TR)")
    expect(evidence).to_contain_text("Natro")  # the local host the PTR named
    shot(page, "lead-hosting-tr")
    expect(page.get_by_role("heading", name="Microsoft 365 kiracısı (Entra ID)")).to_have_count(0)  # no M365, no recon
