"""Property-based fuzzing (hypothesis) of everything that reads outside bytes: the domain normaliser,
the upload readers (CSV/TSV/TXT and XLSX), the SPF and DMARC parsers and the DNS wire codec.

Each target has one documented way to refuse input; anything else it raises is a bug. The run is
bounded: ``HUNTER_FUZZ_EXAMPLES`` examples per target (default 300, a few seconds each on CI);
``HUNTER_FUZZ_EXAMPLES=20000 pytest tests/unit/test_fuzz.py`` fuzzes for longer by hand.
"""

from __future__ import annotations

import asyncio
import io
import os
import zipfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.core import dmarc, spf
from shared.core.domains import DomainErrorCode, parse
from shared.core.inputs import InputFileError, read_upload
from shared.dns import wire

FUZZ = settings(
    max_examples=int(os.environ.get("HUNTER_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Text the way it arrives: any Unicode, and the characters that matter to each parser, often.
hostile_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet="abcxyz.-_:/@ \t\r\n=+;,\"'%*0123456789İıŞşçğ\u202e\x00", max_size=120),
)


@FUZZ
@given(hostile_text)
def test_the_domain_normaliser_answers_a_domain_or_a_reason_code(raw):
    parsed = parse(raw)
    if parsed.domain is None:
        assert DomainErrorCode(parsed.code) and parsed.error
    else:
        name = parsed.domain.name
        assert name == name.lower() and name.isascii() and len(name) <= 253 and "." in name
        assert parse(name).domain.name == name  # idempotent


def _consume(rows) -> int:
    count = 0
    for row in rows:
        assert isinstance(row.value, str)
        assert row.company is None or (row.company.strip() == row.company and row.company)
        count += 1
    return count


@FUZZ
@given(st.binary(max_size=4000), st.sampled_from([None, "text/csv", "text/plain", "text/tab-separated-values"]))
def test_the_upload_reader_reads_rows_or_refuses_the_file(data, content_type):
    try:
        _consume(read_upload(data, content_type=content_type))
    except InputFileError:
        pass


@FUZZ
@given(st.lists(st.lists(hostile_text, min_size=1, max_size=4), min_size=1, max_size=30), st.sampled_from(",;\t|"))
def test_delimited_files_with_hostile_cells(rows, delimiter):
    data = "\n".join(delimiter.join(cell.replace("\n", " ") for cell in row) for row in rows).encode("utf-8")
    try:
        _consume(read_upload(data, filename="leads.csv"))
    except InputFileError:
        pass


def _workbook(cells: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in cells:
        sheet.append([_xml_safe(cell) for cell in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xml_safe(text: str) -> str:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("", text)


@settings(FUZZ, max_examples=max(10, FUZZ.max_examples // 10))
@given(st.lists(st.lists(hostile_text, min_size=1, max_size=3), min_size=1, max_size=10), st.data())
def test_workbooks_real_and_damaged(cells, data):
    book = _workbook(cells)
    _consume_or_refuse(book)
    # The same workbook with bytes flipped or cut: refused as a file, never another error.
    # (Positions as fractions: a workbook's size varies with the time stamp openpyxl writes into it.)
    position = int(data.draw(st.floats(0, 1)) * (len(book) - 1))
    damaged = book[:position] + bytes([book[position] ^ data.draw(st.integers(1, 255))]) + book[position + 1 :]
    _consume_or_refuse(damaged)
    _consume_or_refuse(book[: max(4, int(data.draw(st.floats(0, 1)) * len(book)))])


def _consume_or_refuse(data: bytes) -> None:
    try:
        _consume(read_upload(data, filename="leads.xlsx"))
    except (InputFileError, zipfile.BadZipFile):
        pass


spf_terms = st.sampled_from(
    ["include:", "a", "mx", "ptr", "ip4:", "ip6:", "exists:", "redirect=", "exp=", "all", "-all", "~all", "?all", "+"]
)


@FUZZ
@given(st.lists(st.tuples(spf_terms, hostile_text), max_size=12), hostile_text)
def test_spf_records_parse_or_are_a_permerror(terms, tail):
    record = "v=spf1 " + " ".join(f"{term}{value.split()[0] if value.split() else ''}" for term, value in terms) + tail

    async def fetch(domain: str) -> tuple[list[str], str]:
        return [f"v=spf1 include:{domain} -all"], "ok"  # an include loop, as a hostile zone would write

    try:
        spf.parse(record)
    except spf.SpfSyntaxError:
        pass
    info = asyncio.run(spf.analyse(record, fetch))
    assert info.valid or info.error


DMARC_TAGS = ["p", "sp", "pct", "rua", "ruf", "adkim", "aspf", "fo", "v"]


@FUZZ
@given(hostile_text, st.lists(st.sampled_from(DMARC_TAGS), max_size=8))
def test_dmarc_records_parse_or_are_marked_invalid(value, tags):
    record = "v=DMARC1; " + "; ".join(f"{tag}={value}" for tag in tags)
    info = dmarc.parse(record)
    assert info.valid or info.error
    assert info.pct is None or 0 <= info.pct <= 100


@FUZZ
@given(st.binary(max_size=600))
def test_dns_wire_reads_a_response_or_raises_wire_error(data):
    try:
        response = wire.parse_response(data)
    except wire.WireError:
        return
    assert 0 <= response.rcode <= 15 and response.qname == response.qname.lower()


@FUZZ
@given(st.binary(min_size=12, max_size=600))
def test_dns_wire_reads_a_query_or_raises_wire_error(data):
    try:
        wire.parse_query(data)
    except wire.WireError:
        pass


@FUZZ
@given(st.one_of(hostile_text, st.builds(lambda a, b: f"{a}@{b}", hostile_text, hostile_text)))
def test_an_email_address_is_checked_never_raises(raw):
    from shared.core.emails import check_address

    check = check_address(raw)
    assert check.email == raw
    if check.valid_syntax:
        assert check.domain and check.domain.isascii() and check.domain == check.domain.lower()
        assert check.normalized and "@" in check.normalized and check.error is None
    else:
        assert check.error and check.normalized is None and not (check.free_mail or check.role_account)


@settings(
    max_examples=min(40, int(os.environ.get("HUNTER_FUZZ_EXAMPLES", "300"))),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(hostile_text, hostile_text, st.lists(st.tuples(hostile_text, st.integers(-100, 100)), max_size=12))
def test_the_pdf_renderer_draws_any_outside_text_on_at_most_three_pages(company, value, bars):
    """Company names, record texts and rule reasons come from outside: no text crashes the renderer
    or pushes a lead past its three pages."""
    from shared.reports.model import EVIDENCE_KEYS, Bar, ChangeLine, LeadReport
    from shared.reports.pdf import clean, render_pdf

    report = LeadReport(
        domain=value or "x.com.tr",
        company_name=company,
        breakdown=[Bar(label, points) for label, points in bars],
        evidence={key: value * 20 for key in EVIDENCE_KEYS},
        technologies=[(value, [company, value])],
        changes=[ChangeLine(None, company)] * 5,
    )
    pdf = render_pdf([report], lang="tr", version="fuzz")
    assert pdf.startswith(b"%PDF-") and pdf.count(b"/Type /Page\n") <= 3
    assert not any(ord(char) < 32 for char in clean(company + value))
