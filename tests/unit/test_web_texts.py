"""The web app's texts for the server's reason codes must keep up with the codes (and its English with the server's)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from shared.core.domains import REASON_TEXTS, DomainErrorCode, parse

I18N = Path(__file__).resolve().parents[2] / "shared" / "web" / "js" / "i18n.js"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _input_errors() -> dict[str, dict[str, str]]:
    """The web app's INPUT_ERRORS table: language -> code -> text."""
    block = I18N.read_text(encoding="utf-8").split("const INPUT_ERRORS = {", 1)[1].split("\n};", 1)[0]
    tables: dict[str, dict[str, str]] = {}
    for lang, body in re.findall(r"^  (\w+): \{\n(.*?)^  \},?$", block, flags=re.MULTILINE | re.DOTALL):
        tables[lang] = {
            code: json.loads(f'"{text}"')
            for code, text in re.findall(r'^ {4}(\w+): "((?:[^"\\]|\\.)*)",?$', body, flags=re.MULTILINE)
        }
    return tables


def _fill(text: str, params: dict[str, str]) -> str:
    """What i18n.js inputError does with a text and the params."""
    return _PLACEHOLDER.sub(lambda m: params.get(m.group(1), m.group(0)), text)


def test_every_domain_error_code_has_a_turkish_and_an_english_text() -> None:
    tables = _input_errors()
    assert set(tables) == {"tr", "en"}
    codes = {code.value for code in DomainErrorCode}
    for lang, table in tables.items():
        assert set(table) == codes, f"INPUT_ERRORS.{lang} must name exactly the DomainErrorCode values"
        for code, text in table.items():
            wanted = set(_PLACEHOLDER.findall(REASON_TEXTS[DomainErrorCode(code)]))
            assert set(_PLACEHOLDER.findall(text)) == wanted, f"{lang}.{code} must use the placeholders {wanted}"


def test_the_web_apps_english_texts_are_the_servers() -> None:
    english = _input_errors()["en"]
    assert english == {code.value: text for code, text in REASON_TEXTS.items()}


@pytest.mark.parametrize(
    "value",
    [
        "",
        "-",
        "bu değil bir alan adı",
        "192.168.1.10",
        "https://[::1]/",
        "http://",
        "xn--a.com",
        "acme_corp.com",
        "a" * 64 + ".com",
        "localhost",
        "acme.notatld",
        "com.tr",
        "http://exa mple.com:99999",
        "acme.com:abc",
    ],
)
def test_every_reason_a_domain_is_refused_has_a_text_in_both_languages(value: str) -> None:
    parsed = parse(value)
    assert parsed.error and parsed.code is not None, value
    tables = _input_errors()
    assert _fill(tables["en"][parsed.code], parsed.params or {}) == parsed.error
    turkish = _fill(tables["tr"][parsed.code], parsed.params or {})
    assert turkish and not _PLACEHOLDER.search(turkish), turkish


def test_every_scoring_rule_has_a_label_in_both_languages() -> None:
    from shared.core.scoring import load_rules

    texts = (I18N.parent / "texts.js").read_text(encoding="utf-8")
    turkish, english = texts.split("const en = {", 1)
    rules = load_rules()
    ids = [r.id for r in rules.score_rules] + [rules.clamp.id, rules.hard_fail.id, "no_rule_fired"]
    for rule_id in ids:
        assert f'"rule.{rule_id}":' in turkish, f"no Turkish label for rule {rule_id}"
        assert f'"rule.{rule_id}":' in english, f"no English label for rule {rule_id}"
