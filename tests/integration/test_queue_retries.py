"""Retries back off exponentially and poison messages never expire (go-live hardening, row 12).

The local worker on every backend (the local table on SQLite and PostgreSQL, Azure Storage on
Azurite, SQS on moto), the Azure Functions glue against Azurite as the host would call it, the
poison queue's expiry on Azure and SQS, and the poison-length gauge of ``/api/healthz/metrics``.
Delays are small (a base of a fraction of a second) and the jitter is pinned by an injected rng.
"""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.functions.queue import QueueMessage as TriggerMessage  # what the Python worker hands a trigger

from shared import aio
from shared.config import Settings
from shared.hosts.azure import _queue_function
from shared.hosts.queue_runner import run_on_functions_host
from shared.http.dispatch import dispatch
from shared.http.types import HttpRequest
from shared.local.worker import QueueWorker
from shared.queues import Delivery, QueueMessage, poison_name
from shared.queues.hostjson import QueueOptions
from shared.queues.retry import RetryPolicy, nominal_delay
from shared.runtime import Runtime, set_runtime
from shared.services.queue_ops import QueueOps
from shared.store.keys import ApiKeyStore
from shared.store.queue_audit import QueueAudit
from shared.triggers.registry import QueueTrigger

FLAKY = "tests.integration.test_queue_retries:flaky"
KNOWN_QUEUE = "scan-requests"  # QueueOps (stats, poison peek, redrive) works on the registry's queues
POLL = QueueOptions(max_dequeue_count=5, visibility_timeout=0, batch_size=16, new_batch_threshold=8,
                    max_polling_interval=0.1)


class Top(random.Random):
    """Pins the jitter to the top of its interval: each wait is exactly its nominal delay."""

    def uniform(self, a: float, b: float) -> float:
        return b


async def flaky(body: str, delivery: Delivery, runtime: Runtime) -> None:
    """Fails the first ``fail`` deliveries (or every one while ``runtime.broken``), then succeeds."""
    calls = runtime.__dict__.setdefault("retry_calls", [])
    calls.append((time.monotonic(), delivery.dequeue_count, delivery.id))
    if runtime.__dict__.get("broken") or delivery.dequeue_count <= json.loads(body)["fail"]:
        raise ConnectionError(f"database unreachable (delivery {delivery.dequeue_count})")


def settings_for(kind: str, request: pytest.FixtureRequest, tmp_path) -> Settings:
    database = f"sqlite:///{tmp_path / 'hunter.db'}"
    if kind == "local-postgresql":
        from tests.conftest import _postgres_database

        databases = _postgres_database()
        database = next(databases)
        request.addfinalizer(lambda: next(databases, None))
    if kind == "azure":
        azurite = request.getfixturevalue("azurite")
        return Settings(database_url=database, queue_backend="azure", queue_connection=azurite)
    if kind == "sqs":
        moto = request.getfixturevalue("moto_sqs")
        return Settings(database_url=database, queue_backend="sqs", sqs_endpoint_url=moto)
    return Settings(database_url=database, queue_backend="local")


def drain(runtime: Runtime, queue: str, policy: RetryPolicy) -> QueueWorker:
    trigger = QueueTrigger("flaky", FLAKY, queue=queue)
    worker = QueueWorker((trigger,), POLL, exit_when_idle=True, timers=(), runtime=runtime, retry=policy)
    aio.run(worker.run())
    return worker


@pytest.mark.parametrize(
    ("kind", "base"),
    [
        ("local-sqlite", 0.4),
        pytest.param("local-postgresql", 0.4, marks=pytest.mark.postgres),
        ("azure", 1.0),  # whole seconds on Azure and SQS
        ("sqs", 1.0),
    ],
)
def test_three_failures_then_success_is_processed_once_with_growing_delays(kind, base, request, tmp_path):
    runtime = Runtime(settings_for(kind, request, tmp_path))
    name = f"retry-{uuid.uuid4().hex[:12]}"
    queue, poison = runtime.queue(name), runtime.queue(poison_name(name))
    queue.create()
    message_id = queue.send(json.dumps({"v": 1, "fail": 3}))

    worker = drain(runtime, name, RetryPolicy(base=base, cap=60, max_attempts=5, rng=Top()))

    calls = runtime.__dict__["retry_calls"]
    assert [count for _, count, _ in calls] == [1, 2, 3, 4]  # one message, retried, processed once
    assert {mid for _, _, mid in calls} == {message_id}  # the same message each time, not a copy
    assert (worker.failed, worker.processed) == (3, 1)
    assert queue.length() == 0 and poison.length() == 0
    gaps = [later - earlier for (earlier, _, _), (later, _, _) in zip(calls, calls[1:], strict=False)]
    wanted = [nominal_delay(n, base, 60) for n in (1, 2, 3)]  # base, 2·base, 4·base
    for gap, delay in zip(gaps, wanted, strict=True):
        assert delay - 0.05 <= gap <= delay + 1.5, (gaps, wanted)
    assert gaps[0] < gaps[1] < gaps[2], gaps
    (failure,) = QueueAudit(runtime.engine).failures(name, [json.dumps({"v": 1, "fail": 3})]).values()
    assert failure.dequeue_count == 3 and "database unreachable (delivery 3)" in failure.last_error


def test_last_attempt_poisons_once_with_its_error_then_redrive_and_metrics(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'hunter.db'}", queue_backend="local")
    runtime = Runtime(settings)
    queue, poison = runtime.queue(KNOWN_QUEUE), runtime.queue(poison_name(KNOWN_QUEUE))
    failing = json.dumps({"v": 1, "job": "f" * 32, "batch": 0, "fail": 9})  # fails on every delivery
    queue.send(json.dumps({"v": 1, "fail": 0}))  # succeeds at once: only the failing one is poisoned
    queue.send(failing)
    policy = RetryPolicy(base=0.05, cap=1, max_attempts=3, rng=Top())

    started = time.monotonic()
    worker = drain(runtime, KNOWN_QUEUE, policy)
    assert time.monotonic() - started >= 0.05 + 0.1  # it waited out both retries before giving up
    assert (worker.failed, worker.processed) == (3, 1)
    assert queue.length() == 0 and poison.length() == 1

    ops = QueueOps(settings, runtime.engine)
    (stuck,) = ops.peek_poison(KNOWN_QUEUE)
    assert stuck.body == failing  # unchanged
    assert stuck.dequeue_count == 3 and stuck.last_error == "ConnectionError: database unreachable (delivery 3)"
    actions = [(a.action, a.actor, a.detail) for a in QueueAudit(runtime.engine).history(KNOWN_QUEUE)]
    assert actions == [("poisoned", "worker", "ConnectionError on delivery 3")]  # exactly once

    key = ApiKeyStore(runtime.engine).create("prometheus", ["read"])[0]
    scrape = HttpRequest("GET", "/healthz/metrics", headers={"x-api-key": key})
    text = dispatch(scrape, runtime).body_bytes().decode()
    assert f'hunter_queue_poison_messages{{queue="{KNOWN_QUEUE}"}} 1.0' in text
    assert f'hunter_queue_messages{{queue="{KNOWN_QUEUE}"}} 0.0' in text
    assert 'hunter_queue_poison_messages{queue="d365-push"} 0.0' in text
    age = float(re.search(rf'hunter_queue_poison_oldest_age_seconds{{queue="{KNOWN_QUEUE}"}} (\S+)', text)[1])
    assert 0 <= age < 60
    assert "hunter_queue_stats_ok 1.0" in text

    assert ops.redrive(KNOWN_QUEUE, ids=[stuck.id], actor="test") == [stuck.id]
    (back,) = queue.peek()
    assert back.body == failing and back.dequeue_count == 0  # the count starts again
    text = dispatch(scrape, runtime).body_bytes().decode()
    assert f'hunter_queue_poison_messages{{queue="{KNOWN_QUEUE}"}} 0.0' in text
    assert f'hunter_queue_messages{{queue="{KNOWN_QUEUE}"}} 1.0' in text

    worker = drain(runtime, KNOWN_QUEUE, policy)  # still failing: a full set of deliveries again, then poison
    assert (worker.failed, worker.processed) == (3, 0)
    assert queue.length() == 0 and poison.length() == 1


def test_a_message_that_recovers_after_redrive_is_processed(tmp_path):
    runtime = Runtime(Settings(database_url=f"sqlite:///{tmp_path / 'hunter.db'}", queue_backend="local"))
    queue, poison = runtime.queue(KNOWN_QUEUE), runtime.queue(poison_name(KNOWN_QUEUE))
    queue.send(json.dumps({"v": 1, "fail": 0}))
    runtime.__dict__["broken"] = True  # the outage outlasts every retry
    policy = RetryPolicy(base=0.05, cap=1, max_attempts=2, rng=Top())
    drain(runtime, KNOWN_QUEUE, policy)
    assert poison.length() == 1 and queue.length() == 0

    runtime.__dict__["broken"] = False  # fixed: the operator redrives
    assert len(QueueOps(runtime.settings, runtime.engine).redrive(KNOWN_QUEUE, ids=None, actor="test")) == 1
    worker = drain(runtime, KNOWN_QUEUE, policy)
    assert (worker.processed, worker.failed) == (1, 0) and queue.length() == 0 and poison.length() == 0


# -- the Azure Functions glue, with Azurite as the host's Storage account ------------------------


def host_delivers(queue, *, visibility: float = 600) -> tuple[QueueMessage, TriggerMessage]:
    """Receive one message as the Functions host does (10-minute lease) and build the trigger's message."""
    deadline = time.monotonic() + 15
    while not (got := queue.receive(1, visibility_timeout=visibility)):
        assert time.monotonic() < deadline, "the message did not come back"
        time.sleep(0.1)
    (message,) = got
    return message, TriggerMessage(
        id=message.id,
        body=message.body.encode(),
        dequeue_count=message.dequeue_count,
        pop_receipt=message.receipt,
        insertion_time=message.enqueued_at,
    )


@pytest.fixture
def azure_runtime(azurite, tmp_path):
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'hunter.db'}",
        queue_backend="azure",
        queue_connection=azurite,
        queue_retry_base=1,
        queue_retry_max=4,
    )
    runtime = Runtime(settings)
    set_runtime(runtime)  # the glue uses get_runtime(), as on Azure
    yield runtime
    set_runtime(None)


def test_azure_function_hides_a_failed_message_with_backoff_instead_of_raising(azure_runtime):
    runtime = azure_runtime
    name = f"retry-{uuid.uuid4().hex[:12]}"
    queue = runtime.queue(name)
    queue.create()
    body = json.dumps({"v": 1, "domain": "acme.com.tr", "fail": 1})
    queue.send(body)
    handle = _queue_function(QueueTrigger("flaky", FLAKY, queue=name))

    first, trigger_message = host_delivers(queue)
    aio.run(handle(trigger_message))  # failed, and returned normally: the host will "complete" it
    settled = time.monotonic()
    assert queue.delete(first) is False  # the host's delete: PopReceiptMismatch, which the host ignores
    assert queue.length() == 1 and queue.receive(1) == []  # still there, hidden for the backoff
    again, trigger_message = host_delivers(queue)
    waited = time.monotonic() - settled
    assert (again.id, again.body, again.dequeue_count) == (first.id, body, 2)  # the same message, count kept
    assert 0.5 <= waited < 10  # the first wait: 0.5-1 s (base 1, jittered), in whole seconds on Azure
    aio.run(handle(trigger_message))  # succeeds
    assert queue.delete(again) is True  # the host completes it
    assert queue.length() == 0 and runtime.queue(poison_name(name)).length() == 0


def test_azure_function_poisons_on_the_last_attempt_with_no_expiry(azure_runtime, azurite):
    from azure.storage.queue import QueueClient

    runtime = azure_runtime
    name = f"retry-{uuid.uuid4().hex[:12]}"
    queue, poison = runtime.queue(name), runtime.queue(poison_name(name))
    queue.create()
    body = json.dumps({"v": 1, "job": "a" * 32, "batch": 7, "fail": 99})
    queue.send(body)
    trigger = QueueTrigger("flaky", FLAKY, queue=name)
    policy = RetryPolicy(base=1, cap=4, max_attempts=2, rng=Top())

    first, _ = host_delivers(queue)
    outcome = aio.run(run_on_functions_host(trigger, first, runtime, policy))
    assert (outcome.action, outcome.delay) == ("retry", 1.0)
    last, _ = host_delivers(queue)
    assert last.dequeue_count == 2
    assert aio.run(run_on_functions_host(trigger, last, runtime, policy)).action == "poisoned"
    assert queue.delete(last) is True  # the host completes it: it never poisons (or retries) it itself
    assert queue.length() == 0 and poison.length() == 1

    # A message sent with time_to_live=-1 reports the expiry "9999-12-31 23:59:59 GMT" (Azurite as
    # Azure); with the default it would be 7 days from now.
    never = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    raw = QueueClient.from_connection_string(azurite, poison_name(name))
    (peeked,) = raw.peek_messages(max_messages=1)
    assert peeked.expires_on == never
    raw.send_message("sent without a time-to-live")
    default = [m.expires_on for m in raw.peek_messages(max_messages=2) if m.expires_on != never]
    assert len(default) == 1 and default[0] < datetime.now(UTC) + timedelta(days=8)  # what -1 avoids
    queue.send("a normal message")  # main queues' messages do not expire either
    (normal,) = QueueClient.from_connection_string(azurite, name).peek_messages(max_messages=1)
    assert normal.expires_on == never

    assert [m.body for m in poison.peek()].count(body) == 1  # exactly once, body unchanged
    (recorded,) = QueueAudit(runtime.engine).failures(name, [body]).values()
    assert recorded.dequeue_count == 2 and recorded.last_error == "ConnectionError: database unreachable (delivery 2)"
    assert [(a.action, a.actor) for a in QueueAudit(runtime.engine).history(name)] == [("poisoned", "worker")]


def test_azure_function_falls_back_to_the_host_when_the_retry_cannot_be_scheduled(azure_runtime):
    runtime = azure_runtime
    name = f"retry-{uuid.uuid4().hex[:12]}"
    queue = runtime.queue(name)
    queue.send(json.dumps({"v": 1, "fail": 9}))
    message, _ = host_delivers(queue)
    renewed = queue.update_visibility(message, 600)  # the host renewed it: the trigger's receipt is stale
    with pytest.raises(ConnectionError):  # re-raised: the host's own retry (and poisoning) applies
        aio.run(run_on_functions_host(QueueTrigger("flaky", FLAKY, queue=name), message, runtime))
    assert queue.length() == 1 and queue.delete(renewed) is True


# -- SQS: the longest retention there is ----------------------------------------------------------


def test_sqs_queues_keep_messages_for_14_days(moto_sqs):
    import boto3

    client = boto3.client(
        "sqs", region_name="eu-west-1", endpoint_url=moto_sqs, aws_access_key_id="x", aws_secret_access_key="x"
    )
    settings = Settings(queue_backend="sqs", sqs_endpoint_url=moto_sqs)
    fresh = f"retry-{uuid.uuid4().hex[:12]}"
    older = f"retry-{uuid.uuid4().hex[:12]}"
    client.create_queue(QueueName=poison_name(older))  # made before this change: 4 days (SQS's default)
    client.create_queue(QueueName=older)
    for name in (fresh, older):
        Runtime(settings).queue(name).create()
        for queue_name in (name, poison_name(name)):
            url = client.get_queue_url(QueueName=queue_name)["QueueUrl"]
            attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            assert attributes["MessageRetentionPeriod"] == "1209600", queue_name
    poison_only = f"retry-{uuid.uuid4().hex[:12]}-poison"
    Runtime(settings).queue(poison_only).create()
    url = client.get_queue_url(QueueName=poison_only)["QueueUrl"]
    attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["MessageRetentionPeriod"])["Attributes"]
    assert attributes["MessageRetentionPeriod"] == "1209600"
