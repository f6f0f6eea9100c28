"""shared.telemetry without a collector: Sentry scrubbing (a real before_send event and a real
sentry_sdk capture), which backend the environment selects, queue messages with and without a
trace context, the client-span URL redaction and the domain sample."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from shared import telemetry
from shared.services.d365_push import PushMessage
from shared.services.notifications import NotificationMessage
from shared.services.scan_batch import ScanBatchMessage

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "hunter_a1b2c3d4e5f6_Zx9-Qw8_Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVbNm12"
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def sentry_event() -> dict:
    """An event as sentry_sdk hands it to before_send (request, exception, breadcrumbs, extra, user)."""
    return {
        "event_id": "fc6d8c0c43fc4630ad850ee518f1b9d0",
        "level": "error",
        "logger": "hunter.http",
        "server_name": "hunter-7f9c",
        "message": f"could not verify {API_KEY} for ali.veli@contoso.com.tr",
        "user": {"ip_address": "203.0.113.9", "email": "ali.veli@contoso.com.tr"},
        "request": {
            "method": "POST",
            "url": "https://hunter.example.com/api/v1/scans?api_key=hk_live_0123456789abcdef",
            "headers": {
                "X-API-Key": API_KEY,
                "Authorization": f"Bearer {API_KEY}",
                "Content-Type": "application/json",
                "Cookie": "session=abc",
            },
            "cookies": {"session": "abc"},
            "data": '{"domains": ["contoso.com.tr"], "contact": "+90 532 123 45 67"}',
        },
        "exception": {
            "values": [
                {
                    "type": "DeliveryError",
                    "module": "shared.integrations.webhooks",
                    "value": "receiver refused signature v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4= "
                    f"(secret {WEBHOOK_SECRET})",
                    "stacktrace": {"frames": [{"function": "post_json", "vars": {"secret": WEBHOOK_SECRET}}]},
                },
                {
                    "type": "OperationalError",
                    "module": "sqlalchemy.exc",
                    "value": "(sqlite3.OperationalError) database is locked "
                    "[SQL: UPDATE leads SET owner='ayse@contoso.com.tr']",
                },
            ]
        },
        "breadcrumbs": {
            "values": [
                {"category": "hunter.notifications", "message": "e-mail to ayse@contoso.com.tr, call 0532 123 45 67"},
                {
                    "category": "httplib",
                    "data": {"url": "https://hooks.slack.com/services/T0/B0/x", "webhook-signature": "v1,abc"},
                },
                {
                    "category": "hunter.http",
                    "message": "request",
                    "data": {"headers": [["x-api-key", API_KEY], ["accept", "*/*"]]},
                },
            ]
        },
        "extra": {"smtp_password": "hunter2", "token_cache_key": "k", "job": "3f2a", "at": "2026-12-04T21:30:11+00:00"},
        "contexts": {"trace": {"trace_id": "0af7651916cd43dd8448eb211c80319c"}},
    }


def test_before_send_scrubs_keys_secrets_and_personal_data():
    event = sentry_event()
    scrubbed = telemetry.scrub(event, {"exc_info": None})
    text = json.dumps(scrubbed)
    for secret in (
        API_KEY,
        WEBHOOK_SECRET,
        "hk_live_0123456789abcdef",
        "ali.veli@contoso.com.tr",
        "ayse@contoso.com.tr",
    ):
        assert secret not in text, secret
    for phone in ("+90 532 123 45 67", "0532 123 45 67"):
        assert phone not in text, phone
    assert "K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN" not in text and "hunter2" not in text and "session=abc" not in text
    assert "user" not in scrubbed
    headers = scrubbed["request"]["headers"]
    assert headers["X-API-Key"] == headers["Authorization"] == headers["Cookie"] == telemetry.FILTERED
    assert headers["Content-Type"] == "application/json"
    assert scrubbed["request"]["data"] == scrubbed["request"]["cookies"] == telemetry.FILTERED
    assert scrubbed["exception"]["values"][1]["value"] == "OperationalError"  # SQL and values never leave
    assert scrubbed["breadcrumbs"]["values"][2]["data"]["headers"][0] == ["x-api-key", telemetry.FILTERED]
    # What is not personal stays readable: ids, times, trace ids, domains, types.
    assert scrubbed["extra"]["job"] == "3f2a" and scrubbed["extra"]["at"] == "2026-12-04T21:30:11+00:00"
    assert scrubbed["contexts"]["trace"]["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert scrubbed["exception"]["values"][0]["type"] == "DeliveryError"
    assert scrubbed["message"] == f"could not verify {telemetry.FILTERED} for [email]"
    assert event["request"]["headers"]["X-API-Key"] == API_KEY  # the original is left alone


@pytest.mark.parametrize(
    "text",
    [
        "127.0.0.1:5353",
        "2026-12-04 21:30:11",
        "v1.2.3",
        "job 0123456789abcdef0123456789abcdef",
        "co12.com.tr",
        "10.0.0.12",
    ],
)
def test_scrubbing_leaves_addresses_times_and_ids_alone(text):
    assert telemetry.scrub_text(text) == text


SENTRY_CAPTURE = textwrap.dedent("""
    import json, logging, sys
    import sentry_sdk
    from sentry_sdk.transport import Transport
    from shared import telemetry
    from shared.logs import configure, log_failure

    events = []

    class Capture(Transport):
        def capture_envelope(self, envelope):
            for item in envelope.items:
                if item.type == "event":
                    events.append(item.payload.json)

    configure("INFO")
    telemetry._setup_sentry("https://public@o0.ingest.sentry.io/1", transport=Capture)
    telemetry._sentry = True
    log = logging.getLogger("hunter.test")
    log.info("delivering", extra={"to": "ali.veli@contoso.com.tr", "key": sys.argv[1]})
    try:
        raise RuntimeError("key " + sys.argv[1] + " of ali.veli@contoso.com.tr, +90 532 123 45 67")
    except RuntimeError as exc:
        error_id = log_failure(log, "unhandled error", exc, route="submit_scan_job")
    sentry_sdk.flush()
    print(json.dumps({"error_id": error_id, "events": events}))
""")


def test_a_real_sentry_capture_goes_through_before_send():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "OTEL_"))}
    done = subprocess.run(
        [sys.executable, "-c", SENTRY_CAPTURE, API_KEY], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert len(result["events"]) == 1  # one event per failure: log lines are breadcrumbs, not events
    event = result["events"][0]
    text = json.dumps(event)
    assert API_KEY not in text and "ali.veli@contoso.com.tr" not in text and "532 123 45 67" not in text
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert event["tags"]["error_id"] == result["error_id"]
    assert not any("vars" in frame for value in event["exception"]["values"] for frame in value["stacktrace"]["frames"])
    assert any(crumb.get("message") == "delivering" for crumb in event["breadcrumbs"]["values"])


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, "otlp"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, "otlp"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, None),
        ({"APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=0000"}, "azure"),
        (
            {
                "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=0",
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c",
            },
            "azure+otlp",
        ),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_SDK_DISABLED": "TRUE"}, None),
    ],
)
def test_the_environment_chooses_the_backend(env, expected):
    assert telemetry.backend(env) == expected


def test_messages_with_and_without_a_trace_context_are_valid():
    """Old messages (no trace fields) and new ones both validate; nothing else is let in."""
    old = {"v": 1, "job": "0" * 32, "batch": 0}
    assert ScanBatchMessage.model_validate_json(json.dumps(old)).traceparent is None
    new = ScanBatchMessage.model_validate_json(json.dumps({**old, "traceparent": TRACEPARENT, "tracestate": "a=1"}))
    assert new.traceparent == TRACEPARENT and new.tracestate == "a=1"
    assert PushMessage.model_validate_json('{"v":1,"domain":"contoso.com"}').traceparent is None
    assert PushMessage.model_validate_json(json.dumps({"v": 1, "domain": "contoso.com", "traceparent": TRACEPARENT}))
    assert NotificationMessage.model_validate_json('{"v":1,"delivery":3}').traceparent is None
    assert NotificationMessage.model_validate_json(json.dumps({"v": 1, "delivery": 3, "traceparent": TRACEPARENT}))
    with pytest.raises(ValueError):
        ScanBatchMessage.model_validate_json(json.dumps({**old, "baggage": "x"}))


def test_client_span_urls_lose_their_query_and_webhook_paths():
    class Span:
        def __init__(self) -> None:
            self.attributes: dict = {}

        def set_attribute(self, key, value):
            self.attributes[key] = value

    import httpx

    dataverse = Span()
    url = httpx.URL("https://contoso.crm4.dynamics.com/api/data/v9.2/leads(hunter_domain='a.com')?$select=leadid&sig=x")
    telemetry._client_url(dataverse, ("PATCH", url, None, None, {}))
    assert (
        dataverse.attributes["url.full"]
        == "https://contoso.crm4.dynamics.com/api/data/v9.2/leads(hunter_domain='a.com')"
    )
    webhook = Span()  # sent to the checked address with the host name as SNI (shared.integrations.webhooks)
    url = httpx.URL("https://52.1.2.3/services/T000/B000/XXXXSECRET")
    telemetry._client_url(webhook, ("POST", url, None, None, {"sni_hostname": "hooks.slack.com"}))
    assert webhook.attributes["url.full"] == "https://hooks.slack.com/…"
    assert webhook.attributes["server.address"] == "hooks.slack.com"


def test_the_domain_sample_is_stable_and_near_its_rate():
    domains = [f"co{i}.com.tr" for i in range(20_000)]
    chosen = [d for d in domains if telemetry.in_sample(d, 0.1)]
    assert 1_700 < len(chosen) < 2_300
    assert chosen == [d for d in domains if telemetry.in_sample(d, 0.1)]
    assert all(telemetry.in_sample(d, 1.0) for d in domains[:100])
    assert not any(telemetry.in_sample(d, 0.0) for d in domains[:100])
    assert not telemetry.sampled("co1.com.tr", 1.0)  # telemetry off in this process: no span at all


def test_spans_are_free_when_off():
    assert not telemetry.enabled()
    with telemetry.span("x", kind="server", attributes={"a": 1}, parent={"traceparent": TRACEPARENT}) as span:
        span.set_attribute("b", 2)
        telemetry.failed(span, RuntimeError("boom"))
    assert span is telemetry.NO_SPAN
    assert telemetry.inject() == {} and telemetry.current_ids() is None
    assert telemetry.message_context(json.dumps({"v": 1, "traceparent": TRACEPARENT})) is None


def test_application_insights_entra_sign_in_uses_the_managed_identity_the_infra_names(monkeypatch):
    """``APPLICATIONINSIGHTS_AUTHENTICATION_STRING`` as infra/bicep sets it (either order of the parts)."""
    from azure.identity import ManagedIdentityCredential

    monkeypatch.delenv("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", raising=False)
    assert telemetry._azure_credential() is None
    for text in ("ClientId=1111-2222;Authorization=AAD", "Authorization=AAD;ClientId=1111-2222", "Authorization=AAD"):
        monkeypatch.setenv("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", text)
        assert isinstance(telemetry._azure_credential(), ManagedIdentityCredential)
    monkeypatch.setenv("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "Authorization=Other")
    assert telemetry._azure_credential() is None
