"""E-mail tools against the loopback DNS server: ``POST /v1/email/validate``, ``GET /v1/leads/{domain}/emails``
and ``hunter email validate``. Only DNS is asked (the test server sees every question); nothing
connects to a mail server."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from shared import aio
from shared.cli.main import main
from shared.config import Settings
from shared.core.inputs import InputRow
from shared.http.dispatch import dispatch
from shared.http.types import HttpRequest
from shared.runtime import Runtime, set_runtime
from shared.scan.pipeline import run_pipeline
from shared.services.after_scan import AfterScan
from tests.integration.zones import RECORDS

EXTRA = """
xn--irket-idb.com.tr. MX 10 mx.xn--irket-idb.com.tr.
gmail.com. MX 5 gmail-smtp-in.l.google.com.
mailinator.com. MX 10 mail.mailinator.com.
v6only.com.tr. AAAA 2001:db8::25
txtonly.com.tr. TXT "v=spf1 -all"
"""


@pytest.fixture
def world(tmp_path, dns_server_factory, monkeypatch):
    dns = dns_server_factory(RECORDS + EXTRA)
    database_url = f"sqlite:///{tmp_path / 'hunter.db'}"
    for name, value in {
        "HUNTER_DATABASE_URL": database_url,
        "HUNTER_DNS_NAMESERVERS": dns.address,
        "HUNTER_DNS_TIMEOUT": "0.2",
        "HUNTER_DNS_ATTEMPTS": "1",
        "HUNTER_DNS_DOMAIN_BUDGET": "1.0",
        "HUNTER_WHOIS_ENABLED": "false",
        "HUNTER_CACHE_DNS_TTL": "0",  # every test asks the server afresh
    }.items():
        monkeypatch.setenv(name, value)
    from shared.config import get_settings

    get_settings.cache_clear()
    settings = Settings(
        database_url=database_url,
        dns_nameservers=[dns.address],
        dns_timeout=0.2,
        dns_attempts=1,
        dns_domain_budget=1.0,
        whois_enabled=False,
        cache_dns_ttl=0,
    )
    runtime = Runtime(settings)
    set_runtime(runtime)
    rows = [InputRow("m365.com.tr", "Işık A.Ş."), InputRow("nullmx.com"), InputRow("şirket.com.tr")]
    aio.run(run_pipeline(rows, settings, AfterScan(runtime)))
    keys = {scope: runtime.keys.create(f"k-{scope}", [scope])[0] for scope in ("read", "scan")}
    yield runtime, keys
    set_runtime(None)
    get_settings.cache_clear()


def _validate(runtime: Runtime, key: str, body: bytes):
    headers = {"x-api-key": key, "content-type": "application/json"}
    return dispatch(HttpRequest("POST", "/v1/email/validate", headers=headers, body=body), runtime)


def _results(runtime: Runtime, key: str, emails: list[str]) -> dict[str, dict]:
    response = _validate(runtime, key, json.dumps({"emails": emails}).encode())
    assert response.status == 200, response.body_bytes()
    results = json.loads(response.body_bytes())["results"]
    assert [r["email"] for r in results] == emails  # input order, one each
    return {r["email"]: r for r in results}


FIELDS = {"email", "normalized", "valid_syntax", "domain", "deliverable", "free_mail", "role_account", "disposable"}


def test_deliverability_follows_the_domains_mail_dns(world):
    runtime, keys = world
    got = _results(
        runtime,
        keys["scan"],
        [
            "ali.veli@m365.com.tr",
            "info@nomx.com",  # no MX, an A record: the implicit MX (RFC 5321 §5.1)
            "x@v6only.com.tr",  # no MX, an AAAA record
            "satis@nullmx.com",  # "0 ." (RFC 7505)
            "someone@yok-boyle-bir-firma.com.tr",  # NXDOMAIN
            "someone@txtonly.com.tr",  # exists, no MX, no address
            "someone@slow.com",  # the server drops it: a timeout
            "someone@broken.com",  # SERVFAIL
        ],
    )
    expected = {
        "ali.veli@m365.com.tr": (True, "mx"),
        "info@nomx.com": (True, "a_fallback"),
        "x@v6only.com.tr": (True, "a_fallback"),
        "satis@nullmx.com": (False, "null_mx"),
        "someone@yok-boyle-bir-firma.com.tr": (False, "nxdomain"),
        "someone@txtonly.com.tr": (False, "no_mail_host"),
        "someone@slow.com": (None, "dns_unanswered"),
        "someone@broken.com": (None, "dns_unanswered"),
    }
    for email, (deliverable, reason) in expected.items():
        assert FIELDS | {"reason"} <= set(got[email]), got[email]
        assert (got[email]["deliverable"], got[email]["reason"]) == (deliverable, reason), email
        assert got[email]["valid_syntax"] is True and got[email]["detail"]


def test_syntax_normalisation_idn_and_flags(world):
    runtime, keys = world
    got = _results(
        runtime,
        keys["scan"],
        [
            "Info@M365.COM.TR",
            "Ali.Veli@M365.COM.TR",
            "çağrı@şirket.com.tr",
            "İletişim@şirket.com.tr",
            "ayse.usta@gmail.com",
            "temp123@mailinator.com",
            "not-an-address",
            "two@@signs.com",
            "",
            "a" * 2000 + "@m365.com.tr",
            "muhasebe+fatura@m365.com.tr",
        ],
    )
    info = got["Info@M365.COM.TR"]
    assert info["normalized"] == "info@m365.com.tr" and info["domain"] == "m365.com.tr"
    assert got["Ali.Veli@M365.COM.TR"]["normalized"] == "Ali.Veli@m365.com.tr"  # a person's local part as written
    assert got["Ali.Veli@M365.COM.TR"]["role_account"] is False
    assert info["role_account"] is True and info["free_mail"] is False and info["deliverable"] is True

    idn = got["çağrı@şirket.com.tr"]
    assert idn["valid_syntax"] is True and idn["normalized"] == "çağrı@şirket.com.tr"
    assert idn["domain"] == "xn--irket-idb.com.tr" and idn["domain_unicode"] == "şirket.com.tr"
    assert idn["deliverable"] is True and idn["role_account"] is False
    assert got["İletişim@şirket.com.tr"]["role_account"] is True  # Turkish capital İ folds to i

    gmail = got["ayse.usta@gmail.com"]
    assert gmail["free_mail"] is True and gmail["role_account"] is False and gmail["disposable"] is False
    temp = got["temp123@mailinator.com"]
    assert temp["disposable"] is True and temp["free_mail"] is False and temp["deliverable"] is True

    for bad in ("not-an-address", "two@@signs.com", "", "a" * 2000 + "@m365.com.tr"):
        item = got[bad]
        assert item["valid_syntax"] is False and item["reason"] == "invalid_syntax", bad
        assert item["normalized"] is None and item["deliverable"] is None and item["detail"]
    assert got["muhasebe+fatura@m365.com.tr"]["role_account"] is True


def test_each_domain_is_asked_once(world, monkeypatch):
    runtime, keys = world
    from shared.dns.client import DnsClient

    asked: list[tuple[str, str]] = []
    original = DnsClient.query

    async def counting(self, name, rdtype, **kwargs):
        asked.append((name, rdtype))
        return await original(self, name, rdtype, **kwargs)

    monkeypatch.setattr(DnsClient, "query", counting)
    emails = [f"user{i}@m365.com.tr" for i in range(200)] + [f"u{i}@nomx.com" for i in range(50)]
    got = _results(runtime, keys["scan"], emails)
    assert all(item["deliverable"] for item in got.values())
    assert asked.count(("m365.com.tr", "MX")) == 1
    assert asked.count(("nomx.com", "MX")) == 1 and asked.count(("nomx.com", "A")) == 1


def test_limits_and_problems(world):
    runtime, keys = world
    too_many = _validate(runtime, keys["scan"], json.dumps({"emails": ["a@b.com"] * 1001}).encode())
    assert too_many.status == 422 and too_many.headers["Content-Type"] == "application/problem+json"
    assert json.loads(too_many.body_bytes())["errors"][0]["field"] == "emails"
    assert _results(runtime, keys["scan"], ["x@nomx.com"] * 1000)  # exactly 1,000 is fine
    for body, status in (
        (b"{not json", 400),
        (b"", 400),
        (json.dumps({"emails": []}).encode(), 422),
        (json.dumps({"emails": "a@b.com"}).encode(), 422),
        (json.dumps({"emails": [1, 2]}).encode(), 422),
        (json.dumps({"emails": ["a@b.com"], "smtp": True}).encode(), 422),
    ):
        problem = _validate(runtime, keys["scan"], body)
        assert problem.status == status, body
        assert problem.headers["Content-Type"] == "application/problem+json"
    forbidden = _validate(runtime, keys["read"], json.dumps({"emails": ["a@b.com"]}).encode())
    assert forbidden.status == 403


def test_a_leads_role_addresses_ranked_with_its_deliverability(world):
    runtime, keys = world

    def get(domain: str):
        return dispatch(HttpRequest("GET", f"/v1/leads/{domain}/emails", headers={"x-api-key": keys["read"]}), runtime)

    response = get("m365.com.tr")
    assert response.status == 200, response.body_bytes()
    body = json.loads(response.body_bytes())
    assert body["domain"] == "m365.com.tr" and body["deliverable"] is True and body["reason"] == "mx"
    emails = [item["email"] for item in body["addresses"]]
    for local in ("info", "iletisim", "satis", "sales", "bilgi", "destek"):
        assert f"{local}@m365.com.tr" in emails
    assert emails[:2] == ["info@m365.com.tr", "iletisim@m365.com.tr"]
    assert [item["rank"] for item in body["addresses"]] == list(range(1, len(emails) + 1))
    assert all(item["deliverable"] is True and item["note_tr"] for item in body["addresses"])

    assert body["domain_unicode"] is None and body["addresses"][0]["email_unicode"] is None
    idn = json.loads(get("şirket.com.tr").body_bytes())
    assert idn["domain"] == "xn--irket-idb.com.tr" and idn["domain_unicode"] == "şirket.com.tr"
    assert idn["deliverable"] is True
    assert (idn["addresses"][1]["email"], idn["addresses"][1]["email_unicode"]) == (
        "iletisim@xn--irket-idb.com.tr",
        "iletisim@şirket.com.tr",
    )

    nullmx = json.loads(get("nullmx.com").body_bytes())
    assert nullmx["deliverable"] is False and nullmx["reason"] == "null_mx"
    missing = get("unknown.com.tr")
    assert missing.status == 404 and missing.headers["Content-Type"] == "application/problem+json"


def test_cli_table_json_and_file(world, tmp_path):
    runtime, _ = world
    result = CliRunner().invoke(main, ["email", "validate", "info@m365.com.tr", "x@gmail.com", "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [(i["email"], i["deliverable"], i["role_account"]) for i in lines] == [
        ("info@m365.com.tr", True, True),
        ("x@gmail.com", True, False),
    ]
    listing = tmp_path / "list.csv"
    listing.write_text(
        "firma;e-posta\n" + "".join(f"Firma {i};kisi{i}@m365.com.tr\n" for i in range(60)) + "X;bozuk\n",
        encoding="utf-8",
    )
    table = CliRunner().invoke(main, ["email", "validate", "--input", str(listing)])
    assert table.exit_code == 0, table.output
    assert "kisi0@m365.com.tr" in table.stdout and "61 addresses" in table.output
    assert CliRunner().invoke(main, ["email", "validate"]).exit_code != 0


def test_one_calls_dns_work_is_bounded(world, monkeypatch):
    """640 distinct domains that never answer: unknown (null) within the call's budget, not 640 timeouts in turn."""
    import time

    from shared.services import email_tools

    runtime, keys = world
    monkeypatch.setattr(email_tools, "CALL_BUDGET", 0.3)
    started = time.monotonic()
    got = _results(runtime, keys["scan"], [f"x@d{i}.slow.com" for i in range(640)])
    assert time.monotonic() - started < 2.5
    assert {(item["deliverable"], item["reason"]) for item in got.values()} == {(None, "dns_unanswered")}


def test_the_cli_has_no_overall_time_cap(world, monkeypatch):
    from shared.services import email_tools

    monkeypatch.setattr(email_tools, "CALL_BUDGET", 0.0)  # the API would answer "unknown" for everything
    result = CliRunner().invoke(main, ["email", "validate", "info@m365.com.tr", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["deliverable"] is True
