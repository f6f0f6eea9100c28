"""Hostile uploads: a ZIP-bomb workbook and over-long files are refused fast, with memory flat."""

from __future__ import annotations

import io
import time
import zipfile

import psutil
import pytest

from shared.config import Settings
from shared.core.inputs import InputTooLargeError, check_xlsx_size, read_upload
from shared.http.dispatch import dispatch
from shared.http.types import HttpRequest
from shared.runtime import Runtime

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The four small parts of a minimal workbook (long XML namespace lines).
CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
</Types>"""  # noqa: E501
ROOT_RELS = """<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>
</Relationships>"""  # noqa: E501
WORKBOOK = """<?xml version="1.0" encoding="UTF-8"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
<sheets><sheet name="Leads" sheetId="1" r:id="rId1"/></sheets></workbook>"""
WORKBOOK_RELS = """<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>
</Relationships>"""  # noqa: E501


def workbook(rows: int, *, sheet_bytes_per_row: int = 0) -> bytes:
    """An .xlsx with ``rows`` rows of one inline-string domain, streamed into the ZIP (never whole in memory)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
            padding = b" " * sheet_bytes_per_row
            chunk = b"".join(
                b'<row><c t="inlineStr"><is><t>firma%d.com.tr</t></is></c></row>%s' % (i, padding) for i in range(1000)
            )
            for _ in range(rows // 1000):
                sheet.write(chunk)
            sheet.write(b"</sheetData></worksheet>")
    return out.getvalue()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    data = workbook(120_000, sheet_bytes_per_row=1000)  # ~125 MB of sheet XML in a ~1 MB upload
    assert len(data) < 3 * 1024 * 1024
    return data


@pytest.fixture
def runtime(tmp_path):
    runtime = Runtime(Settings(database_url=f"sqlite:///{tmp_path / 'hunter.db'}"))
    yield runtime
    runtime.engine.dispose()


def post(runtime: Runtime, body: bytes, content_type: str):
    key = runtime.keys.create(f"scanner-{time.monotonic_ns()}", ["scan"])[0]
    headers = {"x-api-key": key, "content-type": content_type}
    return dispatch(HttpRequest("POST", "/v1/scans/preview", headers=headers, body=body), runtime)


def test_a_zip_bomb_workbook_is_refused_before_it_is_unpacked(runtime, bomb):
    process = psutil.Process()
    before = process.memory_info().rss
    started = time.monotonic()
    reply = post(runtime, bomb, XLSX)
    elapsed = time.monotonic() - started
    assert reply.status == 413, reply.body_bytes()[:300]
    assert b"unpacks to" in reply.body_bytes()
    assert elapsed < 5  # the ZIP directory only: no decompression
    assert process.memory_info().rss - before < 50 * 1024 * 1024


def test_a_compression_ratio_only_a_bomb_has_is_refused():
    with pytest.raises(InputTooLargeError):
        check_xlsx_size(io.BytesIO(workbook(30_000, sheet_bytes_per_row=2000)))  # ~60 MB at >200x


def test_rows_past_the_cap_are_not_read(runtime, monkeypatch):
    from shared.api import jobs

    monkeypatch.setattr(jobs, "MAX_JOB_ROWS", 1000)
    reply = post(runtime, "\n".join(f"firma{i}.com.tr" for i in range(50_000)).encode(), "text/csv")
    assert reply.status == 413 and b"at most 1,000 rows" in reply.body_bytes()
    consumed = []

    def counting(rows):
        for row in rows:
            consumed.append(row)
            yield row

    lines = "\n".join(f"firma{i}.com.tr" for i in range(50_000)).encode()
    import itertools

    list(itertools.islice(counting(read_upload(lines)), 1001))
    assert len(consumed) == 1001  # the reader is lazy: a cap stops it


def test_a_normal_workbook_still_reads(runtime):
    reply = post(runtime, workbook(2000), XLSX)
    assert reply.status == 200, reply.body_bytes()[:300]
