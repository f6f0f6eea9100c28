"""Change alerts end to end: a changed DNS world → events with stable ids → the notifications queue →
a Standard Webhooks receiver on loopback (signatures verified with the reference package), retries
after 500s, poison → redrive → delivered once, 410 disables, the delivery log."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shared import aio
from shared.config import Settings
from shared.core.inputs import InputRow
from shared.http.dispatch import dispatch
from shared.http.types import HttpRequest
from shared.local.worker import QueueWorker
from shared.queues.hostjson import QueueOptions
from shared.runtime import Runtime, set_runtime
from shared.scan.pipeline import run_pipeline
from shared.services.after_scan import AfterScan
from shared.services.queue_ops import QueueOps
from shared.store import notifications as store
from shared.triggers.registry import QUEUE_FUNCTIONS
from tests.integration.test_rescans import AFTER, BEFORE

FAST = QueueOptions(batch_size=16, new_batch_threshold=8, max_dequeue_count=5, visibility_timeout=0.0)
NOTIFY = tuple(f for f in QUEUE_FUNCTIONS if f.queue == "notifications")


class Receiver:
    """A webhook receiver on 127.0.0.1 that answers with the next planned status (then 200)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []  # every request, failed ones included
        self.accepted: list[bytes] = []  # the bodies answered with 2xx
        self.plan: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                status = receiver.plan.pop(0) if receiver.plan else 200
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                if status < 300:
                    receiver.accepted.append(body)
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def world(dns_server_factory, tmp_path):
    dns = dns_server_factory(BEFORE)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'hunter.db'}",
        dns_nameservers=[dns.address],
        dns_timeout=0.5,
        whois_enabled=False,
        queue_retry_base=0,
        notify_backoff_base=0,
        notify_allow_private=True,
        public_url="https://hunter.example.com/api/ui/",
    )
    runtime = Runtime(settings)
    set_runtime(runtime)
    receiver = Receiver()
    admin = runtime.keys.create("admin", ["admin"])[0]
    yield runtime, dns, receiver, admin
    receiver.close()
    set_runtime(None)


def call(runtime, key, method, path, body=None, **query):
    headers = {"x-api-key": key, "content-type": "application/json"}
    raw = json.dumps(body).encode() if body is not None else b""
    params = {name: [str(value)] for name, value in query.items()}
    reply = dispatch(HttpRequest(method, path, query=params, headers=headers, body=raw), runtime)
    return reply.status, (json.loads(reply.body_bytes()) if reply.body_bytes() else None)


def scan(runtime):
    rows = [InputRow("moved.com.tr", "Taşınan A.Ş."), InputRow("stays.com.tr", "Kalan Ltd")]
    aio.run(run_pipeline(rows, runtime.settings, AfterScan(runtime)))


def drain(runtime) -> QueueWorker:
    worker = QueueWorker(NOTIFY, options=FAST, exit_when_idle=True, runtime=runtime)
    aio.run(worker.run())
    return worker


def test_a_provider_move_reaches_a_signed_webhook_exactly_once(world):
    from standardwebhooks.webhooks import Webhook

    runtime, dns, receiver, admin = world
    status, created = call(
        runtime, admin, "POST", "/v1/notifications/subscriptions",
        {"kind": "webhook", "url": receiver.url, "events": ["lead.provider_changed"], "lang": "en"},
    )  # fmt: skip
    assert status == 201 and created["secret"].startswith("whsec_")
    listed = call(runtime, admin, "GET", "/v1/notifications/subscriptions")[1]["items"]
    assert [s["id"] for s in listed] == [created["id"]] and "secret" not in listed[0]

    scan(runtime)  # the first scan: new leads, no provider change
    dns.reload(AFTER)
    scan(runtime)  # moved.com.tr: Google → M365
    scan(runtime)  # the same world again: no new event
    drain(runtime)
    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    Webhook(created["secret"]).verify(body, headers)  # raises on a bad signature
    event = json.loads(body)
    assert event["type"] == "lead.provider_changed"
    assert (event["data"]["from"], event["data"]["to"]) == ("Google", "M365")
    assert event["data"]["domain"] == "moved.com.tr" and event["data"]["company_name"] == "Taşınan A.Ş."
    assert event["data"]["lead_url"].endswith("#/leads/moved.com.tr")
    assert headers["webhook-id"] == event["data"]["event_id"]
    status, log = call(runtime, admin, "GET", "/v1/notifications/deliveries", subscription=created["id"])
    assert status == 200 and [(d["status"], d["attempts"]) for d in log["items"]] == [("delivered", 1)]


def test_500s_are_retried_and_a_dead_receiver_is_poisoned_then_redriven_once(world):
    runtime, dns, receiver, admin = world
    sub = call(runtime, admin, "POST", "/v1/notifications/subscriptions", {"kind": "webhook", "url": receiver.url})[1]
    scan(runtime)
    receiver.received.clear()
    dns.reload(AFTER)
    receiver.plan = [500, 503]  # two failures, then 200
    scan(runtime)
    drain(runtime)
    delivered = [json.loads(body)["type"] for body in receiver.accepted]
    assert sorted(delivered) == ["lead.priority_changed", "lead.provider_changed"]  # each once
    assert len(receiver.received) == len(receiver.accepted) + 2  # after a 500 and a 503

    # A receiver that always fails: after notify_max_attempts the message is poisoned, then redriven.
    runtime.settings = runtime.settings.model_copy(update={"notify_max_attempts": 2})
    receiver.accepted.clear()
    receiver.plan = [500] * 4  # every attempt of both new events fails
    dns.reload(BEFORE)  # moved back: new events
    scan(runtime)
    drain(runtime)
    assert receiver.accepted == []
    ops = QueueOps(runtime.settings, runtime.engine)
    poisoned = ops.peek_poison("notifications")
    assert len(poisoned) == 2 and all("DeliveryError" in (p.last_error or "") for p in poisoned)
    ops.redrive("notifications", ids=[p.id for p in poisoned], actor="test")
    drain(runtime)
    ops.redrive("notifications", ids=[p.id for p in poisoned], actor="test")  # a second redrive: no repeat
    drain(runtime)
    ids = [json.loads(body)["data"]["event_id"] for body in receiver.accepted]
    assert len(ids) == 2 == len(set(ids))  # delivered once each
    rows = store.deliveries(runtime.engine, sub["id"])
    assert rows and all(row.status == "delivered" for row in rows)


def test_410_gone_disables_the_subscription(world):
    runtime, dns, receiver, admin = world
    sub = call(runtime, admin, "POST", "/v1/notifications/subscriptions", {"kind": "slack", "url": receiver.url})[1]
    scan(runtime)
    receiver.plan = [410]
    dns.reload(AFTER)
    scan(runtime)
    drain(runtime)
    assert call(runtime, admin, "GET", f"/v1/notifications/subscriptions/{sub['id']}")[1]["enabled"] is False


def test_subscriptions_are_validated_and_admin_only(world):
    runtime, _, receiver, admin = world
    scan_key = runtime.keys.create("scanner", ["scan"])[0]
    assert call(runtime, scan_key, "GET", "/v1/notifications/subscriptions")[0] == 403
    bad = [
        {"kind": "webhook"},
        {"kind": "email", "to": []},
        {"kind": "email", "to": ["not-an-address"]},
        {"kind": "teams", "url": "ftp://x"},
        {"kind": "webhook", "url": receiver.url, "events": ["lead.nope"]},
        {"kind": "slack", "url": receiver.url, "digest": "daily"},
    ]
    for body in bad:
        assert call(runtime, admin, "POST", "/v1/notifications/subscriptions", body)[0] == 422, body
    sub = call(runtime, admin, "POST", "/v1/notifications/subscriptions", {"kind": "teams", "url": receiver.url})[1]
    status, result = call(runtime, admin, "POST", f"/v1/notifications/subscriptions/{sub['id']}/test")
    assert status == 200 and result["delivered"] is True
    card = json.loads(receiver.received[-1][1])
    assert card["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert call(runtime, admin, "DELETE", f"/v1/notifications/subscriptions/{sub['id']}")[0] == 204
    assert call(runtime, admin, "GET", f"/v1/notifications/subscriptions/{sub['id']}")[0] == 404


def test_hunter_notify_add_list_test_remove(world, monkeypatch):
    from click.testing import CliRunner

    from shared.cli.main import main
    from shared.config import get_settings

    monkeypatch.setenv("HUNTER_NOTIFY_ALLOW_PRIVATE", "true")  # the receiver is http on loopback
    get_settings.cache_clear()

    runtime, _, receiver, _ = world
    url = runtime.settings.database_url
    runner = CliRunner()
    added = runner.invoke(main, ["notify", "add", "--kind", "webhook", "--url", receiver.url, "--db", url])
    assert added.exit_code == 0, added.output
    secret = added.stdout.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    (sub,) = store.subscriptions(runtime.engine)
    listed = runner.invoke(main, ["notify", "list", "--db", url])
    assert sub.id in listed.output and secret not in listed.output
    tested = runner.invoke(main, ["notify", "test", sub.id, "--db", url])
    assert tested.exit_code == 0 and "delivered" in tested.output
    assert runner.invoke(main, ["notify", "add", "--kind", "email", "--db", url]).exit_code != 0  # no --to
    assert runner.invoke(main, ["notify", "remove", sub.id, "--db", url]).exit_code == 0
    assert store.subscriptions(runtime.engine) == []
    get_settings.cache_clear()


def test_the_signing_secret_is_sealed_at_rest_with_the_token_cache_key(world):
    """With HUNTER_TOKEN_CACHE_KEY set, the stored secret is a Fernet token (a database dump yields no
    usable secret), deliveries are still signed with the clear secret, and a removed key fails the
    delivery with a clear error instead of signing with garbage."""
    from cryptography.fernet import Fernet
    from pydantic import SecretStr
    from standardwebhooks.webhooks import Webhook

    runtime, dns, receiver, admin = world
    key = Fernet.generate_key().decode()
    sealed_runtime = Runtime(runtime.settings.model_copy(update={"token_cache_key": SecretStr(key)}))
    set_runtime(sealed_runtime)
    status, created = call(
        sealed_runtime, admin, "POST", "/v1/notifications/subscriptions",
        {"kind": "webhook", "url": receiver.url, "events": ["lead.provider_changed"]},
    )  # fmt: skip
    assert status == 201
    stored = store.subscription(sealed_runtime.engine, created["id"]).secret
    assert stored.startswith("fernet:") and created["secret"] not in stored

    scan(sealed_runtime)
    dns.reload(AFTER)
    scan(sealed_runtime)
    drain(sealed_runtime)
    headers, body = receiver.received[0]
    Webhook(created["secret"]).verify(body, headers)

    dns.reload(BEFORE)  # a move back, delivered by a runtime that lost the key
    scan(sealed_runtime)
    set_runtime(runtime)
    drain(runtime)
    assert len(receiver.received) == 1
    log = call(runtime, admin, "GET", "/v1/notifications/deliveries", subscription=created["id"])[1]["items"]
    failing = [d for d in log if d["status"] != "delivered"]
    assert failing and "HUNTER_TOKEN_CACHE_KEY" in (failing[0]["last_error"] or "")
