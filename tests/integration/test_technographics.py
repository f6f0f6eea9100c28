"""Technographics end to end: a scan against the loopback DNS server finds the company's vendors, and
they show in the scan JSON, the lead detail, the sales summary (TR and EN), the CSV and XLSX exports,
the lead list's tech= filter (SQLite and PostgreSQL), ``hunter leads --tech`` and the Dynamics 365
document (an optional column)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from shared import aio
from shared.cli.main import main
from shared.config import Settings
from shared.core.inputs import InputRow
from shared.http.dispatch import dispatch
from shared.http.types import HttpRequest
from shared.integrations.d365.mapping import BUNDLED, load_mapping
from shared.runtime import Runtime, set_runtime
from shared.scan.pipeline import run_pipeline
from shared.services.after_scan import AfterScan
from shared.services.d365_push import lead_document

RECORDS = """
; Microsoft 365 with Zoom, Salesforce, Mailchimp, DocuSign and Agari, and TXT that must not count
tech.com.tr. MX 10 tech-com-tr.mail.protection.outlook.com.
tech.com.tr. TXT "v=spf1 include:spf.protection.outlook.com include:_spf.salesforce.com include:servers.mcsv.net -all"
tech.com.tr. TXT "MS=ms55501234"
tech.com.tr. TXT "ZOOM_verify_AbC123dEf"
tech.com.tr. TXT "docusign=1b0a6754-49b1-4db5-8540-d2c12664b289"
tech.com.tr. TXT "we love zoom, slack and sendgrid"
tech.com.tr. TXT "=HYPERLINK(\\"http://evil.example\\")"
spf.protection.outlook.com. TXT "v=spf1 ip4:40.92.0.0/15 -all"
_spf.salesforce.com. TXT "v=spf1 ip4:13.108.0.0/14 -all"
servers.mcsv.net. TXT "v=spf1 ip4:205.201.128.0/20 -all"
_dmarc.tech.com.tr. TXT "v=DMARC1; p=quarantine; rua=mailto:abc123@rua.agari.com"

; Google Workspace with Slack and a near-miss SPF include
slack.com.tr. MX 1 aspmx.l.google.com.
slack.com.tr. TXT "v=spf1 include:_spf.google.com include:notsendgrid.net.example.com ~all"
slack.com.tr. TXT "slack-domain-verification=QwErTy123"
_spf.google.com. TXT "v=spf1 ip4:35.190.247.0/24 ~all"
notsendgrid.net.example.com. TXT "v=spf1 ip4:192.0.2.1 -all"

; nothing to report
plain.com.tr. MX 10 mail.plain.com.tr.
plain.com.tr. TXT "v=spf1 mx -all"
"""

TECH = "tech.com.tr"
EXPECTED = ["Microsoft 365", "Zoom", "Salesforce", "Mailchimp", "DocuSign", "Agari"]


@pytest.fixture
def world(database_url, dns_server_factory):
    dns = dns_server_factory(RECORDS)
    settings = Settings(database_url=database_url, dns_nameservers=[dns.address], dns_timeout=0.5, whois_enabled=False)
    runtime = Runtime(settings)
    set_runtime(runtime)
    rows = [InputRow(TECH, "Teknoloji A.Ş."), InputRow("slack.com.tr", None), InputRow("plain.com.tr", None)]
    aio.run(run_pipeline(rows, settings, AfterScan(runtime)))
    key = runtime.keys.create("reader", ["read"])[0]
    yield runtime, key, dns
    set_runtime(None)


def _get(runtime: Runtime, key: str, path: str, **query: str):
    request = HttpRequest("GET", path, query={k: [v] for k, v in query.items()}, headers={"x-api-key": key})
    return dispatch(request, runtime)


def _json(runtime: Runtime, key: str, path: str, **query: str) -> dict:
    response = _get(runtime, key, path, **query)
    assert response.status == 200, response.body_bytes()
    return json.loads(response.body_bytes())


def test_scan_json_lists_the_vendors_with_their_records(world, database_url):
    _, _, dns = world
    result = CliRunner().invoke(
        main, ["scan", TECH, "--json", "--no-save", "--nameserver", dns.address, "--db", database_url]
    )
    assert result.exit_code == 0, result.output
    line = json.loads(next(x for x in result.stdout.splitlines() if x.startswith("{")))
    technologies = {t["name"]: t for t in line["technologies"]}
    assert list(technologies) == EXPECTED
    assert technologies["Zoom"] == {
        "name": "Zoom",
        "category": "collaboration",
        "evidence": ["ZOOM_verify_AbC123dEf"],
    }
    assert technologies["Salesforce"]["evidence"] == ["include:_spf.salesforce.com"]
    assert technologies["Agari"]["evidence"] == ["rua=mailto:abc123@rua.agari.com"]
    assert line["provider"] == "M365"  # the mailbox provider keeps its own field


def test_lead_detail_summary_and_list_show_them(world):
    runtime, key, _ = world
    detail = _json(runtime, key, f"/v1/leads/{TECH}")
    assert [t["name"] for t in detail["snapshot"]["technologies"]] == EXPECTED
    assert detail["lead"]["technologies"] == "; ".join(EXPECTED)
    slack = _json(runtime, key, "/v1/leads/slack.com.tr")
    assert [t["name"] for t in slack["snapshot"]["technologies"]] == ["Google Workspace", "Slack"]  # no SendGrid
    assert _json(runtime, key, "/v1/leads/plain.com.tr")["lead"]["technologies"] is None

    english = _json(runtime, key, f"/v1/leads/{TECH}/sales-summary", lang="en")
    assert english["technologies_line"] == "Technologies seen in its DNS: " + ", ".join(EXPECTED) + "."
    assert "Microsoft Teams" in english["technology_hooks"][0] and "Zoom" in english["technology_hooks"][0]
    assert "Dynamics 365 Sales" in english["technology_hooks"][1]
    assert any("Zoom" in line and "Teams" in line for line in english["call_script"])
    turkish = _json(runtime, key, f"/v1/leads/{TECH}/sales-summary", lang="tr")
    assert turkish["technologies_line"].startswith("DNS kayıtlarında görülen teknolojiler: Microsoft 365, Zoom")
    assert "Toplantı ve yazışma için Zoom kullanıyorlar" in turkish["technology_hooks"][0]


def _domains(page: dict) -> list[str]:
    return sorted(item["domain"] for item in page["items"])


def test_the_tech_filter_on_both_databases(world):
    runtime, key, _ = world
    assert _domains(_json(runtime, key, "/v1/leads", tech="Zoom")) == [TECH]
    assert _domains(_json(runtime, key, "/v1/leads", tech="zoom")) == [TECH]  # names are case-insensitive
    both = _json(runtime, key, "/v1/leads", tech="Zoom,Slack")
    assert _domains(both) == ["slack.com.tr", TECH] and both["total"] == 2
    assert _json(runtime, key, "/v1/leads", tech="Agari", provider="M365")["total"] == 1
    assert _json(runtime, key, "/v1/leads", tech="Agari", provider="Google")["total"] == 0
    assert _json(runtime, key, "/v1/leads", tech="SendGrid")["total"] == 0  # the near miss did not count
    for sort in ("score", "-scanned_at", "domain", "provider"):  # every page plan binds the names
        assert _domains(_json(runtime, key, "/v1/leads", tech="Slack", sort=sort)) == ["slack.com.tr"]
    unknown = _get(runtime, key, "/v1/leads", tech="Zooom")
    assert unknown.status == 422 and b"unknown tech" in unknown.body_bytes()
    hostile = _get(runtime, key, "/v1/leads", tech="Zoom') OR 1=1 --")
    assert hostile.status == 422

    # a rescan that no longer shows Zoom takes the lead out of the filter
    record = runtime.leads.latest_record(TECH)
    from shared.core.results import ScanResult
    from shared.core.scoring import score_record

    later = record.model_copy(update={"technologies": [t for t in record.technologies if t.name != "Zoom"]})
    runtime.leads.save([ScanResult(later, score_record(later))])
    assert _json(runtime, key, "/v1/leads", tech="Zoom")["total"] == 0
    assert _domains(_json(runtime, key, "/v1/leads", tech="Salesforce")) == [TECH]


def test_hunter_leads_tech(world, database_url):
    result = CliRunner().invoke(main, ["leads", "--tech", "Slack", "--json", "--db", database_url])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [row["domain"] for row in rows] == ["slack.com.tr"]
    assert rows[0]["technologies"] == "Google Workspace; Slack"
    bad = CliRunner().invoke(main, ["leads", "--tech", "Nope", "--db", database_url])
    assert bad.exit_code == 2 and "unknown tech" in bad.output


def test_exports_carry_a_joined_column(world):
    runtime, key, _ = world
    response = _get(runtime, key, "/v1/leads/export", format="csv", sort="domain")
    assert response.status == 200
    rows = list(csv.DictReader(io.StringIO(response.body_bytes().decode("utf-8-sig"))))
    by_domain = {row["domain"]: row for row in rows}
    assert by_domain[TECH]["technologies"] == "; ".join(EXPECTED)
    assert by_domain["plain.com.tr"]["technologies"] == ""
    filtered = _get(runtime, key, "/v1/leads/export", format="csv", tech="Slack").body_bytes().decode("utf-8-sig")
    assert [row["domain"] for row in csv.DictReader(io.StringIO(filtered))] == ["slack.com.tr"]

    from openpyxl import load_workbook

    xlsx = _get(runtime, key, "/v1/leads/export", format="xlsx", tech="Zoom")
    sheet = load_workbook(io.BytesIO(xlsx.body_bytes()), read_only=True)["Leads"]
    header, *values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert len(values) == 1 and values[0][header.index("technologies")] == "; ".join(EXPECTED)


def test_dynamics_365_document_and_an_optional_column(world, tmp_path):
    runtime, _, _ = world
    lead, company = runtime.leads.lead(TECH), "Teknoloji A.Ş."
    document = lead_document(runtime, lead, company)
    assert document["technologies"] == "; ".join(EXPECTED)
    assert document["technologies_by_category"].startswith("productivity: Microsoft 365; collaboration: Zoom")
    bundled = load_mapping(BUNDLED)
    body = bundled.payload(document)
    assert "new_technologies" not in body  # optional: off unless the mapping names it
    assert "Zoom" in body["description"] and body["description"].startswith(document["sales_one_liner"])

    custom = tmp_path / "mapping.yaml"
    custom.write_text(
        BUNDLED.read_text(encoding="utf-8") + "  new_technologies:\n    field: technologies\n    max_length: 1000\n",
        encoding="utf-8",
    )
    mapping = load_mapping(custom)
    assert mapping.required_columns()[0]["new_technologies"] == "string"
    assert mapping.payload(document)["new_technologies"] == "; ".join(EXPECTED)
    plain = lead_document(runtime, runtime.leads.lead("plain.com.tr"), None)
    assert mapping.payload(plain)["new_technologies"] is None


def test_a_snapshot_saved_before_technographics_is_explained_with_them(world):
    """The lead detail, summary and D365 document detect technologies from the stored snapshot with the
    data in force (as the score uses the rules in force), so an old snapshot shows them before a rescan."""
    runtime, key, _ = world
    from shared.core.results import ScanResult
    from shared.core.scoring import score_record

    record = runtime.leads.latest_record(TECH)
    old = record.model_copy(update={"technologies": []})
    runtime.leads.save([ScanResult(old, score_record(old))])
    assert runtime.leads.latest_record(TECH).technologies == []
    detail = _json(runtime, key, f"/v1/leads/{TECH}")
    assert [t["name"] for t in detail["snapshot"]["technologies"]] == EXPECTED
    summary = _json(runtime, key, f"/v1/leads/{TECH}/sales-summary", lang="en")
    assert "Zoom" in summary["technologies_line"]
