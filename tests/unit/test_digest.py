"""The change-alert e-mail digest (shared/core/digest.py): grouping, order, languages, escaping, links, the cap."""

from __future__ import annotations

import copy as copy_module
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.core import digest
from shared.core.digest import MAX_EVENTS, DigestMessage, render_digest

HUNTER = "https://hunter.example.com/"
START = datetime(2025, 12, 4, tzinfo=UTC)
END = datetime(2025, 12, 11, tzinfo=UTC)
EVIL_NAME = "<script>alert(1)</script> & Co"


def event(
    kind: str,
    domain: str,
    *,
    at: datetime | str = START,
    company: str | None = None,
    before: Any = None,
    after: Any = None,
    priority: str | None = None,
    score: int | None = None,
    lead_url: str | None = "default",
) -> dict[str, Any]:
    return {
        "type": kind,
        "timestamp": at.isoformat().replace("+00:00", "Z") if isinstance(at, datetime) else at,
        "data": {
            "event_id": f"{kind}:{domain}:{at}",
            "domain": domain,
            "company_name": company,
            "from": before,
            "to": after,
            "priority": priority,
            "score": score,
            "lead_url": f"{HUNTER}#/leads/{domain}" if lead_url == "default" else lead_url,
        },
    }


def render(events: list[dict[str, Any]], lang: str = "tr", **overrides: Any) -> DigestMessage:
    arguments: dict[str, Any] = {"lang": lang, "period_start": START, "period_end": END, "hunter_url": HUNTER}
    arguments.update(overrides)
    return render_digest(events, **arguments)


class Links(HTMLParser):
    """Every href, and the text of every <li>, of an HTML part."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []
        self.items: list[str] = []
        self.tags: list[str] = []
        self._in_li = False
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href") or "")
        if tag == "li":
            self._in_li = True
            self.items.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "li":
            self._in_li = False

    def handle_data(self, data: str) -> None:
        if self._in_li:
            self.items[-1] += data


def day(n: int, hour: int = 12) -> datetime:
    return START + timedelta(days=n, hours=hour)


MIXED = [
    event("lead.priority_changed", "prio-old.com", at=day(1), before="P5", after="P4", priority="P4", score=40),
    event("d365.push_failed", "d365.com", at=day(2), after="HTTP 403 Forbidden"),
    event("lead.dmarc_changed", "dmarc.com", at=day(1), before="none", after="reject", priority="P3", score=55),
    event("lead.provider_changed", "old-move.com", at=day(0), before="Google", after="M365", priority="P2", score=70),
    event("lead.hot", "hot-old.com", at=day(1), company="Eski Sıcak A.Ş.", before="P3", after="P2", priority="P2"),
    event("lead.mx_changed", "mx.com", at=day(5), before=["mx1.mx.com", "mx2.mx.com"], after=None, priority="P6"),
    event("referral.received", "ref.com", at=day(6), after="co-sell"),
    event("lead.gateway_changed", "gw.com", at=day(3), before=None, after="Mimecast", priority="P3", score=60),
    event("lead.provider_changed", "new-move.com", at=day(4), before="M365", after="Google", priority="P1", score=88),
    event(
        "lead.hot", "hot-new.com", at=day(6), company="Yeni Şirket", before="P4", after="P1", priority="P1", score=95
    ),
    event("lead.priority_changed", "prio-new.com", at=day(6), before="P3", after="P2", priority="P2", score=80),
    event("lead.someday_new_type", "unknown.com", at=day(6)),
]
ORDER = [
    "hot-new.com",
    "hot-old.com",
    "new-move.com",
    "old-move.com",
    "mx.com",  # security: gateway, DMARC and MX together, newest first
    "gw.com",
    "dmarc.com",
    "prio-new.com",
    "prio-old.com",
    "ref.com",  # integration items
    "d365.com",
    "unknown.com",  # a type this module does not know: last, not dropped
]


def positions(text: str, needles: list[str]) -> list[int]:
    found = [text.find(needle) for needle in needles]
    assert all(index >= 0 for index in found), dict(zip(needles, found, strict=True))
    return found


# -- grouping and order --------------------------------------------------------------------------


def test_groups_come_in_the_fixed_order_and_newest_first_within_each() -> None:
    message = render(MIXED, "en")
    lines = [line for line in message.text.splitlines() if line.startswith("- ")]
    assert len(lines) == len(MIXED)
    assert [next(domain for domain in ORDER if domain in line) for line in lines] == ORDER

    headings = ["New hot leads (2)", "Mail provider moves (2)", "Security changes (3)", "Priority changes (2)"]
    headings += ["Integrations (2)", "Other (1)"]
    found = positions(message.text, headings)
    assert found == sorted(found)
    html_found = positions(message.html, headings)
    assert html_found == sorted(html_found)
    items = Links(message.html).items
    assert [next(domain for domain in ORDER if domain in item) for item in items] == ORDER


def test_each_line_names_the_company_the_change_priority_and_score_and_links_the_lead() -> None:
    message = render(MIXED, "tr")
    assert "- Yeni Şirket (hot-new.com) — sıcak müşteri oldu: P4 → P1 · öncelik P1 · puan 95" in message.text
    assert f"  {HUNTER}#/leads/hot-new.com" in message.text
    assert "- new-move.com — e-posta sağlayıcısı: M365 → Google · öncelik P1 · puan 88" in message.text
    assert "- gw.com — e-posta ağ geçidi: yok → Mimecast · öncelik P3 · puan 60" in message.text
    assert "- mx.com — MX kayıtları: mx1.mx.com, mx2.mx.com → yok · öncelik P6" in message.text
    assert "- d365.com — Dynamics 365 aktarımı başarısız: HTTP 403 Forbidden" in message.text
    assert "- ref.com — yeni Partner Center yönlendirmesi: co-sell" in message.text
    hrefs = Links(message.html).hrefs
    assert f"{HUNTER}#/leads/hot-new.com" in hrefs
    assert f"{HUNTER}#/leads/d365.com" in hrefs


def test_ties_keep_the_input_order_and_unreadable_timestamps_sort_last() -> None:
    events = [
        event("lead.provider_changed", "first.com", at=day(2), before="A", after="B"),
        event("lead.provider_changed", "broken.com", at="yesterday", before="A", after="B"),
        event("lead.provider_changed", "second.com", at=day(2), before="A", after="B"),
        event("lead.provider_changed", "naive.com", at="2025-12-09T10:00:00", before="A", after="B"),
    ]
    text = render(events, "en").text
    found = positions(text, ["naive.com", "first.com", "second.com", "broken.com"])
    assert found == sorted(found)


# -- languages -----------------------------------------------------------------------------------


def test_turkish_subject_keeps_its_letters_and_counts_hot_leads() -> None:
    events = [
        event("lead.hot", "acme.com.tr", at=day(1), company="Acme", before="P3", after="P1", priority="P1", score=90),
        event("lead.provider_changed", "beta.com.tr", at=day(2), before="Google", after="M365"),
        event("lead.dmarc_changed", "gamma.com.tr", at=day(3), before="none", after="reject"),
    ]
    message = render(events)  # Turkish is the default
    assert message.subject == "Hunter: 3 değişiklik, 1 yeni sıcak müşteri (4–11 Aralık)"
    assert message == render(events, "tr") == render(events, "TR") == render(events, "tr-TR")
    assert {"ğ", "ş", "ı", "ü"} <= set(message.subject)
    assert "4–11 Aralık 2025 döneminde izlenen müşteri adaylarında 3 değişiklik oldu." in message.text


def test_english_texts_and_plurals() -> None:
    one = [event("lead.hot", "acme.com", before="P3", after="P1", priority="P1", score=90)]
    assert render(one, "en").subject == "Hunter: 1 change, 1 new hot lead (4–11 December)"
    three = [*one, *(event("lead.hot", f"l{i}.com", before="P3", after="P2") for i in range(2))]
    assert render(three, "en").subject == "Hunter: 3 changes, 3 new hot leads (4–11 December)"
    no_hot = [event("lead.mx_changed", "a.com", before="x", after="y")]
    assert render(no_hot, "en").subject == "Hunter: 1 change (4–11 December)"
    assert render(no_hot, "tr").subject == "Hunter: 1 değişiklik (4–11 Aralık)"
    message = render(MIXED, "en")
    assert "- Yeni Şirket (hot-new.com) — became a hot lead: P4 → P1 · priority P1 · score 95" in message.text
    assert "- gw.com — mail gateway: none → Mimecast · priority P3 · score 60" in message.text
    assert '<html lang="en">' in message.html


def test_a_lead_that_turned_hot_twice_is_one_new_hot_lead() -> None:
    events = [event("lead.hot", "acme.com", at=day(i), before="P3", after="P1") for i in range(2)]
    assert render(events, "en").subject == "Hunter: 2 changes, 1 new hot lead (4–11 December)"


def test_numbers_and_dates_follow_the_language() -> None:
    events = [event("lead.priority_changed", "big.com", before="P4", after="P3", score=12345)]
    assert "puan 12.345" in render(events, "tr").text
    assert "score 12,345" in render(events, "en").text
    across_months = {
        "period_start": datetime(2025, 11, 28, tzinfo=UTC),
        "period_end": datetime(2025, 12, 5, tzinfo=UTC),
    }
    assert render(events, "tr", **across_months).subject.endswith("(28 Kasım – 5 Aralık)")
    assert render(events, "en", **across_months).subject.endswith("(28 November – 5 December)")
    across_years = {"period_start": datetime(2025, 12, 29, tzinfo=UTC), "period_end": datetime(2026, 1, 5, tzinfo=UTC)}
    assert render(events, "tr", **across_years).subject.endswith("(29 Aralık 2025 – 5 Ocak 2026)")
    one_day = {"period_start": datetime(2025, 6, 2, tzinfo=UTC), "period_end": datetime(2025, 6, 2, 23, tzinfo=UTC)}
    assert render(events, "en", **one_day).subject.endswith("(2 June)")


def test_an_unsupported_language_is_refused() -> None:
    with pytest.raises(ValueError, match="supported languages: tr, en"):
        render(MIXED, "de")


def test_the_texts_file_is_checked_on_load() -> None:
    assert set(digest.load_texts()) == {"tr", "en"}
    source = (Path(digest.__file__).parent / "digest_texts.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(source)

    def broken(change: Callable[[dict[str, Any]], None]) -> str:
        copy = copy_module.deepcopy(data)
        change(copy)
        return yaml.safe_dump(copy, allow_unicode=True)

    digest.parse_texts(broken(lambda d: None))
    with pytest.raises(ValueError, match="en does not have the same keys"):
        digest.parse_texts(broken(lambda d: d["en"].pop("footer")))
    with pytest.raises(ValueError, match="twelve month names"):
        digest.parse_texts(broken(lambda d: [d[lang]["months"].pop() for lang in ("tr", "en")]))
    with pytest.raises(ValueError, match="events lacks: lead.hot"):
        digest.parse_texts(broken(lambda d: [d[lang]["events"].pop("lead.hot") for lang in ("tr", "en")]))
    with pytest.raises(ValueError, match="unknown placeholder"):
        digest.parse_texts(broken(lambda d: d["tr"].update(more="ve {count} değişiklik daha")))
    with pytest.raises(ValueError, match="no texts for en"):
        digest.parse_texts(broken(lambda d: d.pop("en")))


# -- safety --------------------------------------------------------------------------------------


def test_html_escapes_every_outside_value() -> None:
    events = [
        event("lead.hot", "evil.com", company=EVIL_NAME, before="<b>P3</b>", after='P1" onmouseover="x', priority="P1"),
        event("lead.provider_changed", "<img src=x onerror=alert(2)>.com", before="A&B", after="<i>M365</i>"),
    ]
    message = render(events, "en")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in message.html
    assert "<script" not in message.html.lower()
    assert "<img" not in message.html.lower() and "&lt;img src=x onerror=alert(2)&gt;.com" in message.html
    assert "<b>" not in message.html and "<i>" not in message.html
    assert 'onmouseover="x' not in message.html
    assert set(Links(message.html).tags) <= {"html", "head", "meta", "title", "body", "h1", "p", "h2", "ul", "li"} | {
        "a",
        "strong",
        "span",
    }
    item = Links(message.html).items[0]
    assert EVIL_NAME in item  # escaped, so a browser shows exactly the name
    assert f"- {EVIL_NAME} (evil.com)" in message.text  # the plain-text part shows it as is


def test_control_characters_cannot_break_a_line_or_the_subject() -> None:
    events = [event("lead.hot", "a.com", company="Acme\r\nBcc: evil@example.com\u202e", before="P3", after="P1")]
    message = render(events, "en")
    assert "\r" not in message.subject and "\n" not in message.subject
    assert "- Acme Bcc: evil@example.com (a.com) — became a hot lead: P3 → P1" in message.text
    assert "\u202e" not in message.text and "\u202e" not in message.html


@pytest.mark.parametrize(
    "lead_url",
    [
        "https://evil.example.net/#/leads/acme.com",
        "https://hunter.example.com.evil.test/#/leads/acme.com",
        "https://hunter.example.com@evil.test/#/leads/acme.com",
        "javascript:alert(1)//https://hunter.example.com/",
        "https://hunter.example.com/#/leads/acme.com\nhttps://evil.test/",
        42,
    ],
)
@pytest.mark.parametrize("hunter_url", ["https://hunter.example.com/", "https://hunter.example.com"])
def test_a_lead_url_outside_hunter_url_is_not_linked(lead_url: Any, hunter_url: str) -> None:
    events = [event("lead.hot", "acme.com", company="Acme", before="P3", after="P1", lead_url=lead_url)]
    message = render(events, "en", hunter_url=hunter_url)
    assert Links(message.html).hrefs == [hunter_url]  # only the footer's link to Hunter itself
    assert "evil" not in message.html and "evil" not in message.text
    assert "<strong>Acme</strong>" in message.html  # the name is still there, as text


def test_a_lead_url_under_hunter_url_is_linked_with_or_without_the_trailing_slash() -> None:
    for hunter_url in ("https://hunter.example.com", "https://hunter.example.com/"):
        events = [event("lead.hot", "acme.com", lead_url="https://hunter.example.com/#/leads/acme.com?x=1&y=2")]
        message = render(events, "en", hunter_url=hunter_url)
        assert 'href="https://hunter.example.com/#/leads/acme.com?x=1&amp;y=2"' in message.html
        assert "https://hunter.example.com/#/leads/acme.com?x=1&y=2" in Links(message.html).hrefs


def test_a_hunter_url_that_is_not_http_links_nothing() -> None:
    events = [event("lead.hot", "acme.com", lead_url="javascript:alert(1)#/leads/acme.com")]
    message = render(events, "en", hunter_url="javascript:alert(1)")
    assert Links(message.html).hrefs == []
    assert "javascript" not in message.html


def test_a_missing_company_name_falls_back_to_the_domain_and_odd_values_render() -> None:
    events = [
        event("lead.gateway_changed", "bare.com", before={"vendor": "Proofpoint"}, after=[], score=None),
        {"type": "lead.mx_changed", "timestamp": START.isoformat(), "data": None},
    ]
    text = render(events, "en").text
    assert "- bare.com — mail gateway: vendor: Proofpoint → none" in text
    assert "- — — MX records" in text
    with pytest.raises(TypeError):
        render(["not an event"], "en")  # type: ignore[list-item]


# -- the cap -------------------------------------------------------------------------------------


def test_the_digest_stops_at_500_lines_and_links_the_rest() -> None:
    extra = 37
    events = [
        event("lead.dmarc_changed", f"d{i:04}.com", at=START + timedelta(minutes=i), before="none", after="reject")
        for i in range(MAX_EVENTS + extra - 1)
    ]
    events.append(event("lead.hot", "the-hot-one.com", at=START, before="P3", after="P1"))  # oldest, still shown
    for lang, more in (("tr", f"ve {extra} değişiklik daha"), ("en", f"and {extra} more")):
        message = render(events, lang)
        items = Links(message.html).items
        assert len(items) == MAX_EVENTS
        assert "the-hot-one.com" in items[0]
        assert len([line for line in message.text.splitlines() if line.startswith("- ")]) == MAX_EVENTS
        link = f"{HUNTER}#/leads?changed_since=2025-12-04"
        assert f"{more}: {link}" in message.text
        assert link in Links(message.html).hrefs
        assert more in message.html
        total = f"{MAX_EVENTS + extra:,}".replace(",", "." if lang == "tr" else ",")
        assert message.subject.startswith(f"Hunter: {total} ")
    exactly = render(events[: MAX_EVENTS - 1] + events[-1:], "en")
    assert "more" not in exactly.text and "changed_since" not in exactly.html


def test_subject_and_text_hold_no_markup_and_html_is_inline_styled() -> None:
    message = render(MIXED, "tr")
    assert "<style" not in message.html and "<link" not in message.html
    assert re.search(r'<body style="[^"]+">', message.html)
    assert message.text.endswith("\n") and "<" not in message.text
