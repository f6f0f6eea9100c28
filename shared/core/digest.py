"""The e-mail digest of change alerts: events in, one subject, a plain-text part and an HTML part out. Pure.

An event is the JSON object the alert queue carries::

    {"type": "lead.provider_changed", "timestamp": "2025-12-05T09:30:00Z",
     "data": {"event_id": "…", "domain": "acme.com.tr", "company_name": "Acme A.Ş.", "from": "Google",
              "to": "M365", "priority": "P2", "score": 74, "lead_url": "https://hunter…/#/leads/acme.com.tr"}}

The digest groups them (new hot leads, provider moves, security changes, priority changes,
integration items, then any type this module does not know yet), newest first within a group,
one line per event. The words are data (``digest_texts.yaml``, Turkish and English).

Safety: every outside value (company name, domain, from/to, priority, URLs) is cleaned of control
and bidi-override characters and passed through :func:`html.escape` in the HTML part; a
``lead_url`` becomes a link only when it lies under ``hunter_url`` (same origin and path prefix),
any other is left out, so a forged event cannot put a foreign link in a rep's inbox.
"""

from __future__ import annotations

import html
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from shared.core.text import CONTROL_CHARACTERS, clean_text

MAX_EVENTS = 500  # lines in one digest; the rest is "and N more" with a link to the lead list
MAX_VALUE_LENGTH = 200  # one from/to value, a company name or a priority, in characters
SUPPORTED_LANGS = ("tr", "en")
DEFAULT_LANG = "tr"

# Display order of the groups, and the event types in each (anything else goes to "other").
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("hot", ("lead.hot",)),
    ("provider", ("lead.provider_changed",)),
    ("security", ("lead.gateway_changed", "lead.dmarc_changed", "lead.mx_changed")),
    ("priority", ("lead.priority_changed",)),
    ("integration", ("d365.push_failed", "referral.received")),
)
OTHER_GROUP = "other"
EVENT_TYPES = tuple(kind for _, kinds in GROUPS for kind in kinds)
_GROUP_OF = {kind: group for group, kinds in GROUPS for kind in kinds}
# Types whose from/to is a change of the lead itself: both sides are shown, a missing side as "none".
_LEAD_CHANGES = frozenset(kind for kind in EVENT_TYPES if kind.startswith("lead."))
_PLACEHOLDERS = frozenset(
    {"n", "day", "month", "year", "start_day", "end_day", "start", "end", "changes", "hot", "period", "label", "change"}
)
_OLDEST = datetime.min.replace(tzinfo=UTC)

# Inline styles: mail clients drop <style> blocks.
_FONT = "font-family:'Segoe UI',Arial,Helvetica,sans-serif"
_STYLE_BODY = f"margin:0;padding:16px;{_FONT};font-size:14px;line-height:1.45;color:#1b1b1b;background:#ffffff"
_STYLE_H1 = "margin:0 0 4px;font-size:20px;font-weight:600"
_STYLE_INTRO = "margin:0 0 16px;color:#555555"
_STYLE_H2 = "margin:20px 0 8px;font-size:16px;font-weight:600;border-bottom:1px solid #dddddd;padding-bottom:4px"
_STYLE_UL = "margin:0;padding:0 0 0 20px"
_STYLE_LI = "margin:0 0 6px"
_STYLE_LINK = "color:#0f6cbd;text-decoration:underline"
_STYLE_MUTED = "color:#555555"
_STYLE_MORE = "margin:16px 0 0;font-weight:600"
_STYLE_FOOTER = "margin:24px 0 0;font-size:12px;color:#777777"


@dataclass(frozen=True)
class DigestMessage:
    subject: str
    text: str  # the text/plain part
    html: str  # the text/html part


@dataclass(frozen=True)
class _Line:
    kind: str
    when: datetime
    name: str  # company name, or the domain
    domain: str | None  # shown after the name when the name is the company's
    change: str  # the from → to part, already worded ("" when there is none)
    details: tuple[str, ...]  # priority, score
    url: str | None  # a lead_url under hunter_url, else None


# -- texts ---------------------------------------------------------------------------------------


def check_lang(lang: str) -> str:
    """``tr``, ``en``, ``TR`` or ``tr-TR`` → ``tr``/``en``; anything else is a ValueError naming the supported ones."""
    primary = lang.strip().lower().replace("_", "-").split("-")[0] if isinstance(lang, str) else ""
    if primary not in SUPPORTED_LANGS:
        raise ValueError(f"unsupported language {lang!r}; supported languages: {', '.join(SUPPORTED_LANGS)}")
    return primary


def _shape(value: Any) -> Any:
    """The key structure of a texts block (for comparing languages)."""
    if isinstance(value, Mapping):
        return {key: _shape(item) for key, item in value.items()}
    return type(value).__name__


def _check_templates(value: Any, where: str) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _check_templates(item, f"{where}.{key}")
    elif isinstance(value, str):
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        except ValueError as exc:
            raise ValueError(f"digest_texts.yaml {where}: malformed template: {exc}") from None
        unknown = names - _PLACEHOLDERS
        if unknown:
            raise ValueError(f"digest_texts.yaml {where}: unknown placeholder(s) {', '.join(sorted(unknown))}")


def parse_texts(text: str) -> dict[str, dict[str, Any]]:
    """Read and check ``digest_texts.yaml``: every language, the same keys, every group and event type worded."""
    data = yaml.safe_load(text) or {}
    missing = [lang for lang in SUPPORTED_LANGS if not isinstance(data.get(lang), Mapping)]
    if missing:
        raise ValueError(f"digest_texts.yaml: no texts for {', '.join(missing)}")
    reference = _shape(data[SUPPORTED_LANGS[0]])
    for lang in SUPPORTED_LANGS[1:]:
        if _shape(data[lang]) != reference:
            raise ValueError(f"digest_texts.yaml: {lang} does not have the same keys as {SUPPORTED_LANGS[0]}")
    for lang in SUPPORTED_LANGS:
        texts = data[lang]
        months = texts.get("months")
        if not isinstance(months, list) or len(months) != 12 or not all(isinstance(m, str) for m in months):
            raise ValueError(f"digest_texts.yaml {lang}.months: twelve month names are needed")
        for section, wanted in (("groups", [g for g, _ in GROUPS] + [OTHER_GROUP]), ("events", EVENT_TYPES)):
            lacking = [key for key in wanted if not isinstance((texts.get(section) or {}).get(key), str)]
            if lacking:
                raise ValueError(f"digest_texts.yaml {lang}.{section} lacks: {', '.join(lacking)}")
        for plural in ("changes", "hot"):
            forms = texts.get(plural)
            if not isinstance(forms, Mapping) or not {"one", "other"} <= set(forms):
                raise ValueError(f"digest_texts.yaml {lang}.{plural}: needs 'one' and 'other'")
        _check_templates({key: value for key, value in texts.items() if key != "months"}, lang)
    return {lang: dict(data[lang]) for lang in SUPPORTED_LANGS}


@lru_cache(maxsize=1)
def load_texts() -> dict[str, dict[str, Any]]:
    """The bundled ``digest_texts.yaml``, checked."""
    return parse_texts(resources.files("shared.core").joinpath("digest_texts.yaml").read_text(encoding="utf-8"))


# -- formatting ----------------------------------------------------------------------------------


def format_number(value: int, texts: Mapping[str, Any]) -> str:
    """1234 → ``1.234`` (tr) or ``1,234`` (en)."""
    return f"{value:,}".replace(",", texts["thousands_separator"])


def _plural(texts: Mapping[str, Any], key: str, count: int) -> str:
    forms = texts[key]
    return forms["one" if count == 1 else "other"].format(n=format_number(count, texts))


def _date(day: date, texts: Mapping[str, Any], *, with_year: bool) -> str:
    template = texts["date_year"] if with_year else texts["date"]
    return template.format(day=day.day, month=texts["months"][day.month - 1], year=day.year)


def format_period(start: datetime, end: datetime, texts: Mapping[str, Any], *, with_year: bool) -> str:
    """``4–11 Aralık``, ``28 Kasım – 4 Aralık``, ``28 Aralık 2025 – 4 Ocak 2026`` (the year always when it changes)."""
    first, last = start.date(), end.date()
    if first == last:
        return _date(first, texts, with_year=with_year)
    if first.year != last.year:
        return texts["range"].format(start=_date(first, texts, with_year=True), end=_date(last, texts, with_year=True))
    if first.month == last.month:
        template = texts["day_range_year"] if with_year else texts["day_range"]
        return template.format(
            start_day=first.day, end_day=last.day, month=texts["months"][first.month - 1], year=first.year
        )
    return texts["range"].format(
        start=_date(first, texts, with_year=False), end=_date(last, texts, with_year=with_year)
    )


def _clip(text: str) -> str:
    return text if len(text) <= MAX_VALUE_LENGTH else text[: MAX_VALUE_LENGTH - 1].rstrip() + "…"


def _text(value: Any) -> str | None:
    """An outside value as one clean, bounded line of text (None when empty)."""
    if value is None:
        return None
    cleaned = clean_text(value if isinstance(value, str) else str(value))
    return _clip(cleaned) if cleaned else None


def format_value(value: Any, texts: Mapping[str, Any]) -> str:
    """A from/to value: None → "none", a list → "a, b", a mapping → "k: v, …", a number as the language writes it."""
    if value is None:
        return texts["none_value"]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return format_number(value, texts)
    if isinstance(value, Mapping):
        parts = [f"{_text(key) or ''}: {format_value(item, texts)}" for key, item in value.items()]
        return _clip(", ".join(parts)) if parts else texts["none_value"]
    if (isinstance(value, Sequence) and not isinstance(value, str | bytes)) or isinstance(value, set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
        parts = [format_value(item, texts) for item in items]
        return _clip(", ".join(parts)) if parts else texts["none_value"]
    return _text(value) or texts["none_value"]


def _timestamp(value: Any) -> datetime:
    """An ISO 8601 timestamp (``Z`` allowed; naive means UTC); an unreadable one sorts as the oldest."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return _OLDEST
    else:
        return _OLDEST
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _link_base(hunter_url: str) -> str | None:
    """``hunter_url`` when it is a plain http(s) URL Hunter can link to, else None (nothing gets linked)."""
    if not isinstance(hunter_url, str) or CONTROL_CHARACTERS.search(hunter_url) or any(c.isspace() for c in hunter_url):
        return None
    scheme, sep, rest = hunter_url.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest or rest[0] in "/?#":
        return None
    return hunter_url


def is_linkable(url: Any, hunter_url: str) -> bool:
    """Whether ``url`` lies under ``hunter_url``: a prefix that ends at a path, query or fragment boundary,
    so ``https://hunter.example.com.evil.test`` and ``https://hunter.example.com@evil.test`` are not."""
    base = _link_base(hunter_url)
    if base is None or not isinstance(url, str) or not url.startswith(base):
        return False
    if CONTROL_CHARACTERS.search(url) or any(c.isspace() for c in url):
        return False
    rest = url[len(base) :]
    return not rest or base.endswith(("/", "#", "?")) or rest[0] in "/?#"


def more_url(hunter_url: str, period_start: datetime) -> str:
    """The lead list filtered to what changed since the start of the period."""
    return f"{hunter_url}#/leads?changed_since={period_start.date().isoformat()}"


# -- the digest ----------------------------------------------------------------------------------


def _line(event: Mapping[str, Any], texts: Mapping[str, Any], hunter_url: str) -> _Line:
    kind = event.get("type")
    kind = kind if isinstance(kind, str) else ""
    data = event.get("data")
    data = data if isinstance(data, Mapping) else {}
    domain = _text(data.get("domain"))
    company = _text(data.get("company_name"))
    name = company or domain or _text(data.get("event_id")) or "—"
    before, after = data.get("from"), data.get("to")
    if before is None and after is None:
        change = ""
    elif before is None and kind not in _LEAD_CHANGES:
        change = format_value(after, texts)  # an integration item: what arrived, or what went wrong
    else:
        change = f"{format_value(before, texts)} → {format_value(after, texts)}"
    details: list[str] = []
    priority = _text(data.get("priority"))
    if priority:
        details.append(texts["priority"].format(n=priority))
    score = data.get("score")
    if isinstance(score, float) and score == score:  # not NaN
        score = round(score)
    if isinstance(score, int) and not isinstance(score, bool):
        details.append(texts["score"].format(n=format_number(score, texts)))
    url = data.get("lead_url")
    return _Line(
        kind=kind,
        when=_timestamp(event.get("timestamp")),
        name=name,
        domain=domain if company and domain and domain != company else None,
        change=change,
        details=tuple(details),
        url=url if is_linkable(url, hunter_url) else None,
    )


def _label(line: _Line, texts: Mapping[str, Any]) -> str:
    label = texts["events"].get(line.kind) or _text(line.kind) or "?"
    template = texts["line"] if line.change else texts["line_no_change"]
    return template.format(label=label, change=line.change)


def _text_line(line: _Line, texts: Mapping[str, Any]) -> str:
    name = f"{line.name} ({line.domain})" if line.domain else line.name
    parts = [_label(line, texts), *line.details]
    out = f"- {name} — {' · '.join(parts)}"
    return f"{out}\n  {line.url}" if line.url else out


def _html_line(line: _Line, texts: Mapping[str, Any]) -> str:
    esc = html.escape
    name = esc(line.name)
    if line.url:
        name = f'<a href="{esc(line.url)}" style="{_STYLE_LINK}">{name}</a>'
    else:
        name = f"<strong>{name}</strong>"
    if line.domain:
        name += f' <span style="{_STYLE_MUTED}">({esc(line.domain)})</span>'
    parts = [esc(_label(line, texts)), *(esc(detail) for detail in line.details)]
    return f'<li style="{_STYLE_LI}">{name} — {" · ".join(parts)}</li>'


def render_digest(
    events: list[dict],
    *,
    lang: str = DEFAULT_LANG,
    period_start: datetime,
    period_end: datetime,
    hunter_url: str,
) -> DigestMessage:
    """The digest of ``events`` (change alerts of the period) in ``lang`` (``tr`` by default, or ``en``).

    Groups in a fixed order (new hot leads, provider moves, security changes, priority changes,
    integration items, unknown types), newest first within each; at most :data:`MAX_EVENTS` lines,
    then "and N more" linking to ``{hunter_url}#/leads?changed_since=<period_start date>``.
    The subject counts every event and the distinct domains that became hot. Raises ValueError
    for an unsupported language and TypeError for an event that is not a mapping."""
    lang = check_lang(lang)
    texts = load_texts()[lang]
    for event in events:
        if not isinstance(event, Mapping):
            raise TypeError(f"a digest event must be a mapping, not {type(event).__name__}")

    lines = [_line(event, texts, hunter_url) for event in events]
    grouped: dict[str, list[_Line]] = {group: [] for group, _ in GROUPS}
    grouped[OTHER_GROUP] = []
    for line in lines:
        grouped[_GROUP_OF.get(line.kind, OTHER_GROUP)].append(line)
    for group_lines in grouped.values():
        group_lines.sort(key=lambda line: line.when, reverse=True)  # stable: ties keep the input order

    hot_domains = {
        line.domain or line.name for line in lines if line.kind == "lead.hot"
    }  # a lead that turned hot twice is one new hot lead
    total = len(lines)
    changes = _plural(texts, "changes", total)
    period_short = format_period(period_start, period_end, texts, with_year=False)
    period_long = format_period(period_start, period_end, texts, with_year=True)
    if hot_domains:
        subject = texts["subject"].format(
            changes=changes, hot=_plural(texts, "hot", len(hot_domains)), period=period_short
        )
    else:
        subject = texts["subject_no_hot"].format(changes=changes, period=period_short)
    subject = CONTROL_CHARACTERS.sub(" ", subject)  # one header line, whatever the texts say
    intro = texts["intro"].format(changes=changes, period=period_long)
    base = _link_base(hunter_url)

    text_out = [texts["title"], intro, ""]
    esc = html.escape
    html_out = [
        "<!DOCTYPE html>",
        f'<html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(subject)}</title></head>',
        f'<body style="{_STYLE_BODY}">',
        f'<h1 style="{_STYLE_H1}">{esc(texts["title"])}</h1>',
        f'<p style="{_STYLE_INTRO}">{esc(intro)}</p>',
    ]
    budget = MAX_EVENTS
    for group, group_lines in grouped.items():
        if not group_lines or budget <= 0:
            continue
        heading = f"{texts['groups'][group]} ({format_number(len(group_lines), texts)})"
        shown = group_lines[:budget]
        budget -= len(shown)
        text_out.append(heading)
        text_out.extend(_text_line(line, texts) for line in shown)
        text_out.append("")
        html_out.append(f'<h2 style="{_STYLE_H2}">{esc(heading)}</h2>')
        html_out.append(f'<ul style="{_STYLE_UL}">')
        html_out.extend(_html_line(line, texts) for line in shown)
        html_out.append("</ul>")

    hidden = total - min(total, MAX_EVENTS)
    if hidden:
        more = texts["more"].format(n=format_number(hidden, texts))
        if base is not None:
            link = more_url(base, period_start)
            text_out.extend([f"{more}: {link}", ""])
            html_out.append(
                f'<p style="{_STYLE_MORE}">{esc(more)}: '
                f'<a href="{esc(link)}" style="{_STYLE_LINK}">{esc(texts["more_link"])}</a></p>'
            )
        else:
            text_out.extend([more, ""])
            html_out.append(f'<p style="{_STYLE_MORE}">{esc(more)}</p>')

    text_out.extend(["-- ", texts["footer"]])
    footer = esc(texts["footer"])
    if base is not None:
        text_out.append(base)
        footer += f' <a href="{esc(base)}" style="{_STYLE_LINK}">{esc(texts["open"])}</a>'
    html_out.extend([f'<p style="{_STYLE_FOOTER}">{footer}</p>', "</body></html>"])
    return DigestMessage(subject=subject, text="\n".join(text_out) + "\n", html="\n".join(html_out) + "\n")
