"""Text folding for search: case-, accent- and dotted/dotless-i-insensitive.

A rep types "sisli" or "ŞİŞLİ" and expects "Şişli İnşaat"; SQLite's LIKE folds ASCII only, so
a folded copy is stored and the query is folded the same way.
"""

import re
import unicodedata


def fold(text: str) -> str:
    if text.isascii():  # nothing to decompose or strip (every domain name, most company names)
        return text.casefold()
    decomposed = unicodedata.normalize("NFKD", text.replace("ı", "i").replace("İ", "i"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


# C0 and C1 control characters, DEL, and the bidirectional overrides and isolates that can make a
# name read differently from what it is (in a spreadsheet, a log line or an e-mail).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"\s+")


def clean_text(text: str | None, max_length: int | None = None) -> str | None:
    """Outside text (a company name from an upload or a referral) as Hunter stores it: control and
    bidi-override characters become spaces, runs of white space one space, trimmed; None when empty.

    Why at input: openpyxl refuses a cell holding a control character (one such name made every
    XLSX export fail), and a tab or carriage return at the start of a cell is a formula trigger."""
    if text is None:
        return None
    cleaned = _SPACES.sub(" ", CONTROL_CHARACTERS.sub(" ", str(text))).strip()
    if max_length is not None:
        cleaned = cleaned[:max_length].rstrip()
    return cleaned or None
