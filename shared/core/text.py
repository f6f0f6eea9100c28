"""Text folding for search: case-, accent- and dotted/dotless-i-insensitive.

A rep types "sisli" or "ŞİŞLİ" and expects "Şişli İnşaat"; SQLite's LIKE folds ASCII only, so
a folded copy is stored and the query is folded the same way.
"""

import unicodedata


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.replace("ı", "i").replace("İ", "i"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
