"""Alert texts, the Teams card, Slack blocks, escaping of outside text and Standard Webhooks signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from shared.core import notify
from shared.core.notify import (
    EVENT_TYPES,
    LANGUAGES,
    event_text,
    new_webhook_secret,
    parse_texts,
    sign_standard_webhook,
    slack_message,
    standard_webhook_headers,
    teams_card,
)

HOSTILE = "<!channel> & [click](http://evil)"
LEAD_URL = "https://hunter.example.com/#/leads/acme.com.tr"
LEFTOVER = re.compile(r"\{[A-Za-z_]*\}")


def event(event_type: str = "lead.provider_changed", **data: Any) -> dict[str, Any]:
    values = {
        "event_id": "e1",
        "domain": "acme.com.tr",
        "company_name": "Acme Lojistik",
        "from": "Google",
        "to": "M365",
        "priority": "P1",
        "score": 87,
        "lead_url": LEAD_URL,
    }
    values.update(data)
    return {"type": event_type, "timestamp": "2025-05-01T08:00:00+00:00", "data": values}


def strings(value: Any, skip: tuple[str, ...] = ()) -> list[str]:
    """Every string in a JSON value, except under the keys in ``skip``."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() if key not in skip for s in strings(item, skip)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item, skip)]
    return []


# -- texts -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_type_has_a_complete_text_in_both_languages(event_type: str, lang: str) -> None:
    title, body = event_text(event(event_type, **{"from": "Mimecast", "to": "Proofpoint"}), lang)
    assert title and body and "\n" not in title and "\n" not in body
    assert not LEFTOVER.search(title + body), (title, body)
    assert "None" not in title + body
    everything = title + " " + body
    for expected in ("Acme Lojistik", "Mimecast", "Proofpoint", "P1", "87"):
        assert expected in everything, (event_type, lang, expected)


def test_the_languages_differ_and_the_shipped_file_is_complete() -> None:
    texts = notify.texts()
    assert set(texts.templates) == {*EVENT_TYPES, "_default"}
    for event_type in EVENT_TYPES:
        english, turkish = texts.templates[event_type]["en"], texts.templates[event_type]["tr"]
        assert english.title != turkish.title and english.body != turkish.body


def test_without_a_company_name_the_domain_names_the_lead() -> None:
    title, body = event_text(event("lead.hot", company_name=None, **{"from": "P3", "to": "P1"}), "en")
    assert "acme.com.tr" in title and "acme.com.tr" in body and "None" not in title + body
    assert "P3 → P1" in body


def test_missing_values_read_as_none_in_each_language() -> None:
    data = {"from": "Mimecast", "to": None, "priority": None, "score": None}
    _, english = event_text(event("lead.gateway_changed", **data), "en")
    _, turkish = event_text(event("lead.gateway_changed", **data), "tr")
    assert "from Mimecast to none" in english and "score —" in english
    assert "Mimecast iken yok oldu" in turkish


def test_values_of_any_shape_become_one_short_line() -> None:
    data = {
        "company_name": "Acme\nLojistik\t A.Ş.",
        "from": ["mx1.acme.com.tr", "mx2.acme.com.tr"],
        "to": {"provider": "M365"},
    }
    title, body = event_text(event("lead.mx_changed", **data), "en")
    assert "Acme Lojistik A.Ş." in title and "\n" not in title + body
    assert "mx1.acme.com.tr, mx2.acme.com.tr" in body and "provider: M365" in body
    long_title, _ = event_text(event(company_name="x" * 5000), "en")
    assert len(long_title) < 400 and "…" in long_title


def test_languages_fall_back_to_english_and_accept_regions() -> None:
    assert event_text(event(), "tr-TR") == event_text(event(), "tr")
    assert event_text(event(), "de") == event_text(event(), "en")


def test_an_unknown_type_still_gets_a_readable_text() -> None:
    title, body = event_text(event("lead.something_new"), "tr")
    assert "lead.something_new" in title and "Acme Lojistik" in title
    assert not LEFTOVER.search(title + body)


def test_the_texts_file_is_checked_when_read() -> None:
    good = notify.resources.files("shared.core").joinpath("notify_texts.yaml").read_text(encoding="utf-8")
    assert parse_texts(good).templates.keys() == notify.texts().templates.keys()
    with pytest.raises(ValueError, match="company_nam"):
        parse_texts(good.replace('title: "Hot lead: {company}', 'title: "Hot lead: {company_nam}'))
    with pytest.raises(ValueError, match="attribute|allowed"):
        parse_texts(good.replace('title: "Hot lead: {company}', 'title: "Hot lead: {company.__class__}'))
    with pytest.raises(ValueError, match="no entry"):
        parse_texts(good.replace("  lead.hot:\n", "  lead.hot_renamed:\n"))


def test_braces_in_outside_text_are_not_placeholders() -> None:
    title, _ = event_text(event(company_name="{to} {0} {company.__class__}"), "en")
    assert "{to} {0} {company.__class__}" in title


# -- Teams -----------------------------------------------------------------------------------------


def test_the_teams_card_has_the_workflows_webhook_shape() -> None:
    message = teams_card(event("lead.hot", **{"from": "P3", "to": "P1"}), "en")
    assert message["type"] == "message" and len(message["attachments"]) == 1
    attachment = message["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    card = attachment["content"]
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    title, body, facts = card["body"]
    assert title["type"] == "TextBlock" and title["wrap"] is True
    assert title["weight"].lower() == "bolder" and title["size"].lower() == "medium"
    assert title["text"] == event_text(event("lead.hot", **{"from": "P3", "to": "P1"}), "en")[0]
    assert body["type"] == "TextBlock" and body["wrap"] is True
    assert facts["type"] == "FactSet"
    assert [f["title"] for f in facts["facts"]] == ["Domain", "Before", "After", "Priority", "Score"]
    assert [f["value"] for f in facts["facts"]] == ["acme.com.tr", "P3", "P1", "P1", "87"]
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open in Hunter", "url": LEAD_URL}]
    json.dumps(message)  # serialisable as is


def test_the_teams_card_has_no_button_without_a_safe_lead_url() -> None:
    for url in (None, "", "javascript:alert(1)", "https://x.example/a b", "ftp://x.example/"):
        card = teams_card(event(lead_url=url), "tr")["attachments"][0]["content"]
        assert "actions" not in card, url
    facts = teams_card(event(), "tr")["attachments"][0]["content"]["body"][2]["facts"]
    assert [f["title"] for f in facts] == ["Alan adı", "Önce", "Sonra", "Öncelik", "Skor"]


def test_markdown_links_in_outside_text_never_become_links_in_teams() -> None:
    hostile = {"company_name": HOSTILE, "from": "[a](http://evil/1)", "to": "**bold** _x_"}
    card = teams_card(event("lead.provider_changed", **hostile), "en")["attachments"][0]["content"]
    texts = strings(card["body"])
    assert any("\\[click\\](http://evil)" in text for text in texts)
    for text in texts:
        assert not re.search(r"(?<!\\)[\[\]]", text), text  # every bracket is escaped
        assert not re.search(r"(?<!\\)\*\*", text), text
    values = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert values["Before"] == "\\[a\\](http://evil/1)"
    assert "actions" in card and card["actions"][0]["url"] == LEAD_URL  # only our own link


def test_a_leading_list_marker_in_outside_text_is_escaped_for_teams() -> None:
    card = teams_card(event(**{"from": "- item", "to": "1. first"}), "en")["attachments"][0]["content"]
    values = [f["value"] for f in card["body"][2]["facts"]]
    assert values[1] == "\\- item" and values[2] == "1\\. first"


# -- Slack -----------------------------------------------------------------------------------------


def test_the_slack_message_has_a_fallback_and_blocks() -> None:
    message = slack_message(event("lead.dmarc_changed", **{"from": "none", "to": "reject"}), "en")
    title, _ = event_text(event("lead.dmarc_changed", **{"from": "none", "to": "reject"}), "en")
    assert message["text"] == title
    head, fields, actions = message["blocks"]
    assert head["type"] == "section" and head["text"]["type"] == "mrkdwn"
    assert head["text"]["text"].startswith(f"*{title}*\n")
    assert fields["type"] == "section" and len(fields["fields"]) == 4
    assert all(f["type"] == "mrkdwn" for f in fields["fields"])
    joined = "\n".join(f["text"] for f in fields["fields"])
    for expected in ("acme.com.tr", "none → reject", "P1", "87"):
        assert expected in joined
    assert actions["type"] == "actions"
    (button,) = actions["elements"]
    assert button["type"] == "button" and button["url"] == LEAD_URL
    assert button["text"] == {"type": "plain_text", "text": "Open in Hunter", "emoji": False}
    json.dumps(message)


def test_the_slack_message_has_no_button_without_a_lead_url() -> None:
    message = slack_message(event(lead_url=None), "tr")
    assert [block["type"] for block in message["blocks"]] == ["section", "section"]
    assert "Alan adı" in message["blocks"][1]["fields"][0]["text"]


def test_outside_text_is_escaped_for_slack() -> None:
    hostile = {"company_name": HOSTILE, "domain": "a<b>&c.example", "from": "<@U123>", "to": "<http://evil|x>"}
    message = slack_message(event("referral.received", **hostile), "en")
    for text in strings(message, skip=("url",)):
        assert "<" not in text and ">" not in text, text
        assert not re.search(r"&(?!amp;|lt;|gt;)", text), text
    assert "&lt;!channel&gt; &amp; [click](http://evil)" in message["text"]
    assert "&lt;@U123&gt; → &lt;http://evil|x&gt;" in message["blocks"][1]["fields"][1]["text"]


# -- Standard Webhooks -----------------------------------------------------------------------------


def test_signatures_verify_with_the_reference_package() -> None:
    secret = new_webhook_secret()
    body = json.dumps(event(company_name="Açme Ünlü")).encode()
    now = int(time.time())
    headers = standard_webhook_headers(secret, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", now, body)
    assert headers["webhook-signature"] == sign_standard_webhook(secret, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", now, body)
    assert Webhook(secret).verify(body, headers) == json.loads(body)
    reference = Webhook(secret).sign("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", datetime.fromtimestamp(now, UTC), body)
    assert headers["webhook-signature"] == reference


def test_a_changed_body_id_time_or_secret_fails_verification() -> None:
    secret = new_webhook_secret()
    body = b'{"type":"hunter.test"}'
    now = int(time.time())
    headers = standard_webhook_headers(secret, "msg_1", now, body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"type":"hunter.tesT"}', headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, {**headers, "webhook-id": "msg_2"})
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, {**headers, "webhook-timestamp": str(now - 1)})
    with pytest.raises(WebhookVerificationError):
        Webhook(new_webhook_secret()).verify(body, headers)


def test_the_signature_is_the_documented_hmac() -> None:
    key = bytes(range(32))
    secret = "whsec_" + base64.b64encode(key).decode()
    body = b'{"a":1}\xff'  # signed byte for byte, UTF-8 or not
    expected = base64.b64encode(hmac.new(key, b"msg_1.1700000000." + body, hashlib.sha256).digest()).decode()
    assert sign_standard_webhook(secret, "msg_1", 1700000000, body) == "v1," + expected
    assert sign_standard_webhook(base64.b64encode(key).decode(), "msg_1", 1700000000, body) == "v1," + expected
    headers = standard_webhook_headers(secret, "m", int(time.time()), body)
    assert Webhook(secret).verify(body, headers, json_parse=False) is None


def test_bad_secrets_and_timestamps_are_refused() -> None:
    with pytest.raises(ValueError):
        sign_standard_webhook("whsec_not base64!", "m", 1, b"")
    with pytest.raises(ValueError):
        sign_standard_webhook("whsec_", "m", 1, b"")
    with pytest.raises(TypeError):
        sign_standard_webhook(new_webhook_secret(), "m", 1.5, b"")  # type: ignore[arg-type]


def test_new_secrets_are_32_random_bytes() -> None:
    secrets_made = {new_webhook_secret() for _ in range(20)}
    assert len(secrets_made) == 20
    for secret in secrets_made:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
