"""One contract (shared/queues/base.py), every backend: the local SQL table on SQLite and PostgreSQL,
Azure Storage queues on Azurite and SQS on moto's server, each reached through ``open_queue`` and
its real client over the real protocol.

Where a backend legitimately cannot honour a clause, the test says which and why, and leaves out
only that assertion for that backend (see the ``*_DIFFERS`` reasons below).
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.config import Settings
from shared.queues import Queue, QueueError, QueueMessage, open_queue, poison_name
from shared.queues.hostjson import queue_options

BACKENDS = ["local-sqlite", pytest.param("local-postgresql", marks=pytest.mark.postgres), "azure", "sqs"]
CAP = {"local-sqlite": 32, "local-postgresql": 32, "azure": 32, "sqs": 10}

SQS_DELETE_DIFFERS = (
    "SQS DeleteMessage answers success for an already deleted message and for an older receipt handle "
    "(which it may or may not honour), so SqsQueue.delete cannot report False there"
)
SQS_STALE_UPDATE_DIFFERS = "SQS accepts ChangeMessageVisibility with an older receipt handle of an in-flight message"
SQS_RECEIPT_DIFFERS = "SQS receipt handles do not change on ChangeMessageVisibility"
SQS_PEEK_DIFFERS = "SQS has no peek: SqsQueue.peek is a receive with VisibilityTimeout=0, which counts as a receive"
SQS_AT_LEAST_ONCE = (
    "SQS standard queues are at-least-once: now and then a message is delivered twice even inside its "
    "visibility timeout, so for SQS only 'every message, at least once' is asserted"
)
SQS_AGE_DIFFERS = (
    "SqsQueue.oldest_age peeks, which counts as a receive and could dead-letter messages of a main queue "
    "(it has a redrive policy), so it answers only on poison queues"
)
TURKISH = "İstanbul'da ağaç gölgesinde şarkı söyleyen çocuklar: ĞÜŞİÖÇ ğüşıöç — “tırnak” €"


@dataclass
class Backend:
    kind: str
    settings: Settings
    engine: object | None

    def open(self, name: str) -> Queue:
        return open_queue(name, self.settings, self.engine)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    from shared.store.db import engine_for

    url = f"sqlite:///{tmp_path_factory.mktemp('queues') / 'hunter.db'}"
    engine = engine_for(url)
    yield url, engine
    engine.dispose()


@pytest.fixture(scope="module")
def postgres_engine() -> Iterator[tuple[str, object]]:
    """One fresh PostgreSQL database for the module: every test has its own queue name in it."""
    from shared.store.db import engine_for
    from tests.conftest import _postgres_database

    databases = _postgres_database()
    url = next(databases)
    engine = engine_for(url)
    yield url, engine
    engine.dispose()
    next(databases, None)  # drops the database


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    kind = request.param
    if kind in ("local-sqlite", "local-postgresql"):
        url, engine = request.getfixturevalue("sqlite_engine" if kind == "local-sqlite" else "postgres_engine")
        return Backend(kind, Settings(queue_backend="local", database_url=url), engine)
    if kind == "azure":
        return Backend(kind, Settings(queue_backend="azure", queue_connection=request.getfixturevalue("azurite")), None)
    return Backend(kind, Settings(queue_backend="sqs", sqs_endpoint_url=request.getfixturevalue("moto_sqs")), None)


@pytest.fixture
def queue(backend: Backend) -> Queue:
    """A fresh, uniquely named, created queue on ``backend``."""
    q = backend.open(f"contract-{uuid.uuid4().hex[:16]}")
    q.create()
    return q


def receive_until(
    queue: Queue, wanted: int = 1, *, visibility_timeout: float = 30, timeout: float = 5.0
) -> list[QueueMessage]:
    """Receive until ``wanted`` messages came back or ``timeout`` passed (for messages due to reappear)."""
    got: list[QueueMessage] = []
    deadline = time.monotonic() + timeout
    while len(got) < wanted and time.monotonic() < deadline:
        batch = queue.receive(wanted - len(got), visibility_timeout=visibility_timeout)
        got.extend(batch)
        if not batch:
            time.sleep(0.05)
    return got


def json_body(size: int) -> str:
    """A JSON document of about ``size`` UTF-8 bytes, Turkish text throughout."""
    rows = []
    while len(json.dumps({"rows": rows}, ensure_ascii=False).encode("utf-8")) < size:
        rows.append({"i": len(rows), "domain": f"örnek-{len(rows)}.com.tr", "note": TURKISH})
    return json.dumps({"rows": rows}, ensure_ascii=False)


# -- send, receive, delete -----------------------------------------------------------------------


def test_roundtrip_keeps_body_and_ids(queue: Queue) -> None:
    large = json_body(46_000)  # the largest size class every backend takes (Azure: 64 KiB after base64)
    bodies = ['{"domain": "example.com"}', TURKISH, json.dumps({"şirket": TURKISH}, ensure_ascii=False), large]
    sent = [queue.send(body) for body in bodies]
    assert len(set(sent)) == len(bodies)
    before = datetime.now(UTC) - timedelta(seconds=5)

    got = receive_until(queue, len(bodies))
    assert sorted((m.id, m.body) for m in got) == sorted(zip(sent, bodies, strict=True))
    for message in got:
        assert message.dequeue_count == 1
        assert message.receipt
        assert message.enqueued_at is not None and message.enqueued_at.tzinfo is not None
        assert before <= message.enqueued_at <= datetime.now(UTC) + timedelta(seconds=5)
    assert all(queue.delete(m) for m in got)
    assert queue.length() == 0
    assert queue.receive(32) == []


def test_send_many_keeps_order_of_ids(queue: Queue) -> None:
    bodies = [json.dumps({"n": n, "text": TURKISH}, ensure_ascii=False) for n in range(25)]
    ids = queue.send_many(bodies)
    assert len(ids) == 25 and len(set(ids)) == 25
    got = receive_until(queue, 25)
    assert {m.id: m.body for m in got} == dict(zip(ids, bodies, strict=True))


def test_body_of_60_kb(backend: Backend, queue: Queue) -> None:
    body = json_body(60_000)
    if backend.kind == "azure":
        # Azure takes at most 64 KiB *after* base64 (the Functions host's encoding): about 48 KiB of
        # text. AzureQueue refuses a larger body up front, with a clear QueueError, sending nothing.
        with pytest.raises(QueueError, match="too large"):
            queue.send(body)
        assert queue.length() == 0
        return
    queue.send(body)
    (message,) = receive_until(queue)
    assert message.body == body


def test_received_message_is_invisible_to_another_receiver(backend: Backend, queue: Queue) -> None:
    queue.send("only one")
    other = backend.open(queue.name)
    (message,) = queue.receive(1, visibility_timeout=30)
    assert other.receive(1, visibility_timeout=30) == []
    assert queue.receive(1) == []
    assert queue.peek() == []
    assert queue.length() == 1  # in flight still counts
    assert other.delete(message) is True  # any instance with the receipt may finish it


def test_message_not_deleted_reappears_with_higher_dequeue_count(queue: Queue) -> None:
    message_id = queue.send("retry me")
    first = queue.receive(1, visibility_timeout=1)
    assert [(m.id, m.dequeue_count) for m in first] == [(message_id, 1)]
    assert queue.receive(1, visibility_timeout=1) == []  # hidden for its visibility timeout

    second = receive_until(queue, visibility_timeout=30)  # back after its timeout ran out
    assert [(m.id, m.body, m.dequeue_count) for m in second] == [(message_id, "retry me", 2)]
    assert second[0].receipt != first[0].receipt

    queue.update_visibility(second[0], 0)  # a failed handler releases it: the next delivery counts too
    third = queue.receive(1, visibility_timeout=30)
    assert [(m.id, m.dequeue_count) for m in third] == [(message_id, 3)]
    assert queue.delete(third[0]) is True


def test_stale_receipts_and_double_deletes(backend: Backend, queue: Queue) -> None:
    """After a redelivery only the newest receipt counts; deleting twice is no error."""
    queue.send("stale")
    (old,) = queue.receive(1, visibility_timeout=1)
    (new,) = receive_until(queue, visibility_timeout=1)  # redelivered with a fresh receipt
    assert new.id == old.id and new.receipt != old.receipt
    if backend.kind != "sqs":  # SQS_DELETE_DIFFERS, SQS_STALE_UPDATE_DIFFERS
        with pytest.raises(QueueError):
            queue.update_visibility(old, 0)
        assert queue.receive(1) == []  # the stale call released nothing
        assert queue.delete(old) is False
        assert queue.length() == 1
    assert queue.delete(new) is True
    again = queue.delete(new)  # must not raise on any backend
    if backend.kind != "sqs":  # SQS_DELETE_DIFFERS: SQS says success again
        assert again is False
    time.sleep(1.1)  # past the visibility timeout: a deleted message never comes back
    assert queue.receive(32) == []
    assert queue.length() == 0


def test_peeked_message_cannot_be_deleted_or_updated(queue: Queue) -> None:
    queue.send("peeked")
    (peeked,) = queue.peek()
    assert peeked.receipt is None
    assert queue.delete(peeked) is False
    with pytest.raises(QueueError):
        queue.update_visibility(peeked, 10)
    assert queue.length() == 1


def test_update_visibility_many_renews_held_messages_only(backend: Backend, queue: Queue) -> None:
    """A worker renews every lease it holds at once; a message it no longer holds comes back None."""
    queue.send_many(["a", "b", "c"])
    other = backend.open(queue.name)
    held = queue.receive(3, visibility_timeout=1)
    assert len(held) == 3
    time.sleep(1.5)  # every lease lapses and another worker takes one of the messages
    (taken,) = other.receive(1, visibility_timeout=30)
    kept = [m for m in held if m.id != taken.id]
    lost = next(m for m in held if m.id == taken.id)
    renewed = queue.update_visibility_many([*kept, lost], 5)
    assert [r.id if r else None for r in renewed[:2]] == [m.id for m in kept]
    if backend.kind != "sqs":  # SQS_STALE_UPDATE_DIFFERS
        assert renewed[2] is None
    assert other.receive(3, visibility_timeout=30) == []  # the renewed two stay hidden
    assert queue.delete(renewed[0]) is True and queue.delete(renewed[1]) is True  # type: ignore[arg-type]
    assert other.delete(taken) is True


def test_update_visibility_extends_and_releases(backend: Backend, queue: Queue) -> None:
    queue.send("long job")
    other = backend.open(queue.name)
    (message,) = queue.receive(1, visibility_timeout=1)
    extended = queue.update_visibility(message, 3)
    assert extended.id == message.id and extended.body == message.body and extended.receipt
    if backend.kind != "sqs":  # SQS_RECEIPT_DIFFERS
        assert extended.receipt != message.receipt
    time.sleep(1.5)  # past the first timeout, inside the extended one
    assert other.receive(1, visibility_timeout=30) == []

    released = queue.update_visibility(extended, 0)
    assert released.receipt
    (again,) = other.receive(1, visibility_timeout=30)  # visible at once
    assert (again.id, again.dequeue_count) == (message.id, 2)
    if backend.kind != "sqs":  # SQS_DELETE_DIFFERS: only the latest receipt may delete
        assert queue.delete(released) is False
    assert other.delete(again) is True


def test_send_with_delay(queue: Queue) -> None:
    started = time.monotonic()
    queue.send("later", delay=1)
    queue.send("now")
    assert [m.body for m in queue.peek()] == ["now"]
    assert [m.body for m in queue.receive(32)] == ["now"]
    assert queue.length() == 2  # delayed messages count
    (message,) = receive_until(queue, timeout=5)
    assert message.body == "later"
    assert time.monotonic() - started >= 0.9


def test_receive_caps(backend: Backend, queue: Queue) -> None:
    queue.send_many([f"m{n}" for n in range(40)])
    assert len(queue.receive(5)) == 5
    assert len(queue.receive(0)) == 1  # at least one is asked for
    assert len(queue.receive(1000)) == CAP[backend.kind]
    assert queue.length() == 40


def test_peek_does_not_hide_messages(backend: Backend, queue: Queue) -> None:
    bodies = ["a", "b", "c"]
    for body in bodies:
        queue.send(body)
        time.sleep(0.01)  # distinct enqueue times: peek lists oldest first
    peeked = queue.peek(32)
    assert [m.body for m in peeked] == bodies  # oldest first
    assert all(m.receipt is None and m.dequeue_count == 0 for m in peeked)
    assert len(queue.peek(2)) == 2
    assert sorted(m.body for m in queue.peek(32)) == bodies  # peeking twice hides nothing either

    got = receive_until(queue, 3)
    assert sorted(m.body for m in got) == bodies
    if backend.kind != "sqs":  # SQS_PEEK_DIFFERS: each peek above added one receive
        assert all(m.dequeue_count == 1 for m in got)
    assert queue.peek() == []


def test_length_and_oldest_age(backend: Backend, queue: Queue) -> None:
    target = backend.open(poison_name(queue.name)) if backend.kind == "sqs" else queue
    if backend.kind == "sqs":  # SQS_AGE_DIFFERS: the age is checked on the poison queue
        queue.send("main")
        assert queue.oldest_age() is None
    assert target.length() == 0
    assert target.oldest_age() is None

    target.send("first")
    time.sleep(1.1)
    target.send("second")
    assert target.length() == 2
    age = target.oldest_age()
    assert age is not None and 1.0 <= age < 30

    received = receive_until(target, 2)
    assert len(received) == 2
    assert target.oldest_age() is None  # none visible
    assert target.length() == 2  # in flight still counts


def test_purge(backend: Backend, queue: Queue) -> None:
    queue.send_many([f"m{n}" for n in range(5)])
    assert len(queue.receive(1)) == 1  # in flight goes too
    deleted = queue.purge()
    if backend.kind.startswith("local"):
        assert deleted == 5
    else:
        assert deleted == -1  # the service does not count
    assert queue.length() == 0
    assert queue.receive(32) == []
    queue.send("after purge")
    assert [m.body for m in receive_until(queue)] == ["after purge"]


def test_poison_queue_is_a_plain_queue_of_the_same_backend(backend: Backend, queue: Queue) -> None:
    name = poison_name(queue.name)
    assert name == queue.name + "-poison" and poison_name(name) == name
    poison = backend.open(name)
    poison.create()
    body = json.dumps({"failed": TURKISH}, ensure_ascii=False)
    poison.send(body)
    assert queue.receive(32) == []
    (message,) = receive_until(poison)
    assert message.body == body
    assert poison.delete(message) is True


def test_create_is_idempotent(backend: Backend, queue: Queue) -> None:
    queue.send("kept")
    queue.create()
    backend.open(queue.name).create()
    assert queue.length() == 1


def test_concurrent_receivers_never_share_a_message(backend: Backend, queue: Queue) -> None:
    """200 messages, 4 threads (two on the shared instance, two on their own): each id exactly once."""
    total = 200
    ids = queue.send_many([json.dumps({"n": n}) for n in range(total)])
    assert len(set(ids)) == total
    received: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    deadline = time.monotonic() + 30

    def work(q: Queue) -> None:
        try:
            while time.monotonic() < deadline:
                with lock:
                    if len(received) >= total:
                        return
                batch = q.receive(8, visibility_timeout=30)
                if not batch:
                    time.sleep(0.02)
                    continue
                with lock:
                    received.extend(m.id for m in batch)
                for m in batch:
                    q.delete(m)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    queues = [queue, queue, backend.open(queue.name), backend.open(queue.name)]
    threads = [threading.Thread(target=work, args=(q,)) for q in queues]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=40)
    assert not errors, errors
    if backend.kind == "sqs":  # SQS_AT_LEAST_ONCE
        assert set(received) == set(ids)
    else:
        assert len(received) == total, f"{len(received)} received, {len(set(received))} distinct"
        assert sorted(received) == sorted(ids)
    assert queue.length() == 0


# -- what a backend must do to match the others ------------------------------------------------


def test_backend_failures_are_queue_errors(backend: Backend, tmp_path: Path) -> None:
    """A service that is down (or a database that can't be opened) surfaces as QueueError."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # nothing listens here once closed
    name = f"contract-{uuid.uuid4().hex[:16]}"
    if backend.kind.startswith("local"):
        from sqlalchemy import create_engine

        from shared.queues.local import LocalQueue

        broken: Queue = LocalQueue(name, create_engine(f"sqlite:///{tmp_path / 'missing' / 'x.db'}"))
    elif backend.kind == "azure":
        from shared.queues.azure import AzureQueue

        connection = backend.settings.queue_connection or ""
        broken = AzureQueue(
            name,
            connection.split("QueueEndpoint=")[0] + f"QueueEndpoint=http://127.0.0.1:{dead}/devstoreaccount1;",
            retries=0,
        )
    else:
        from shared.queues.sqs import SqsQueue

        broken = SqsQueue(name, endpoint_url=f"http://127.0.0.1:{dead}", retries=0)
    with pytest.raises(QueueError):
        broken.send("x")
    with pytest.raises(QueueError):
        broken.receive(1)


# -- Azure specifics -----------------------------------------------------------------------------


def test_azure_development_storage_connection_string() -> None:
    """``UseDevelopmentStorage=true`` (what local.settings.json holds for Azurite) names Azurite's queue port."""
    from shared.queues.azure import AzureQueue

    for connection in ("UseDevelopmentStorage=true", "UseDevelopmentStorage=True;"):
        assert AzureQueue("jobs", connection).url == "http://127.0.0.1:10001/devstoreaccount1/jobs"
    with pytest.raises(QueueError) as caught:
        AzureQueue("jobs", "AccountKey=c2VjcmV0;nonsense")
    assert "c2VjcmV0" not in str(caught.value)


def test_azure_messages_are_base64_like_the_functions_host(azurite: str) -> None:
    """What we send, a queue trigger (messageEncoding base64) can read, and the other way round."""
    from azure.storage.queue import QueueClient, TextBase64EncodePolicy

    assert queue_options().message_encoding == "base64"
    name = f"contract-{uuid.uuid4().hex[:16]}"
    ours = open_queue(name, Settings(queue_backend="azure", queue_connection=azurite))
    ours.create()
    raw = QueueClient.from_connection_string(azurite, name)  # no encoding: sees the wire format
    host = QueueClient.from_connection_string(azurite, name, message_encode_policy=TextBase64EncodePolicy())

    ours.send(TURKISH)
    (wire,) = raw.receive_messages(max_messages=1)
    assert base64.b64decode(wire.content).decode("utf-8") == TURKISH
    raw.delete_message(wire)

    host.send_message(TURKISH)  # as the Functions host (or its poison handling) writes
    raw.send_message("plain text {not base64}")  # a tool using messageEncoding none
    got = receive_until(ours, 2)
    assert sorted(m.body for m in got) == sorted([TURKISH, "plain text {not base64}"])


# -- SQS specifics -------------------------------------------------------------------------------


def test_sqs_create_sets_redrive_policy_to_the_poison_queue(moto_sqs: str) -> None:
    import boto3

    name = f"contract-{uuid.uuid4().hex[:16]}"
    queue = open_queue(name, Settings(queue_backend="sqs", sqs_endpoint_url=moto_sqs))
    queue.create()
    client = boto3.client(
        "sqs", region_name="eu-west-1", endpoint_url=moto_sqs, aws_access_key_id="x", aws_secret_access_key="x"
    )
    main_url = client.get_queue_url(QueueName=name)["QueueUrl"]
    poison_url = client.get_queue_url(QueueName=poison_name(name))["QueueUrl"]
    main = client.get_queue_attributes(QueueUrl=main_url, AttributeNames=["All"])["Attributes"]
    poison = client.get_queue_attributes(QueueUrl=poison_url, AttributeNames=["All"])["Attributes"]
    policy = json.loads(main["RedrivePolicy"])
    assert policy["deadLetterTargetArn"] == poison["QueueArn"]
    assert int(policy["maxReceiveCount"]) == queue_options().max_dequeue_count
    assert "RedrivePolicy" not in poison


def test_sqs_dead_letters_after_max_dequeue_count(moto_sqs: str) -> None:
    """SQS moves a message to the poison queue on the receive after maxDequeueCount, as the host does."""
    name = f"contract-{uuid.uuid4().hex[:16]}"
    settings = Settings(queue_backend="sqs", sqs_endpoint_url=moto_sqs)
    queue, poison = open_queue(name, settings), open_queue(poison_name(name), settings)
    queue.send("always fails")  # created on first use, with its redrive policy
    for attempt in range(1, queue_options().max_dequeue_count + 1):
        (message,) = queue.receive(1, visibility_timeout=30)
        assert message.dequeue_count == attempt
        queue.update_visibility(message, 0)  # the handler failed: release it at once
    assert queue.receive(1) == []
    (dead,) = receive_until(poison)
    assert dead.body == "always fails"


def test_sqs_delay_over_15_minutes_is_clamped(moto_sqs: str) -> None:
    queue = open_queue(f"contract-{uuid.uuid4().hex[:16]}", Settings(queue_backend="sqs", sqs_endpoint_url=moto_sqs))
    queue.send("much later", delay=3600)  # SQS refuses DelaySeconds > 900; we clamp
    assert queue.receive(1) == []
    assert queue.length() == 1
