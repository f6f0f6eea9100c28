"""OpenTelemetry end to end: a bulk scan through ``hunter serve`` and its queue worker reaches an
OTLP/HTTP receiver on loopback (devtools/otlp_sink.py) as ONE trace — the HTTP submit's server span,
a consumer span per batch and a span per scanned domain — with the log lines in it; with no
exporter configured nothing is exported and the SDK is not even imported."""

from __future__ import annotations

import gzip
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
    admin = ApiKeyStore(engine_for(db_url)).create("admin", ["admin"])[0]
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
            # Prometheus is still scrapable beside the OpenTelemetry instruments, counting the same scans.
            scrape = httpx.get(f"{base}/healthz/metrics", headers={"X-API-Key": admin}, timeout=10)
            assert scrape.status_code == 200
            scanned = [line for line in scrape.text.splitlines() if line.startswith("hunter_scans_total{")]
            assert sum(float(line.split()[-1]) for line in scanned) == len(DOMAINS)
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
    assert {"hunter.http.request.duration", "hunter.scans"} <= sink.metric_names()
    text = log_path.read_text()
    assert '"level": "error"' not in text and "Traceback" not in text
    assert "Invalid type" not in text and "Failed to export" not in text  # the SDK took every attribute and export


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


PROPAGATION = textwrap.dedent("""
    import asyncio, json, threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import httpx

    from shared import telemetry
    from shared.core.alerts import make_event
    from shared.core.notify import new_webhook_secret
    from shared.hosts.azure import _timer_function
    from shared.hosts.queue_runner import invoke
    from shared.http.dispatch import dispatch
    from shared.http.types import HttpRequest
    from shared.queues import Delivery
    from shared.runtime import Runtime, get_runtime
    from shared.scan.pipeline import Scanner
    from shared.services.after_scan import AfterScan
    from shared.services.d365_push import enqueue_pushes
    from shared.services.notifications import publish
    from shared.store import notifications as subscriptions
    from shared.triggers.registry import QUEUE_FUNCTIONS, TimerTrigger

    received = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append({"path": self.path, "traceparent": self.headers.get("traceparent")})
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    hook_url = f"http://127.0.0.1:{hook.server_address[1]}/hooks/T000/SECRETPATH"

    runtime = get_runtime()
    out = {"enabled": telemetry.enabled()}

    # 1. An incoming traceparent is continued by the server span.
    incoming = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    out["health"] = dispatch(HttpRequest("GET", "/healthz/live", headers={"traceparent": incoming}), runtime).status

    # 2. A lead, a D365 push and a change alert queued inside one span: both messages carry it.
    subscriptions.create_subscription(
        runtime.engine, kind="webhook", url=hook_url, secret=new_webhook_secret(), events=[], lead_filter={}
    )

    async def scan():
        scanner = Scanner(runtime.settings)
        try:
            return await scanner.scan_row_text("co1.com.tr")
        finally:
            await scanner.close()

    with telemetry.span("seed") as seed:
        AfterScan(runtime).save([asyncio.run(scan())])
        out["pushes"] = enqueue_pushes(runtime.settings, runtime.engine, ["co1.com.tr"])[0]
        event = make_event(
            "lead.hot", domain="co1.com.tr", at="2026-12-04T21:00:00+00:00", company_name=None, before=None,
            after="P1", priority="P1", score=90, public_url="http://127.0.0.1", identity="telemetry-test",
        )
        out["alerts"] = publish(runtime, [event])
        out["seed"] = telemetry.current_ids()

    functions = {f.queue: f for f in QUEUE_FUNCTIONS}
    out["bodies"] = {}
    quiet = Runtime(runtime.settings.model_copy(update={"d365_enabled": False}))  # no Dataverse here
    for name in ("d365-push", "notifications"):
        queue = runtime.queue(name)
        for message in queue.receive(10, visibility_timeout=30):
            out["bodies"][name] = message.body
            delivery = Delivery(message.id, name, 1)
            target = quiet if name == "d365-push" else runtime
            outcome = asyncio.run(invoke(functions[name], message.body, delivery, target))
            out[name] = outcome.action
            queue.delete(message)

    # 3. A timer run is a span; an httpx call inside it is a CLIENT span and carries the context.
    async def tick(runtime):
        async with httpx.AsyncClient() as client:
            await client.post(hook_url + "?token=abc", json={})

    import __main__
    __main__.tick = tick

    class Timer:
        past_due = False

    asyncio.run(_timer_function(TimerTrigger("tick", "__main__:tick", schedule_setting="pc_sync_schedule"))(Timer()))
    out["hooks"] = received
    telemetry.flush()
    print(json.dumps(out))
""")


def test_trace_context_travels_through_http_d365_pushes_notifications_timers_and_webhooks(
    tmp_path, synthetic_dns, sink
):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "APPLICATIONINSIGHTS_", "SENTRY_"))}
    env.update(
        {
            "HUNTER_DATABASE_URL": f"sqlite:///{tmp_path / 'hunter.db'}",
            "HUNTER_DNS_NAMESERVERS": synthetic_dns,
            "HUNTER_WHOIS_ENABLED": "false",
            "HUNTER_D365_ENABLED": "true",
            "HUNTER_NOTIFY_ALLOW_PRIVATE": "true",
            **sink.env(),
        }
    )
    done = subprocess.run(
        [sys.executable, "-c", PROPAGATION], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["enabled"] and out["health"] == 200 and out["pushes"] == 1 and out["alerts"] == 1
    seed_trace, seed_span = out["seed"]
    for name in ("d365-push", "notifications"):  # the trace context rides in the message body
        assert json.loads(out["bodies"][name])["traceparent"].split("-")[1:3] == [seed_trace, seed_span]
    assert out["d365-push"] == "done" and out["notifications"] == "done"
    assert sink.wait_for(lambda s: any(span["name"] == "timer tick" for span in s.spans()), timeout=10)
    spans = sink.spans()

    (health,) = [s for s in spans if s["name"] == "GET /api/healthz/live"]
    assert health["trace_id"] == "a" * 32 and health["parent_span_id"] == "b" * 16

    consumers = {s["name"]: s for s in spans if s["kind"] == "consumer"}
    for name in ("process d365-push", "process notifications"):
        assert consumers[name]["trace_id"] == seed_trace and consumers[name]["parent_span_id"] == seed_span

    # The webhook delivery: a CLIENT span under the notification's consumer span, its URL path hidden,
    # and the receiver got the W3C header of that span.
    notification = consumers["process notifications"]
    webhook = [s for s in spans if s["kind"] == "client" and s["parent_span_id"] == notification["span_id"]]
    webhook = [s for s in webhook if s["attributes"].get("hunter.webhook")]
    assert len(webhook) == 1 and "SECRETPATH" not in json.dumps(webhook[0]["attributes"])
    delivered = [h for h in out["hooks"] if h["path"].startswith("/hooks/") and "token" not in h["path"]]
    assert delivered[0]["traceparent"].split("-")[1:3] == [seed_trace, webhook[0]["span_id"]]

    (timer,) = [s for s in spans if s["name"] == "timer tick"]
    assert timer["attributes"]["faas.trigger"] == "timer" and timer["parent_span_id"] == ""
    (call,) = [s for s in spans if s["kind"] == "client" and s["parent_span_id"] == timer["span_id"]]
    assert "token" not in json.dumps(call["attributes"]) and call["attributes"]["url.full"].endswith("/SECRETPATH")
    ticked = [h for h in out["hooks"] if "token" in h["path"]]
    assert ticked[0]["traceparent"].split("-")[1:3] == [timer["trace_id"], call["span_id"]]


AZURE_OFFLINE = textwrap.dedent("""
    import gzip, json, socket, time

    blocked = []  # any address but loopback is refused and remembered: this test must stay offline
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect
    LOOPBACK = ("127.0.0.1", "localhost", "::1")

    def getaddrinfo(host, *args, **kwargs):
        if host not in LOOPBACK:
            blocked.append(str(host))
            raise OSError("offline")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self, address):
        if isinstance(address, tuple) and address[0] not in LOOPBACK:
            blocked.append(str(address))
            raise OSError("offline")
        return real_connect(self, address)

    socket.getaddrinfo, socket.socket.connect = getaddrinfo, connect

    from shared import telemetry
    from shared.http.dispatch import dispatch
    from shared.http.types import HttpRequest
    from shared.runtime import get_runtime

    runtime = get_runtime()
    status = dispatch(HttpRequest("GET", "/healthz/ready"), runtime).status
    # The first export of each signal loads the exporter's HTTP pipeline; on a loaded CI machine that
    # took longer than flush()'s default 5 s once, and the request span was lost with the process.
    telemetry.flush(timeout_ms=60_000)
    print(json.dumps({"backend": telemetry._state and telemetry._state.backend, "status": status, "blocked": blocked}))
""")


def test_application_insights_gets_requests_dependencies_and_logs_through_the_azure_monitor_distro(tmp_path, sink):
    """APPLICATIONINSIGHTS_CONNECTION_STRING → configure_azure_monitor, checked offline: the ingestion and
    live-metrics endpoints of the connection string are the loopback receiver, every other address is refused."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "APPLICATIONINSIGHTS_", "SENTRY_"))}
    env.update(
        {
            "HUNTER_DATABASE_URL": f"sqlite:///{tmp_path / 'hunter.db'}",
            "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
            f"IngestionEndpoint={sink.endpoint}/;LiveEndpoint={sink.endpoint}/",
            "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
            "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true",
            "APPLICATIONINSIGHTS_SDKSTATS_DISABLED": "true",
            "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "otel",  # no Azure VM metadata endpoint
            "OTEL_SERVICE_NAME": "hunter-azure-test",
            # The distro's default sampler is rate limited (5 traces/s) and may drop a process's first
            # trace; this test wants every span, as an operator who sets the sampler does.
            "OTEL_TRACES_SAMPLER": "microsoft.fixed_percentage",
            "OTEL_TRACES_SAMPLER_ARG": "1.0",
        }
    )
    done = subprocess.run(
        [sys.executable, "-c", AZURE_OFFLINE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result == {"backend": "azure", "status": 200, "blocked": []}
    items = []
    for signal, body in sink.other:
        if signal == "track":
            items.extend(json.loads(gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body))
    kinds = {(item["name"].rsplit(".", 1)[-1], item["data"]["baseData"].get("name")) for item in items}
    assert ("Request", "GET /api/healthz/ready") in kinds
    assert any(kind == "RemoteDependency" for kind, _ in kinds)  # the SQL statements
    (request,) = [i for i in items if i["name"].endswith("Request")]
    assert request["tags"]["ai.cloud.role"] == "hunter-azure-test"
    operation = request["tags"]["ai.operation.id"]
    messages = [i for i in items if i["name"].endswith("Message") and i["tags"].get("ai.operation.id") == operation]
    assert any(m["data"]["baseData"]["message"] == "request" for m in messages)  # the log line, in the operation
