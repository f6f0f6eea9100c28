"""What a change alert says, and the shapes Teams, Slack and signed webhooks receive. Pure.

The words live in ``notify_texts.yaml`` (English and Turkish, one entry per event type), read
once. Everything taken from an event (company names, domains, before/after values) is outside
text: it is flattened to one line, shortened, and escaped for the channel it goes to — Slack's
``&``, ``<`` and ``>`` (so ``<!channel>`` or ``<http://x|y>`` stay text), and the Markdown that
Teams renders in TextBlocks and facts (so ``[x](http://evil)`` never becomes a link).

Webhook signatures follow Standard Webhooks v1 (https://www.standardwebhooks.com):
``v1,<base64 HMAC-SHA256 of "{msg_id}.{timestamp}.{body}">`` under the secret ``whsec_<base64 key>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from shared.core.alerts import EVENT_TYPES as ALERT_TYPES

LANGUAGES = ("en", "tr")
DEFAULT_LANGUAGE = "en"
EVENT_TYPES = (*ALERT_TYPES, "hunter.test")  # the alerts, and the test event an admin sends
PLACEHOLDERS = frozenset({"company", "lead", "domain", "from", "to", "priority", "score", "type"})
LABELS = ("domain", "from", "to", "change", "priority", "score", "open", "none", "unknown")
SECRET_PREFIX = "whsec_"
MAX_VALUE_CHARS = 200  # one outside value in a title, body or fact; Slack allows 2,000 per field

_DEFAULT = "_default"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES = re.compile(r"\s+")
# Markdown that Adaptive Cards render in TextBlock and Fact values (links, emphasis, code, lists).
_TEAMS_SPECIAL = re.compile(r"([\\\[\]*_`<>])")
_TEAMS_BLOCK_START = re.compile(r"^(\s*(?:\d+)?)([-+#.)])(?=\s|$)")  # "- x", "# x", "1. x", "1) x"
_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f]+", re.IGNORECASE)


@dataclass(frozen=True)
class _Template:
    title: str
    body: str


@dataclass(frozen=True)
class NotifyTexts:
    """``notify_texts.yaml`` checked: every type in every language, only known placeholders."""

    templates: dict[str, dict[str, _Template]]  # type (or "_default") → language → template
    labels: dict[str, dict[str, str]]  # language → label name → text

    def template(self, event_type: str, lang: str) -> _Template:
        return (self.templates.get(event_type) or self.templates[_DEFAULT])[lang]


def _check_template(where: str, text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"notify texts: {where} must be a non-empty string")
    for _, name, spec, conversion in string.Formatter().parse(text):
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            raise ValueError(f"notify texts: {where} uses {{{name}}}; allowed: {sorted(PLACEHOLDERS)}")
    return text


def parse_texts(text: str) -> NotifyTexts:
    """Read and check the alert texts (the YAML of ``notify_texts.yaml``)."""
    data = yaml.safe_load(text) or {}
    raw_types = data.get("types") or {}
    raw_labels = data.get("labels") or {}
    missing = [t for t in (*EVENT_TYPES, _DEFAULT) if t not in raw_types]
    if missing:
        raise ValueError(f"notify texts: no entry for {missing}")
    templates: dict[str, dict[str, _Template]] = {}
    for event_type, languages in raw_types.items():
        templates[event_type] = {}
        for lang in LANGUAGES:
            entry = (languages or {}).get(lang)
            if not isinstance(entry, dict):
                raise ValueError(f"notify texts: {event_type} has no {lang} text")
            title = _check_template(f"{event_type}.{lang}.title", entry.get("title"))
            if "\n" in title.strip():
                raise ValueError(f"notify texts: {event_type}.{lang}.title must be one line")
            body = _check_template(f"{event_type}.{lang}.body", entry.get("body"))
            templates[event_type][lang] = _Template(title.strip(), " ".join(body.split()))
    labels: dict[str, dict[str, str]] = {}
    for lang in LANGUAGES:
        given = raw_labels.get(lang) or {}
        absent = [name for name in LABELS if not isinstance(given.get(name), str)]
        if absent:
            raise ValueError(f"notify texts: labels.{lang} lacks {absent}")
        labels[lang] = {name: given[name] for name in LABELS}
    return NotifyTexts(templates, labels)


@lru_cache(maxsize=1)
def texts() -> NotifyTexts:
    """The shipped alert texts, read once."""
    return parse_texts(resources.files("shared.core").joinpath("notify_texts.yaml").read_text(encoding="utf-8"))


# -- outside values --------------------------------------------------------------------------------


def language(lang: str | None) -> str:
    """``tr``, ``tr-TR`` and ``TR`` → ``tr``; anything not offered → English."""
    base = (lang or "").strip().lower().replace("_", "-").split("-", 1)[0]
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


def one_line(value: str, limit: int = MAX_VALUE_CHARS) -> str:
    """Outside text on one line: control characters and runs of white space become one space; shortened."""
    flat = _SPACES.sub(" ", _CONTROL.sub(" ", value)).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _plain(value: Any, none: str) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return none
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return ", ".join(f"{key}: {_plain(item, none)}" for key, item in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return ", ".join(_plain(item, none) for item in items)
    return str(value)


def display_value(value: Any, none: str) -> str:
    """A before/after value as one short line (``none`` when there was no value)."""
    return one_line(_plain(value, none)) or none


@dataclass(frozen=True)
class _Facts:
    """An event's outside values, already flattened (not yet escaped for a channel)."""

    type: str
    company: str
    domain: str
    lead: str
    before: str
    after: str
    priority: str
    score: str
    lead_url: str | None


def safe_url(value: Any) -> str | None:
    """``lead_url`` when it is one plain http(s) URL, else None (no javascript:, no spaces, bounded)."""
    if not isinstance(value, str) or len(value) > 2000:
        return None
    match = _URL.fullmatch(value.strip())
    return match.group(0) if match else None


def _facts(event: Mapping[str, Any], lang: str) -> _Facts:
    labels = texts().labels[lang]
    data = event.get("data") or {}
    if not isinstance(data, Mapping):
        data = {}
    domain = one_line(str(data.get("domain") or "")) or labels["unknown"]
    name = data.get("company_name")
    company = one_line(name) if isinstance(name, str) else ""
    lead = f"{company} ({domain})" if company and company.lower() != domain.lower() else (company or domain)
    score = data.get("score")
    return _Facts(
        type=one_line(str(event.get("type") or "")) or labels["unknown"],
        company=company or domain,
        domain=domain,
        lead=lead,
        before=display_value(data.get("from"), labels["none"]),
        after=display_value(data.get("to"), labels["none"]),
        priority=display_value(data.get("priority"), labels["unknown"]),
        score=display_value(None if isinstance(score, bool) else score, labels["unknown"]),
        lead_url=safe_url(data.get("lead_url")),
    )


def _render(facts: _Facts, lang: str, escape: Callable[[str], str]) -> tuple[str, str]:
    template = texts().template(facts.type, lang)
    values = {
        "company": escape(facts.company),
        "lead": escape(facts.lead),
        "domain": escape(facts.domain),
        "from": escape(facts.before),
        "to": escape(facts.after),
        "priority": escape(facts.priority),
        "score": escape(facts.score),
        "type": escape(facts.type),
    }
    return template.title.format_map(values), template.body.format_map(values)


def _as_is(text: str) -> str:
    return text


def event_text(event: dict, lang: str) -> tuple[str, str]:
    """(one-line title, one-paragraph body) of ``event`` in ``lang`` (``tr`` or ``en``), as plain text."""
    lang = language(lang)
    return _render(_facts(event, lang), lang, _as_is)


# -- Slack -----------------------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """Slack's three control characters as entities (https://api.slack.com/reference/surfaces/formatting)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(event: dict, lang: str) -> dict:
    """The Block Kit body for a Slack incoming webhook: title, body, facts and a button to the lead."""
    lang = language(lang)
    facts = _facts(event, lang)
    labels = {name: slack_escape(text) for name, text in texts().labels[lang].items()}
    title, body = _render(facts, lang, slack_escape)
    e = slack_escape
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n{body}"}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{labels['domain']}*\n{e(facts.domain)}"},
                {"type": "mrkdwn", "text": f"*{labels['change']}*\n{e(facts.before)} → {e(facts.after)}"},
                {"type": "mrkdwn", "text": f"*{labels['priority']}*\n{e(facts.priority)}"},
                {"type": "mrkdwn", "text": f"*{labels['score']}*\n{e(facts.score)}"},
            ],
        },
    ]
    if facts.lead_url:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "hunter_open_lead",
                        "text": {"type": "plain_text", "text": texts().labels[lang]["open"], "emoji": False},
                        "url": facts.lead_url,
                    }
                ],
            }
        )
    return {"text": title, "blocks": blocks}


# -- Microsoft Teams -------------------------------------------------------------------------------


def teams_escape(text: str) -> str:
    """Outside text that Teams shows as typed: Markdown link, emphasis and code characters are
    backslash-escaped (CommonMark), and a leading list or heading marker too."""
    escaped = _TEAMS_SPECIAL.sub(r"\\\1", text)
    return _TEAMS_BLOCK_START.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped, count=1)


def teams_card(event: dict, lang: str) -> dict:
    """The body to POST to a Teams "Workflows" webhook: one message with one Adaptive Card 1.4."""
    lang = language(lang)
    facts = _facts(event, lang)
    labels = texts().labels[lang]
    title, body = _render(facts, lang, teams_escape)
    esc = teams_escape
    content: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": True},
            {"type": "TextBlock", "text": body, "wrap": True},
            {
                "type": "FactSet",
                "facts": [
                    {"title": labels["domain"], "value": esc(facts.domain)},
                    {"title": labels["from"], "value": esc(facts.before)},
                    {"title": labels["to"], "value": esc(facts.after)},
                    {"title": labels["priority"], "value": esc(facts.priority)},
                    {"title": labels["score"], "value": esc(facts.score)},
                ],
            },
        ],
    }
    if facts.lead_url:
        content["actions"] = [{"type": "Action.OpenUrl", "title": labels["open"], "url": facts.lead_url}]
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": content}
        ],
    }


# -- Standard Webhooks signatures --------------------------------------------------------------------


def _secret_key(secret: str) -> bytes:
    encoded = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    encoded = encoded.strip()
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from exc
    if not key:
        raise ValueError("the webhook secret is empty")
    return key


def sign_standard_webhook(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value (Standard Webhooks v1) for ``body`` sent as ``msg_id`` at
    ``timestamp`` (Unix seconds): ``v1,`` + base64(HMAC-SHA256(key, f"{msg_id}.{timestamp}.{body}"))."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise TypeError("timestamp is whole Unix seconds (int)")
    if not msg_id:
        raise ValueError("msg_id is required")
    signed = f"{msg_id}.{timestamp}.".encode() + bytes(body)
    digest = hmac.new(_secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def standard_webhook_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for one delivery (plus the JSON content type)."""
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_standard_webhook(secret, msg_id, timestamp, body),
    }


def new_webhook_secret() -> str:
    """A fresh signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")
