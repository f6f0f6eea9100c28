"""Browser fixtures: ``hunter serve`` (with a queue worker) on a seeded SQLite database, keys of each
scope, the HTTPS stand-ins for Microsoft identity, Dataverse and Partner Center (signed in, with a few
referrals waiting), and Debian's Chromium driven by Playwright. Every page fails its test on a console
error, and a failing test leaves a full-page screenshot in ``tests/browser/artifacts/``."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from devtools.api_server import start_api_server
from devtools.msstandins import make_referral, start_standins
from shared import aio
from shared.config import Settings
from shared.core.inputs import InputRow
from shared.scan.pipeline import run_pipeline
from shared.store.db import engine_for
from shared.store.keys import ApiKeyStore
from shared.store.leads import LeadStore
from tests.integration.zones import RECORDS

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).with_name("artifacts")
SEED = [
    ("m365.com.tr", "M365 Bilişim A.Ş."),
    ("google.com.tr", "Gökyüzü Yazılım Ltd. Şti."),
    ("gw.com.tr", "Çağrı Lojistik"),
    ("godaddy.com.tr", "Şişli İnşaat"),
    ("own.com.tr", "Öztürk Gıda"),
    ("newmx.com", "Ilıca Turizm"),
    ("pp.com", None),
    ("nomx.com", None),
]


@pytest.fixture(scope="module")
def ms() -> Iterator[Any]:
    """The stand-ins, with the custom lead columns and option sets the bundled D365 mapping writes."""
    from shared.integrations.d365.mapping import BUNDLED

    with start_standins(d365_mapping=BUNDLED) as standins:
        yield standins


def _seed_referrals(ms: Any) -> None:
    """Three referrals waiting in Partner Center: a co-sell for a known lead, one whose only contact
    uses free mail (``domain_missing``) and one for a company Hunter has not scanned yet."""
    add = ms.referrals.add_referral
    add(
        make_referral(
            customer_name="M365 Bilişim A.Ş.",
            contact_email="bt@m365.com.tr",
            referral_type="Shared",
            status="Active",
            substatus="Accepted",
            deal_value=25000,
        )
    )
    add(make_referral(customer_name="Ayşe Usta Pastanesi", contact_email="ayse.usta@gmail.com", deal_value=None))
    add(make_referral(customer_name="Öztürk Gıda", contact_email="satis@own.com.tr", status="New"))  # fmt: skip


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, dns_server_factory, ms) -> Iterator[dict[str, Any]]:
    dns = dns_server_factory(RECORDS)
    db_url = f"sqlite:///{tmp_path_factory.mktemp('web') / 'hunter.db'}"
    env = {
        "HUNTER_DATABASE_URL": db_url,
        "HUNTER_DNS_NAMESERVERS": dns.address,
        "HUNTER_DNS_TIMEOUT": "0.3",
        "HUNTER_WHOIS_ENABLED": "false",
        "HUNTER_AUTHORITY_HOST": ms.authority_host,
        "HUNTER_TOKEN_CACHE_KEY": Fernet.generate_key().decode(),
        "HUNTER_D365_ENABLED": "true",
        "HUNTER_D365_URL": ms.dataverse_url,
        "HUNTER_D365_TENANT_ID": ms.tenant_id,
        "HUNTER_D365_CLIENT_ID": ms.confidential_client_id,
        "HUNTER_D365_CLIENT_SECRET": ms.confidential_client_secret,
        "HUNTER_PARTNER_CENTER_ENABLED": "true",
        "HUNTER_PC_API_URL": ms.partner_center_url,
        "HUNTER_PC_TENANT_ID": ms.tenant_id,
        "HUNTER_PC_CLIENT_ID": ms.public_client_id,
        "HUNTER_PC_SYNC_SCHEDULE": "0 0 0 1 1 *",  # only "sync now" runs it during the tests
        "SSL_CERT_FILE": str(ms.ca_path),
    }
    settings = Settings(**{k.removeprefix("HUNTER_").lower(): v for k, v in env.items() if k.startswith("HUNTER_")})
    engine = engine_for(db_url)
    aio.run(run_pipeline((InputRow(d, c) for d, c in SEED), settings, LeadStore(engine)))
    _sign_in_to_partner_center(ms, settings, engine)
    _seed_referrals(ms)
    store = ApiKeyStore(engine_for(db_url))
    keys = {
        "read": store.create("okuyucu", ["read"], rate_limit_per_minute=100_000)[0],
        "scan": store.create("satış-ekibi", ["scan"], rate_limit_per_minute=100_000)[0],
        "admin": store.create("yönetici", ["admin"], rate_limit_per_minute=100_000)[0],
    }
    log = (tmp_path_factory.mktemp("web-server") / "server.log").open("wb")
    server, base = start_api_server(env, queue_workers=1, log=log)
    yield {"base": base, "origin": base.removesuffix("/api"), "app": f"{base}/ui/", "keys": keys, "ms": ms}
    server.terminate()
    server.wait(timeout=10)
    log.close()


def _sign_in_to_partner_center(ms: Any, settings: Settings, engine: Any) -> None:
    """What `hunter pc login` does, in process: a device code that a person approves."""
    from shared.integrations.partner_center import auth

    ms.identity.device_code_interval = 1
    previous = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = str(ms.ca_path)  # the stand-ins' test CA, for MSAL in this process
    try:
        flow = auth.start_device_flow(settings, engine)
        ms.identity.approve_device_code(flow["user_code"], "seller@contoso.com")
        assert auth.complete_device_flow(settings, engine, flow)
    finally:
        if previous is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = previous


@pytest.fixture(scope="module")
def browser(web) -> Iterator[Any]:
    """Module-scoped on purpose: Playwright's sync API runs an event loop in this thread while it is open,
    and the next test file on the same xdist worker calls asyncio.run(). (Set up after ``web``, which seeds
    the database with asyncio.run too.)"""
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


class ConsoleErrors(list):
    """Console errors of a page. Chromium logs every 4xx answer as one; a test that provokes one on
    purpose (a bad key, an unknown lead) names its status with ``expect_http_error``."""

    def __init__(self) -> None:
        super().__init__()
        self.expected: set[int] = set()

    def check(self) -> None:
        unexpected = [m for m in self if not any(f"status of {status} " in m for status in self.expected)]
        assert not unexpected, f"console errors: {unexpected}"


@pytest.fixture
def page(browser, web, request) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="tr-TR", accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=web["origin"])
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors = ConsoleErrors()
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    external: list[str] = []
    page.on(
        "request",
        lambda req: None if req.url.startswith((web["origin"], "data:", "blob:")) else external.append(req.url),
    )
    page.expect_http_error = errors.expected.add
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{int(time.time())}.png"), full_page=True)
    missing = page.evaluate("window.hunterMissingTexts || []")
    context.close()
    if report is not None and report.passed:
        assert not external, f"third-party requests: {external}"
        errors.check()
        assert not missing, f"labels without a text: {missing}"


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
