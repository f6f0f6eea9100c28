"""Reading domains from .txt, .csv and .xlsx files: column detection, encodings, streaming."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from openpyxl import Workbook

from shared.core.inputs import InputFileError, InputRow, from_values, read_file


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding, newline="")
    return path


def rows(path: Path, column: str | None = None) -> list[tuple[str, str | None, int | None]]:
    return [(r.value, r.company, r.line) for r in read_file(path, column=column)]


# -- plain text ----------------------------------------------------------------------------------


def test_txt_skips_comments_and_blank_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "list.txt",
        "# leads from the fair\nacme.com\n\n   \n  www.beta.com.tr  # met at booth 4\n#gamma.io\nhttps://delta.io/x\n",
    )
    assert rows(path) == [
        ("acme.com", None, 2),
        ("www.beta.com.tr", None, 5),
        ("https://delta.io/x", None, 7),
    ]


def test_txt_with_crlf_line_endings(tmp_path: Path) -> None:
    path = write(tmp_path, "list.txt", "acme.com\r\nbeta.com\r\n")
    assert [r.value for r in read_file(path)] == ["acme.com", "beta.com"]


def test_txt_keeps_junk_for_the_normaliser(tmp_path: Path) -> None:
    """Reading is not validating: 'nan' is passed through and rejected later with a reason."""
    path = write(tmp_path, "list.txt", "nan\nacme.com\n")
    assert [r.value for r in read_file(path)] == ["nan", "acme.com"]


def test_empty_files_give_no_rows(tmp_path: Path) -> None:
    assert rows(write(tmp_path, "empty.txt", "")) == []
    assert rows(write(tmp_path, "empty.csv", "")) == []


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="does not exist"):
        list(read_file(tmp_path / "nope.csv"))


# -- CSV: header detection -----------------------------------------------------------------------


def test_turkish_semicolon_csv_uses_web_column_and_company(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "firmalar.csv",
        "Firma;Web Sitesi;Telefon\nAcme A.Ş.;www.acme.com.tr;0212 555 00 00\nŞirketim Ltd;https://şirketim.com.tr;0216\n",
    )
    assert rows(path) == [
        ("www.acme.com.tr", "Acme A.Ş.", 2),
        ("https://şirketim.com.tr", "Şirketim Ltd", 3),
    ]


def test_comma_csv_with_email_header(tmp_path: Path) -> None:
    path = write(tmp_path, "contacts.csv", "name,email\nAli Veli,ali@acme.com\nAyşe,ayse@beta.com.tr\n")
    assert rows(path) == [("ali@acme.com", "Ali Veli", 2), ("ayse@beta.com.tr", "Ayşe", 3)]


@pytest.mark.parametrize(
    "header",
    ["Domain", "WEBSITE", "web_sitesi", "Alan Adı", "E-Posta", "URL", "  Web Site  "],
)
def test_domain_header_variants(tmp_path: Path, header: str) -> None:
    """Header names are matched case-insensitively, with '_' as a space and surrounding blanks ignored."""
    path = write(tmp_path, "in.csv", f"Other,{header}\nx,acme.com\ny,beta.com\n")
    assert [r.value for r in read_file(path)] == ["acme.com", "beta.com"]


def test_tab_separated_file(tmp_path: Path) -> None:
    path = write(tmp_path, "in.tsv", "Company\tDomain\nAcme\tacme.com\n")
    assert rows(path) == [("acme.com", "Acme", 2)]


def test_blank_rows_are_skipped_but_line_numbers_kept(tmp_path: Path) -> None:
    path = write(tmp_path, "in.csv", "Firma,Website\nAcme,acme.com\n,\n\nBeta,beta.com\n")
    assert rows(path) == [("acme.com", "Acme", 2), ("beta.com", "Beta", 5)]


def test_short_rows_give_empty_value(tmp_path: Path) -> None:
    """A row missing the domain cell still yields (with an empty value) so the user sees it."""
    path = write(tmp_path, "in.csv", "Firma,Website\nAcme,acme.com\nBeta\n")
    assert rows(path) == [("acme.com", "Acme", 2), ("", "Beta", 3)]


def test_quoted_csv_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "in.csv", 'Company,Website\n"Acme, Inc.",acme.com\n"Beta ""B"" Ltd",beta.com\n')
    assert rows(path) == [("acme.com", "Acme, Inc.", 2), ("beta.com", 'Beta "B" Ltd', 3)]


# -- CSV: content detection ----------------------------------------------------------------------


def test_csv_without_header_detects_domain_column(tmp_path: Path) -> None:
    path = write(tmp_path, "raw.csv", "Acme,acme.com,x\nBeta,beta.com.tr,y\nGamma,gamma.io,z\n")
    assert rows(path) == [("acme.com", None, 1), ("beta.com.tr", None, 2), ("gamma.io", None, 3)]


def test_single_column_csv_without_header(tmp_path: Path) -> None:
    path = write(tmp_path, "raw.csv", "acme.com\nbeta.com.tr\n")
    assert rows(path) == [("acme.com", None, 1), ("beta.com.tr", None, 2)]


def test_unnamed_header_detected_by_content(tmp_path: Path) -> None:
    """The header 'Adres' is not a known name, but its column holds domains; 'Şirket' names the company."""
    path = write(tmp_path, "in.csv", "Şirket;Adres\nAcme;acme.com\nBeta;beta.com\n")
    assert rows(path) == [("acme.com", "Acme", 2), ("beta.com", "Beta", 3)]


def test_no_domain_like_column_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "in.csv", "Firma,Telefon\nAcme,0212 555 00 00\nBeta,0216 444 11 11\n")
    with pytest.raises(InputFileError, match="column"):
        list(read_file(path))


# -- explicit column -----------------------------------------------------------------------------


def test_explicit_column(tmp_path: Path) -> None:
    """column= picks the column even when another one would be detected first."""
    path = write(tmp_path, "in.csv", "Domain,Website\nold-acme.com,acme.com\nold-beta.com,beta.com\n")
    assert [r.value for r in read_file(path)] == ["old-acme.com", "old-beta.com"]  # detected: Domain
    assert [r.value for r in read_file(path, column="Website")] == ["acme.com", "beta.com"]
    assert [r.value for r in read_file(path, column="website")] == ["acme.com", "beta.com"]


def test_explicit_column_keeps_company(tmp_path: Path) -> None:
    path = write(tmp_path, "in.csv", "Firma,Website\nAcme,acme.com\n")
    assert rows(path, column="Website") == [("acme.com", "Acme", 2)]


def test_unknown_column_names_the_available_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "in.csv", "Firma,Website,Telefon\nAcme,acme.com,1\n")
    with pytest.raises(InputFileError) as info:
        list(read_file(path, column="Domain"))
    message = str(info.value)
    assert "Domain" in message
    for name in ("Firma", "Website", "Telefon"):
        assert name in message


# -- encodings -----------------------------------------------------------------------------------


def test_utf8_bom_with_turkish_characters(tmp_path: Path) -> None:
    """The BOM does not stick to the first header, and ç ğ ı İ ö ş ü survive."""
    path = write(tmp_path, "excel.csv", "Firma,Website\nİstanbul Çiçekçilik Ğ Ş Ü Ö ı,çiçek.com.tr\n", "utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert rows(path) == [("çiçek.com.tr", "İstanbul Çiçekçilik Ğ Ş Ü Ö ı", 2)]


def test_utf8_bom_txt(tmp_path: Path) -> None:
    path = write(tmp_path, "list.txt", "şirketim.com.tr\n", "utf-8-sig")
    assert [r.value for r in read_file(path)] == ["şirketim.com.tr"]


# -- xlsx ----------------------------------------------------------------------------------------


def test_xlsx_with_turkish_headers(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Şirket", "E-posta"])
    sheet.append(["Çağ Ltd", "info@çağ.com.tr"])
    sheet.append([None, None])
    sheet.append(["Beta", "satis@beta.com"])
    path = tmp_path / "leads.xlsx"
    workbook.save(path)
    assert rows(path) == [("info@çağ.com.tr", "Çağ Ltd", 2), ("satis@beta.com", "Beta", 4)]


def test_xlsx_explicit_column(tmp_path: Path) -> None:
    workbook = Workbook()
    workbook.active.append(["Email", "Web"])
    workbook.active.append(["a@x.com", "acme.com"])
    path = tmp_path / "leads.xlsx"
    workbook.save(path)
    assert [r.value for r in read_file(path, column="Web")] == ["acme.com"]


def test_broken_xlsx_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"this is not a zip file")
    with pytest.raises(InputFileError, match="xlsx"):
        list(read_file(path))


# -- streaming -----------------------------------------------------------------------------------


def test_large_csv_is_streamed(tmp_path: Path) -> None:
    """read_file is a generator; a 10,000-line CSV yields exactly 10,000 rows, in order."""
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("Firma;Web Sitesi\n")
        for n in range(10_000):
            handle.write(f"Firma {n};www.firma{n}.com.tr\n")
    result = read_file(path)
    assert inspect.isgenerator(result)
    count = 0
    last: InputRow | None = None
    for row in result:
        count += 1
        last = row
    assert count == 10_000
    assert last == InputRow("www.firma9999.com.tr", "Firma 9999", 10_001)


def test_reading_is_lazy(tmp_path: Path) -> None:
    """Nothing is opened until the first row is asked for (errors surface on iteration)."""
    result = read_file(tmp_path / "missing.csv")
    assert inspect.isgenerator(result)
    with pytest.raises(InputFileError):
        next(result)


def test_from_values() -> None:
    assert list(from_values(["a.com", "b.com"])) == [InputRow("a.com"), InputRow("b.com")]
