"""The PDF lead report: real PDFs read back with poppler (pdftotext, pdfinfo, pdftoppm), from the API
(one lead and the call-list batch), from ``hunter lead --pdf``, and from the same explaining service
the lead screen uses."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from shared import __version__, aio
from shared.cli.main import main
from shared.config import Settings
from shared.core.inputs import InputRow
from shared.http.dispatch import dispatch
from shared.http.types import HttpRequest
from shared.runtime import Runtime, set_runtime
from shared.scan.pipeline import run_pipeline
from shared.services.after_scan import AfterScan
from tests.integration.zones import RECORDS


@pytest.fixture(autouse=True, scope="module")
def _poppler() -> None:
    """Fails (never skips) without poppler-utils: the PDFs must be read back (scripts/setup installs it)."""
    missing = [tool for tool in ("pdftotext", "pdfinfo", "pdftoppm") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"poppler-utils is not installed ({', '.join(missing)} missing): run scripts/setup")


HOSTILE = "\u202eŞirket\x00\x07 " + "Çok-uzun-bir-şirket-adı-" * 40 + " 😀🧪\U000e0041\ufeff İĞŞÇÖÜ ığşçöü " + "x" * 500
SEED = [
    ("m365.com.tr", "Işıklı Bilişim ve Güvenlik A.Ş."),
    ("google.com.tr", "Gökyüzü Yazılım Ltd. Şti."),
    ("gw.com.tr", HOSTILE),
    ("godaddy.com.tr", "Şişli İnşaat"),
    ("own.com.tr", "Öztürk Gıda"),
]


@pytest.fixture
def world(database_url, dns_server_factory):
    dns = dns_server_factory(RECORDS)
    settings = Settings(database_url=database_url, dns_nameservers=[dns.address], dns_timeout=0.3, whois_enabled=False)
    runtime = Runtime(settings)
    set_runtime(runtime)
    aio.run(run_pipeline([InputRow(d, c) for d, c in SEED], settings, AfterScan(runtime)))
    key = runtime.keys.create("reader", ["read"])[0]
    yield runtime, key
    set_runtime(None)


def _get(runtime: Runtime, key: str, path: str, **query: str):
    request = HttpRequest("GET", path, query={k: [v] for k, v in query.items()}, headers={"x-api-key": key})
    return dispatch(request, runtime)


def _post(runtime: Runtime, key: str, path: str, body: bytes):
    headers = {"x-api-key": key, "content-type": "application/json"}
    return dispatch(HttpRequest("POST", path, headers=headers, body=body), runtime)


def _pdf_text(pdf: bytes, tmp_path: Path, name: str = "report") -> tuple[str, int]:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, timeout=30)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, timeout=30, text=True)
    pages = int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))
    assert "A4" in info.stdout or "595.28 x 841.89" in info.stdout
    return text.stdout.decode("utf-8"), pages


def test_one_lead_is_one_a4_page_with_score_priority_and_turkish_letters(world, tmp_path):
    runtime, key = world
    response = _get(runtime, key, "/v1/leads/m365.com.tr/report.pdf")
    assert response.status == 200, response.body_bytes()[:500]
    assert response.headers["Content-Type"] == "application/pdf"
    assert 'filename="hunter-m365.com.tr.pdf"' in response.headers["Content-Disposition"]
    text, pages = _pdf_text(response.body_bytes(), tmp_path)
    assert pages == 1
    detail = json.loads(_get(runtime, key, "/v1/leads/m365.com.tr").body_bytes())
    lead = detail["lead"]
    assert "m365.com.tr" in text
    assert "Işıklı Bilişim ve Güvenlik A.Ş." in text  # ş ı ğ İ survive pdftotext
    assert "MÜŞTERİ ADAYI RAPORU" in text and "Satış özeti" in text and "Keşif soruları" in text
    assert re.search(rf"\b{lead['score']}\b", text)
    assert lead["priority_category"] in text
    assert f"Hunter {__version__}" in text
    # the same explanation as the screen: the Turkish sales summary's one-liner and the breakdown's points
    summary = json.loads(_get(runtime, key, "/v1/leads/m365.com.tr/sales-summary", lang="tr").body_bytes())
    flat = " ".join(text.split())
    assert " ".join(summary["one_liner"].split())[:60] in flat
    for item in detail["breakdown"]:
        assert f"{item['points']:+d}" in text
    assert "M365" in text and "reject" in text  # provider and DMARC in the evidence table


def test_english_report_and_a_bad_language_or_unknown_lead_are_problems(world, tmp_path):
    runtime, key = world
    response = _get(runtime, key, "/v1/leads/google.com.tr/report.pdf", lang="en")
    assert response.status == 200
    text, pages = _pdf_text(response.body_bytes(), tmp_path)
    assert pages == 1 and "LEAD REPORT" in text and "Discovery questions" in text and "Google" in text
    bad = _get(runtime, key, "/v1/leads/google.com.tr/report.pdf", lang="de")
    assert bad.status == 422 and bad.headers["Content-Type"] == "application/problem+json"
    assert json.loads(bad.body_bytes())["errors"][0]["field"] == "lang"
    missing = _get(runtime, key, "/v1/leads/unknown.com.tr/report.pdf")
    assert missing.status == 404 and missing.headers["Content-Type"] == "application/problem+json"
    assert json.loads(missing.body_bytes())["title"] == "Lead not found"
    invalid = _get(runtime, key, "/v1/leads/not a domain/report.pdf")
    assert invalid.status == 422
    assert _get(runtime, "wrong-key", "/v1/leads/m365.com.tr/report.pdf").status == 401


def test_a_long_hostile_company_name_is_cut_not_crashed(world, tmp_path):
    runtime, key = world
    response = _get(runtime, key, "/v1/leads/gw.com.tr/report.pdf")
    assert response.status == 200
    text, pages = _pdf_text(response.body_bytes(), tmp_path)
    assert pages == 1
    assert "gw.com.tr" in text and "Çok-uzun-bir-şirket-adı" in text
    assert "\x00" not in text and "\u202e" not in text
    assert "x" * 400 not in text  # cut to the space it has


def _add_history(runtime: Runtime, domain: str, count: int) -> None:
    from sqlalchemy import insert, select

    from shared.store.models import ChangeEventRow, DomainRow

    now = datetime.now(UTC)
    with runtime.engine.begin() as connection:
        domain_id = connection.scalar(select(DomainRow.id).where(DomainRow.name == domain))
        connection.execute(
            insert(ChangeEventRow),
            [
                {
                    "domain_id": domain_id,
                    "domain": domain,
                    "kind": "dmarc_policy",
                    "before": "none",
                    "after": "quarantine",
                    "summary": f"Değişiklik {i}: DMARC politikası none → quarantine ({'ş' * 30})",
                    "meaning": None,
                    "at": now - timedelta(days=i),
                }
                for i in range(count)
            ],
        )


def test_a_long_history_takes_at_most_three_pages(world, tmp_path):
    runtime, key = world
    _add_history(runtime, "own.com.tr", 400)
    from shared.services import reports

    response = _get(runtime, key, "/v1/leads/own.com.tr/report.pdf")
    assert response.status == 200
    text, pages = _pdf_text(response.body_bytes(), tmp_path)
    assert 1 < pages <= 3
    assert "Değişiklik 0:" in text  # newest first
    assert "değişiklik daha" in text  # the rest is named, not printed
    assert reports.REPORT_CHANGES <= 400


def test_the_batch_has_one_section_per_lead_in_call_order(world, tmp_path):
    runtime, key = world
    response = _post(runtime, key, "/v1/leads/report.pdf", json.dumps({"lang": "en"}).encode())
    assert response.status == 200, response.body_bytes()[:500]
    assert response.headers["X-Hunter-Leads"] == str(len(SEED))
    text, pages = _pdf_text(response.body_bytes(), tmp_path)
    assert pages == len(SEED)  # one page each
    listed = json.loads(_get(runtime, key, "/v1/leads").body_bytes())["items"]
    positions = [text.index(f"{row['domain']}\n") for row in listed]
    assert positions == sorted(positions)  # the list's default order (-priority)

    filtered = _post(runtime, key, "/v1/leads/report.pdf", json.dumps({"provider": ["Google"]}).encode())
    text, pages = _pdf_text(filtered.body_bytes(), tmp_path, "filtered")
    assert pages == 1 and "google.com.tr" in text and "m365.com.tr" not in text

    two = _post(runtime, key, "/v1/leads/report.pdf", json.dumps({"limit": 2}).encode())
    assert two.headers["X-Hunter-Leads"] == "2" and _pdf_text(two.body_bytes(), tmp_path, "two")[1] == 2

    for body, status in (
        (json.dumps({"limit": 51}).encode(), 422),  # more than 50 asked for explicitly
        (json.dumps({"priority": ["P9"]}).encode(), 422),
        (json.dumps({"colour": "red"}).encode(), 422),
        (b"{not json", 400),
    ):
        problem = _post(runtime, key, "/v1/leads/report.pdf", body)
        assert problem.status == status and problem.headers["Content-Type"] == "application/problem+json"

    none = _post(runtime, key, "/v1/leads/report.pdf", json.dumps({"q": "nothing-matches"}).encode())
    assert none.status == 200 and none.headers["X-Hunter-Leads"] == "0"


def test_cli_writes_the_same_report(world, tmp_path):
    runtime, _ = world
    target = tmp_path / "cli.pdf"
    result = CliRunner().invoke(
        main, ["lead", "m365.com.tr", "--pdf", str(target), "--lang", "en", "--db", runtime.settings.database_url]
    )
    assert result.exit_code == 0, result.output
    text, pages = _pdf_text(target.read_bytes(), tmp_path, "cli-read")
    assert pages == 1 and "m365.com.tr" in text and "LEAD REPORT" in text
    page = tmp_path / "page"
    subprocess.run(["pdftoppm", "-png", "-r", "30", "-singlefile", str(target), str(page)], check=True, timeout=30)
    assert page.with_suffix(".png").stat().st_size > 1000  # it draws
