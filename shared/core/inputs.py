"""Read domains from text, CSV or XLSX files, one row at a time.

Spreadsheets from sales come with any header in Turkish or English, or none. The domain
column is found by its header (``domain``, ``website``, ``web sitesi``, ``e-posta``, ...)
and, failing that, by its content (the column whose sample values parse as domains most
often). A company-name column (``firma``, ``company``, ``şirket``...) is picked up when
present. Rows are streamed: a 100,000-line file is never held in memory.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from shared.core.domains import parse
from shared.core.text import clean_text

DOMAIN_HEADERS = (
    "domain",
    "domains",
    "alan adı",
    "alan adi",
    "domain name",
    "website",
    "web sitesi",
    "web site",
    "websitesi",
    "web",
    "url",
    "site",
    "homepage",
    "e-posta",
    "eposta",
    "e-mail",
    "email",
    "mail",
)
COMPANY_HEADERS = (
    "firma",
    "firma adı",
    "firma adi",
    "company",
    "company name",
    "şirket",
    "sirket",
    "şirket adı",
    "unvan",
    "ünvan",
    "account",
    "account name",
    "müşteri",
    "name",
)
SAMPLE_ROWS = 50


MAX_COMPANY_CHARS = 200


class InputFileError(ValueError):
    """The file cannot be read as a list of domains (the message says why)."""


class InputTooLargeError(InputFileError):
    """The file is (or unpacks to) more than Hunter reads: answered 413, never read to the end."""


# An .xlsx is a ZIP of XML: a 2 MB upload can unpack to a gigabyte of sheet. Checked from the ZIP's
# directory before anything is decompressed. 100,000 rows of domain and company unpack to ~15 MB.
MAX_XLSX_UNPACKED_BYTES = 100 * 1024 * 1024
MAX_XLSX_RATIO = 100  # uncompressed / compressed for any member over 1 MB (sheet XML is ~5-20)


@dataclass(frozen=True, slots=True)
class InputRow:
    value: str
    company: str | None = None
    line: int | None = None

    def __post_init__(self) -> None:
        # Every way a company name comes in (file, JSON body, referral) builds an InputRow: clean it once.
        object.__setattr__(self, "company", clean_text(self.company, MAX_COMPANY_CHARS))


@dataclass(slots=True)
class InputLayout:
    """How a file was read, for people checking an upload before they submit it.

    Filled in by the readers when passed one; columns are the header's text, or ``"#3"`` (the third
    column) in a file without a header."""

    domain_column: str | None = None
    company_column: str | None = None
    has_header: bool = False
    detected: bool = False  # found by header or content, not named by the caller


def _column_name(header: list[str], index: int | None, has_header: bool) -> str | None:
    if index is None:
        return None
    if has_header and index < len(header) and str(header[index]).strip():
        return str(header[index]).strip()
    return f"#{index + 1}"


def _norm_header(value: object) -> str:
    return " ".join(str(value or "").strip().lower().replace("_", " ").split())


def _pick_columns(header: list[str], sample: list[list[str]]) -> tuple[int | None, int | None, bool]:
    """(domain column, company column, whether row 0 is a header)."""
    names = [_norm_header(h) for h in header]
    domain_col = next((names.index(h) for h in DOMAIN_HEADERS if h in names), None)
    company_col = next((names.index(h) for h in COMPANY_HEADERS if h in names), None)
    if domain_col is not None:
        return domain_col, company_col, True
    rows = [header, *sample]
    width = max((len(r) for r in rows), default=0)
    best, best_hits = None, 0
    for col in range(width):
        hits = sum(1 for r in rows if col < len(r) and r[col].strip() and parse(r[col]).domain is not None)
        if hits > best_hits:
            best, best_hits = col, hits
    if best is None:
        return None, None, False
    has_header = parse(header[best]).domain is None if best < len(header) else False
    return best, company_col if has_header else None, has_header


def _rows_to_inputs(
    rows: Iterator[list[str]], column: str | None, layout: InputLayout | None = None
) -> Iterator[InputRow]:
    try:
        header = next(rows)
    except StopIteration:
        return
    sample = list(itertools.islice(rows, SAMPLE_ROWS))
    if column is not None:
        names = [_norm_header(h) for h in header]
        if _norm_header(column) not in names:
            raise InputFileError(f"column {column!r} not found; the header has {', '.join(map(str, header))}")
        domain_col, has_header = names.index(_norm_header(column)), True
        company_col = next((names.index(h) for h in COMPANY_HEADERS if h in names), None)
    else:
        domain_col, company_col, has_header = _pick_columns(header, sample)
    if domain_col is None:
        raise InputFileError("no column looks like domains, websites or e-mail addresses; name one with --column")
    if layout is not None:
        layout.domain_column = _column_name(header, domain_col, has_header)
        layout.company_column = _column_name(header, company_col, has_header)
        layout.has_header, layout.detected = has_header, column is None
    first_line = 1 if has_header else 0
    all_rows = itertools.chain(sample, rows) if has_header else itertools.chain([header], sample, rows)
    for number, row in enumerate(all_rows, start=first_line + 1):
        if not any(cell.strip() for cell in row):
            continue  # blank lines are layout, not data
        value = row[domain_col] if domain_col < len(row) else ""
        company = row[company_col].strip() if company_col is not None and company_col < len(row) else None
        yield InputRow(value, company or None, number)


def _csv_rows(handle: io.TextIOBase) -> Iterator[list[str]]:
    head = handle.read(8192)
    handle.seek(0)
    try:
        dialect = csv.Sniffer().sniff(head, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    yield from csv.reader(handle, dialect)


def check_xlsx_size(source: Path | IO[bytes]) -> None:
    """Refuse a workbook whose parts unpack beyond :data:`MAX_XLSX_UNPACKED_BYTES` or at a ratio only
    a ZIP bomb has, reading only the ZIP's central directory (no decompression)."""
    import zipfile

    try:
        with zipfile.ZipFile(source) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputFileError(f"not a readable .xlsx file ({type(exc).__name__})") from None
    finally:
        if hasattr(source, "seek"):
            source.seek(0)  # type: ignore[union-attr]
    unpacked = sum(member.file_size for member in members)
    if unpacked > MAX_XLSX_UNPACKED_BYTES:
        raise InputTooLargeError(
            f"the workbook unpacks to {unpacked // (1024 * 1024):,} MB; Hunter reads at most "
            f"{MAX_XLSX_UNPACKED_BYTES // (1024 * 1024)} MB of sheet (about 600,000 rows): split it or send a CSV"
        )
    for member in members:
        if member.file_size > 1024 * 1024 and member.file_size > MAX_XLSX_RATIO * max(1, member.compress_size):
            raise InputTooLargeError(f"the workbook's {member.filename} is compressed {MAX_XLSX_RATIO}x or more")


def _xlsx_rows(source: Path | IO[bytes]) -> Iterator[list[str]]:
    from openpyxl import load_workbook  # heavy; only for spreadsheets (defusedxml parses its XML)

    check_xlsx_size(source)
    try:
        workbook = load_workbook(source, read_only=True, data_only=True)
    except Exception as exc:
        raise InputFileError(f"not a readable .xlsx file ({type(exc).__name__})") from None
    try:
        sheet = workbook.active
        if sheet is None:  # a damaged workbook can name no active sheet (found by tests/unit/test_fuzz.py)
            raise InputFileError("the .xlsx file has no readable sheet")
        rows = sheet.iter_rows(values_only=True)
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except Exception as exc:  # damaged sheet XML surfaces while streaming, not at open
                raise InputFileError(f"not a readable .xlsx file ({type(exc).__name__})") from None
            yield ["" if v is None else str(v) for v in row]
    finally:
        workbook.close()


def read_file(path: str | Path, column: str | None = None) -> Iterator[InputRow]:
    """Yield the rows of a .txt, .csv or .xlsx file (chosen by extension; '-' is stdin)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        yield from _rows_to_inputs(_xlsx_rows(path), column)
        return
    if not path.exists():
        raise InputFileError(f"{path} does not exist")
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        if suffix in (".csv", ".tsv") or column is not None:
            yield from _rows_to_inputs(_csv_rows(handle), column)
        else:  # plain text: one domain per line, # comments allowed
            for number, line in enumerate(handle, start=1):
                value = line.split("#", 1)[0].strip()
                if value:
                    yield InputRow(value, None, number)


def from_values(values: Iterable[str]) -> Iterator[InputRow]:
    for value in values:
        yield InputRow(value)


XLSX_TYPES = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/vnd.ms-excel.sheet")


def read_upload(
    data: bytes,
    *,
    filename: str | None = None,
    content_type: str | None = None,
    column: str | None = None,
    layout: InputLayout | None = None,
) -> Iterator[InputRow]:
    """Rows of an uploaded file held in memory: XLSX (by type, name or its ZIP signature), else
    CSV/TSV or a plain list, in UTF-8 (BOM or not) or Windows-1254 as Turkish Excel saves it.
    ``layout``, when given, is filled in with the columns used once the first row is read."""
    kind = (content_type or "").split(";")[0].strip().lower()
    name = (filename or "").lower()
    if kind in XLSX_TYPES or name.endswith((".xlsx", ".xlsm")) or data[:4] == b"PK\x03\x04":
        yield from _rows_to_inputs(_xlsx_rows(io.BytesIO(data)), column, layout)
        return
    if b"\x00" in data[:4096]:
        raise InputFileError("the file is binary but not an .xlsx workbook; send .xlsx, .csv or .txt")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1254", errors="replace")
    # One column or many, with or without a header: the CSV reader and the column picker handle all.
    yield from _rows_to_inputs(_csv_rows(io.StringIO(text, newline="")), column, layout)
