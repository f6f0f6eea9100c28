"""Cells that stay data in a spreadsheet, whatever text came from outside (OWASP "CSV Injection").

A company name from an upload or a Partner Center referral such as ``=HYPERLINK("http://…"&A1)``,
``+cmd|' /C calc'!A0``, ``-2+3`` or ``@SUM(1+1)`` would otherwise run as a formula when a rep opens
the export. Pure: the exports call these per cell.
"""

from __future__ import annotations

from datetime import datetime

from shared.core.text import CONTROL_CHARACTERS

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


def neutral_text(text: str) -> str:
    """``text`` without control characters, with a leading ``'`` when it would start a formula.

    The quote is OWASP's recommendation for CSV: Excel and LibreOffice show the rest as text."""
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + CONTROL_CHARACTERS.sub(" ", text)
    return CONTROL_CHARACTERS.sub(" ", text)


def csv_cell(value: object) -> object:
    """A CSV cell: numbers stay numbers, datetimes become ISO 8601, text is neutralised, None is empty."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return neutral_text(str(value))


def xlsx_value(value: object) -> object:
    """An XLSX cell's value before its type is forced: text without control characters (openpyxl
    refuses them), naive datetimes (XLSX has no time zones), numbers as they are. The caller stores
    every text cell with the string type, so a leading ``=`` is shown, never evaluated."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return CONTROL_CHARACTERS.sub(" ", str(value))
