"""Cut the bundled DejaVu Sans fonts down to what a PDF lead report draws.

``shared/reports/fonts/DejaVuSans.ttf`` and ``DejaVuSans-Bold.ttf`` are the distribution's fonts,
unchanged. A report embeds the ``-Report`` cuts this writes beside them: only the characters of
``shared.reports.pdf.REPORT_CHARACTERS`` (Latin with Turkish, Greek, Cyrillic, punctuation, currency,
arrows, symbols; ~1,700 of DejaVu's ~5,900 glyphs) and no shaping, kerning or hinting tables, which
the report does not use. fpdf2 then reads and subsets a third of the glyphs per document, which makes
a report about three times faster. Run it after changing ``REPORT_CHARACTERS`` (a unit test fails
until the committed cuts match):

    python -m devtools.report_fonts
"""

from __future__ import annotations

import sys

from fontTools import subset
from fontTools.ttLib import TTFont

from shared.reports.pdf import BOLD, REGULAR, REPORT_BOLD, REPORT_CHARACTERS, REPORT_REGULAR

DROPPED_TABLES = ("FFTM", "GSUB", "GPOS", "GDEF", "kern", "MATH")


def cut(source, target) -> None:  # type: ignore[no-untyped-def]
    font = TTFont(str(source), recalcTimestamp=False)
    options = subset.Options(notdef_outline=True, recommended_glyphs=True, hinting=False, name_IDs=["*"])
    options.layout_features = []
    options.drop_tables = [*options.drop_tables, *DROPPED_TABLES]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=REPORT_CHARACTERS)
    subsetter.subset(font)
    font.save(str(target))


def main() -> None:
    for source, target in ((REGULAR, REPORT_REGULAR), (BOLD, REPORT_BOLD)):
        cut(source, target)
        print(target, file=sys.stdout)


if __name__ == "__main__":
    main()
