"""The web app's Turkish texts for server messages must keep up with the server's English ones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.core.domains import parse

I18N = Path(__file__).resolve().parents[2] / "shared" / "web" / "js" / "i18n.js"


def _patterns() -> list[re.Pattern[str]]:
    block = I18N.read_text(encoding="utf-8").split("const INPUT_ERRORS_TR = [", 1)[1].split("];", 1)[0]
    return [re.compile(found) for found in re.findall(r"\[/(\^.*?\$)/,", block)]


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
        "localhost",
        "acme.notatld",
        "com.tr",
        "http://exa mple.com:99999",
    ],
)
def test_every_reason_a_domain_is_refused_has_a_turkish_text(value: str) -> None:
    error = parse(value).error
    assert error, value
    assert any(p.match(error) for p in _patterns()), f"no Turkish text for {error!r}: add it to INPUT_ERRORS_TR"


def test_every_scoring_rule_has_a_label_in_both_languages() -> None:
    from shared.core.scoring import load_rules

    texts = (I18N.parent / "texts.js").read_text(encoding="utf-8")
    turkish, english = texts.split("const en = {", 1)
    rules = load_rules()
    ids = [r.id for r in rules.score_rules] + [rules.clamp.id, rules.hard_fail.id, "no_rule_fired"]
    for rule_id in ids:
        assert f'"rule.{rule_id}":' in turkish, f"no Turkish label for rule {rule_id}"
        assert f'"rule.{rule_id}":' in english, f"no English label for rule {rule_id}"
