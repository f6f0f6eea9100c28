"""The PDF renderer's pieces: the bundled fonts ship with the package (and a publish), outside text is
cleaned, and text is wrapped and cut to its space."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

from shared.reports.model import LeadReport
from shared.reports.pdf import (
    BOLD,
    REGULAR,
    REPORT_BOLD,
    REPORT_CHARACTERS,
    REPORT_REGULAR,
    _Document,
    clean,
    render_pdf,
)

ROOT = Path(__file__).resolve().parents[2]


def test_the_fonts_and_their_licence_ship_inside_the_package():
    for font in (REGULAR, BOLD, REPORT_REGULAR, REPORT_BOLD):
        assert font.is_file() and font.stat().st_size > 100_000
        assert font.is_relative_to(ROOT / "shared")
    licence = (REGULAR.parent / "LICENSE.txt").read_text(encoding="utf-8")
    assert "Bitstream" in licence and "DejaVu" in licence
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"
    ]["*"]
    assert "reports/fonts/*.ttf" in package_data and "reports/fonts/*.txt" in package_data
    ignored = [
        line.strip()
        for line in (ROOT / ".funcignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for path in ("shared/reports/fonts/DejaVuSans-Report.ttf", "shared/reports/fonts/LICENSE.txt"):
        parts = path.split("/")
        for pattern in ignored:
            bare = pattern.rstrip("/")
            assert not any(fnmatch.fnmatch(part, bare) for part in parts), (path, pattern)
            assert not fnmatch.fnmatch(path, bare), (path, pattern)


def test_the_report_cuts_of_the_fonts_are_current():
    """What a report embeds is the bundled fonts cut to REPORT_CHARACTERS (python -m devtools.report_fonts)."""
    from fontTools.ttLib import TTFont

    for full, cut in ((REGULAR, REPORT_REGULAR), (BOLD, REPORT_BOLD)):
        wanted = set(TTFont(str(full)).getBestCmap()) & set(REPORT_CHARACTERS)
        assert {ord(c) for c in "şığİçöüŞĞÇÖÜ€₺…•—"} <= wanted
        assert set(TTFont(str(cut)).getBestCmap()) == wanted, (
            f"{cut.name} is stale: run python -m devtools.report_fonts"
        )
        assert "GSUB" not in TTFont(str(cut)) and "glyf" in TTFont(str(cut))


def test_outside_text_is_cleaned_before_it_is_drawn():
    render_pdf([LeadReport(domain="a.com.tr")], lang="tr", version="t")  # the fonts are known from here on
    assert clean("Şişli İnşaat ığüöç ĞÜŞİÖÇ") == "Şişli İnşaat ığüöç ĞÜŞİÖÇ"
    assert clean("a\x00b\x07c\u202ed\u200be\ufeff") == "abcde"  # controls, bidi override, zero-width, BOM
    assert clean("  a \t\n b  ") == "a b"
    assert clean("ok 😀 \U000e0041") == "ok \ufffd"  # emoji outside the report's glyphs → U+FFFD; a tag dropped
    assert clean("x" * 1000, 50) == "x" * 49 + "…"
    assert clean(None) == "None" and clean(42) == "42"


def test_text_wraps_and_cuts_to_its_width():
    pdf = _Document("tr", "footer")
    pdf.add_page()
    pdf.font(8)
    word = "ş" * 400
    lines = pdf.wrap(f"kısa {word} son", 50)
    assert lines[0] == "kısa" and lines[-1].endswith("son")
    assert all(pdf.width(line) <= 50 + 1e-6 for line in lines)
    assert "".join(lines[1:-1]) + lines[-1].removesuffix(" son") == word
    assert len(pdf.lines(f"kısa {word} son", 50, 2)) == 2 and pdf.lines(word, 50, 2)[-1].endswith("…")
    cut = pdf.fit("Çok uzun bir şirket adı " * 10, 40)
    assert cut.endswith("…") and pdf.width(cut) <= 40 + 1e-6
    assert pdf.fit("kısa", 40) == "kısa"
    assert abs(pdf.width("İstanbul ağı") - pdf.get_string_width("İstanbul ağı")) < 1e-6  # fpdf2's measure
