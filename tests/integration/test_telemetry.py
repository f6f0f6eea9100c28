"""OpenTelemetry end to end: a bulk scan through ``hunter serve`` and its queue worker reaches an
OTLP/HTTP receiver on loopback (devtools/otlp_sink.py) as ONE trace — the HTTP submit's server span,
a consumer span per batch and a span per scanned domain — with the log lines in it; with no
exporter configured nothing is exported and the SDK is not even imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from devtools.api_server import start_api_server
from devtools.otlp_sink import OtlpSink
from shared.store.db import engine_for
from shared.store.keys import ApiKeyStore

ROOT = Path(__file__).resolve().parents[2]
DOMAINS = [f"co{i}.com.tr" for i in range(1, 13)]  # 12 domains, 5 per batch: 3 messages


@pytest.fixture
def sink():
    receiver = OtlpSink().start()
    yield receiver
    receiver.stop()


def test_a_bulk_scan_through_serve_and_its_worker_is_one_trace(tmp_path, synthetic_dns, sink):
    db_url = f"sqlite:///{tmp_path / 'hunter.db'}"
    key = ApiKeyStore(engine_for(db_url)).create("scanner", ["scan"])[0]
    env = {
        "HUNTER_DATABASE_URL": db_url,
        "HUNTER_DNS_NAMESERVERS": synthetic_dns,
        "HUNTER_DNS_TIMEOUT": "1.0",
        "HUNTER_WHOIS_ENABLED": "false",
        "HUNTER_BULK_BATCH_SIZE": "5",
        "HUNTER_QUEUE_BACKEND": "local",
        **sink.env(OTEL_SERVICE_NAME="hunter-test"),
    }
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        server, base = start_api_server(env, workers=1, queue_workers=1, log=log)
        try:
            reply = httpx.post(f"{base}/v1/scans", json={"domains": DOMAINS}, headers={"X-API-Key": key}, timeout=30)
            assert reply.status_code == 202, reply.text
            job_id = reply.json()["id"]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                job = httpx.get(f"{base}/v1/scans/{job_id}", headers={"X-API-Key": key}, timeout=10).json()
                if job["status"] == "done":
                    break
                time.sleep(0.2)
            assert job["status"] == "done", job

            def submit_trace() -> list[dict]:
                server_spans = [s for s in sink.spans() if s["name"] == "POST /api/v1/scans"]
                if not server_spans:
                    return []
                return [s for s in sink.spans() if s["trace_id"] == server_spans[0]["trace_id"]]

            def complete(_: OtlpSink) -> bool:
                spans = submit_trace()
                return sum(s["name"] == "process scan-requests" for s in spans) == 3 and sum(
                    s["name"] == "scan domain" for s in spans
                ) == len(DOMAINS)

            assert sink.wait_for(complete, timeout=30), sorted({s["name"] for s in sink.spans()})
        finally:
            server.terminate()
            server.wait(timeout=20)

    spans = submit_trace()
    (submit,) = [s for s in spans if s["name"] == "POST /api/v1/scans"]
    assert submit["kind"] == "server" and submit["parent_span_id"] == ""  # the trace's root
    assert submit["attributes"]["http.response.status_code"] == 202
    assert submit["attributes"]["http.route"] == "/api/v1/scans"
    assert submit["resource"]["service.name"] == "hunter-test" and submit["resource"]["hunter.role"] == "serve"

    batches = [s for s in spans if s["name"] == "process scan-requests"]
    assert {s["kind"] for s in batches} == {"consumer"}
    assert {s["parent_span_id"] for s in batches} == {submit["span_id"]}  # the W3C context in the message
    for batch in batches:
        assert batch["attributes"]["messaging.destination.name"] == "scan-requests"
        assert batch["attributes"]["messaging.operation.type"] == "process"
        assert batch["attributes"]["messaging.system"] == "hunter_sql"
        assert batch["attributes"]["hunter.queue.outcome"] == "done"
        assert batch["resource"]["hunter.role"] == "worker"

    scanned = [s for s in spans if s["name"] == "scan domain"]
    assert sorted(s["attributes"]["hunter.domain"] for s in scanned) == sorted(DOMAINS)
    assert {s["parent_span_id"] for s in scanned} <= {b["span_id"] for b in batches}
    assert all(s["attributes"]["hunter.scan.status"] for s in scanned)
    assert any(s["attributes"]["hunter.provider"] for s in scanned)

    statements = [s for s in spans if s["kind"] == "client" and "db.statement" in s["attributes"]]
    assert statements, "no SQL statement spans in the trace"
    for statement in statements:  # the text with its placeholders, never a bound value
        assert not any(domain in statement["attributes"]["db.statement"] for domain in DOMAINS)

    # Logs: exported with the trace's id, and the JSON lines on stderr carry it too.
    trace_id = submit["trace_id"]
    assert sink.wait_for(lambda s: any(r["trace_id"] == trace_id for r in s.logs()), timeout=10)
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    request_lines = [line for line in lines if line.get("msg") == "request" and line.get("route") == "submit_scan_job"]
    assert (
        request_lines and request_lines[0]["trace_id"] == trace_id and request_lines[0]["span_id"] == submit["span_id"]
    )
    assert {"hunter.http.requests", "hunter.http.request.duration", "hunter.scans"} <= sink.metric_names()


NO_EXPORTER = textwrap.dedent("""
    import io, json, logging, sys
    from shared import logs, telemetry
    from shared.http.dispatch import dispatch
    from shared.http.types import HttpRequest
    from shared.jobs.submit import batch_message
    from shared.runtime import get_runtime

    runtime = get_runtime()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logging.getLogger("hunter").addHandler(handler)
    incoming = {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}
    reply = dispatch(HttpRequest("GET", "/healthz/live", headers=incoming), runtime)
    with telemetry.span("anything") as span:
        span.set_attribute("x", 1)
    line = json.loads(stream.getvalue().splitlines()[-1])
    print(json.dumps({
        "status": reply.status,
        "enabled": telemetry.enabled(),
        "imported": sorted(m for m in sys.modules if m.startswith(("opentelemetry", "sentry_sdk", "azure.monitor"))),
        "carrier": telemetry.inject(),
        "message": batch_message("0" * 32, 0, telemetry.inject()),
        "trace_id": "trace_id" in line,
    }))
""")


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({}, id="no-variables"),
        pytest.param({"OTEL_SDK_DISABLED": "true"}, id="sdk-disabled"),
        pytest.param({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, id="empty-endpoint"),
    ],
)
def test_without_an_exporter_nothing_is_exported_and_the_sdk_is_not_imported(tmp_path, sink, extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "APPLICATIONINSIGHTS_", "SENTRY_"))}
    env.update({"HUNTER_DATABASE_URL": f"sqlite:///{tmp_path / 'hunter.db'}", "OTEL_BSP_SCHEDULE_DELAY": "50"})
    if "OTEL_SDK_DISABLED" in extra:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = sink.endpoint  # configured, but switched off
    env.update(extra)
    done = subprocess.run(
        [sys.executable, "-c", NO_EXPORTER], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["status"] == 200 and result["enabled"] is False
    assert result["imported"] == []
    assert result["carrier"] == {} and "traceparent" not in result["message"]
    assert result["trace_id"] is False
    time.sleep(0.3)
    assert sink.requests == {"traces": 0, "metrics": 0, "logs": 0}
