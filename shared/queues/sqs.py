"""The ``sqs`` queue backend: AWS SQS standard queues through boto3 (moto or another local endpoint in tests).

Azure's semantics mapped onto SQS, and where SQS cannot follow:

* ``create`` makes ``<name>`` and ``<name>-poison`` and gives the main queue a RedrivePolicy with
  ``maxReceiveCount`` = host.json's ``maxDequeueCount``, so SQS dead-letters a message exactly when
  the Functions host would move it to the poison queue. A poison queue has no redrive policy. Any
  call on a queue that does not exist yet creates it (and its poison queue) first.
* Messages expire: SQS has no "never" (Azure's ``time_to_live=-1``). ``create`` sets both queues'
  ``MessageRetentionPeriod`` to SQS's maximum, 14 days (the default is 4), on new and existing
  queues alike. A message SQS itself dead-letters keeps its original enqueue time, so it has 14
  days from its first send; one the worker moves is a new message with 14 days of its own. Watch
  the poison queue so nobody learns of a poison message from its disappearance: the
  ``hunter_queue_poison_messages`` gauge of ``/api/healthz/metrics``, or a CloudWatch alarm on the
  poison queue's ``ApproximateNumberOfMessagesVisible`` > 0 (and ``ApproximateAgeOfOldestMessage``
  well under 14 days).
* ``delay`` becomes ``DelaySeconds``, rounded up and clamped to SQS's maximum of 900 s (15 minutes):
  a longer delay is delivered after 15 minutes.
* ``delete`` cannot tell a stale receipt or an already deleted message: SQS answers success either
  way (and may or may not delete with an older receipt handle). It returns False only when SQS
  rejects the receipt handle outright.
* ``update_visibility`` keeps the receipt: SQS receipt handles do not change on ChangeMessageVisibility.
* ``peek`` does not exist in SQS: it is a receive with ``VisibilityTimeout=0``, so the messages stay
  visible but **each peek counts as a receive**. On a poison queue (no redrive policy) that is
  harmless; on a main queue, peeking a message more than ``maxReceiveCount`` times dead-letters it.
  The reported ``dequeue_count`` leaves out the peek's own receive. Peek is best effort (short
  polling samples only some SQS servers) and returns at most what a few receives of 10 find.
* ``oldest_age`` peeks, so for the reason above it only does so on a poison queue; on a main queue
  it returns None (SQS publishes the age only as the CloudWatch metric ApproximateAgeOfOldestMessage).
* ``length`` is visible + in flight + delayed (SQS's approximate counts); ``purge`` is PurgeQueue
  (returns -1: SQS does not count, and AWS allows one purge per queue per 60 s).
* ``receive`` short-polls (``WaitTimeSeconds=0``) and takes at most 10 messages.

Credentials come from boto3's usual chain. For a local endpoint (``endpoint_url`` set, not an
``amazonaws.com`` host) with no ``AWS_ACCESS_KEY_ID``/``AWS_PROFILE`` in the environment, dummy
credentials are used, since moto and similar emulators accept any.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from shared.queues.base import POISON_SUFFIX, Queue, QueueError, QueueMessage, check_queue_name, poison_name

MAX_RECEIVE = 10
MAX_BATCH = 10
MAX_BATCH_BYTES = 256 * 1024  # a SendMessageBatch request's payload, summed over its entries
MAX_DELAY = 900
MAX_VISIBILITY = 12 * 3600
MAX_RETENTION = 14 * 24 * 3600  # 1,209,600 s: the longest MessageRetentionPeriod SQS allows
_ATTRIBUTES = ["ApproximateReceiveCount", "SentTimestamp"]
_NOT_FOUND = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}
_BAD_RECEIPT = {"ReceiptHandleIsInvalid", "InvalidParameterValue", "AWS.SimpleQueueService.ReceiptHandleIsInvalid"}

# botocore logs whole requests at DEBUG; keep them out unless someone asked for them explicitly.
for _logger in ("boto3", "botocore"):
    if logging.getLogger(_logger).level == logging.NOTSET:
        logging.getLogger(_logger).setLevel(logging.WARNING)

T = TypeVar("T")


def _codes(exc: ClientError) -> set[str]:
    error = exc.response.get("Error", {})
    return {str(error.get("Code", "")), str(error.get("QueryErrorCode", ""))} - {""}


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return "/".join(sorted(_codes(exc))) or type(exc).__name__
    return type(exc).__name__


def _session(endpoint_url: str | None) -> boto3.session.Session:
    """boto3's credential chain, or dummy credentials for a local emulator that has none to check."""
    host = (urlparse(endpoint_url).hostname or "") if endpoint_url else ""
    local = bool(endpoint_url) and not (host.endswith(".amazonaws.com") or host.endswith(".amazonaws.com.cn"))
    if local and not (os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE")):
        return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
    return boto3.session.Session()


def _chunks(bodies: list[str]) -> Iterator[list[tuple[int, str]]]:
    """Batches of at most 10 messages and 256 KiB, numbered by their place in ``bodies``."""
    chunk: list[tuple[int, str]] = []
    size = 0
    for index, body in enumerate(bodies):
        length = len(body.encode("utf-8"))
        if chunk and (len(chunk) == MAX_BATCH or size + length > MAX_BATCH_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append((index, body))
        size += length
    if chunk:
        yield chunk


class SqsQueue(Queue):
    """One SQS standard queue; the boto3 client (thread-safe) and the queue URL are kept per instance."""

    def __init__(
        self,
        name: str,
        *,
        endpoint_url: str | None = None,
        region: str = "eu-west-1",
        max_receive_count: int = 5,
        retries: int = 3,
    ) -> None:
        self.name = check_queue_name(name)
        self.is_poison = name.endswith(POISON_SUFFIX)
        self.max_receive_count = max(1, int(max_receive_count))
        self._client = _session(endpoint_url).client(
            "sqs",
            region_name=region,
            endpoint_url=endpoint_url,
            config=Config(
                retries={"mode": "standard", "total_max_attempts": retries + 1},
                connect_timeout=10,
                read_timeout=30,
                max_pool_connections=16,
            ),
        )
        self._url: str | None = None
        self._lock = threading.RLock()

    # -- plumbing -----------------------------------------------------------------------------

    def _queue_url(self) -> str:
        """Looked up once; a missing queue is created (with its poison queue) on first use."""
        with self._lock:
            if self._url is None:
                try:
                    self._url = self._client.get_queue_url(QueueName=self.name)["QueueUrl"]
                except ClientError as exc:
                    if not _codes(exc) & _NOT_FOUND:
                        raise
                    self.create()
            assert self._url is not None
            return self._url

    def _call(self, what: str, fn: Callable[[str], T]) -> T:
        """Run ``fn(queue_url)``; a queue deleted behind our back is looked up (or created) again once."""
        try:
            try:
                return fn(self._queue_url())
            except ClientError as exc:
                if not _codes(exc) & _NOT_FOUND:
                    raise
                with self._lock:
                    self._url = None
                return fn(self._queue_url())
        except (ClientError, BotoCoreError) as exc:
            raise QueueError(f"SQS queue {self.name}: {what} failed: {_describe(exc)}") from exc

    def _create_queue(self, name: str) -> str:
        try:
            return self._client.create_queue(QueueName=name)["QueueUrl"]
        except ClientError as exc:
            if not _codes(exc) & {"QueueAlreadyExists", "QueueNameExists", "AWS.SimpleQueueService.QueueNameExists"}:
                raise
            return self._client.get_queue_url(QueueName=name)["QueueUrl"]

    @staticmethod
    def _message(raw: dict[str, Any], *, peeked: bool = False) -> QueueMessage:
        attributes = raw.get("Attributes", {})
        count = int(attributes.get("ApproximateReceiveCount", 1))
        sent = attributes.get("SentTimestamp")
        return QueueMessage(
            id=raw["MessageId"],
            body=raw.get("Body", ""),
            dequeue_count=max(0, count - 1) if peeked else count,
            receipt=None if peeked else raw["ReceiptHandle"],
            enqueued_at=datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else None,
        )

    def _receive(self, url: str, count: int, timeout: int) -> list[dict[str, Any]]:
        return self._client.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=count,
            VisibilityTimeout=timeout,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=_ATTRIBUTES,
        ).get("Messages", [])

    # -- the contract -------------------------------------------------------------------------

    def create(self) -> None:
        """Create the queue (and, for a main queue, its poison queue and the redrive policy between
        them); either way, set the longest retention SQS allows (see the module doc)."""
        retention = {"MessageRetentionPeriod": str(MAX_RETENTION)}
        try:
            with self._lock:
                if self.is_poison:
                    url = self._create_queue(self.name)
                    self._client.set_queue_attributes(QueueUrl=url, Attributes=retention)
                    self._url = url
                    return
                poison_url = self._create_queue(poison_name(self.name))
                self._client.set_queue_attributes(QueueUrl=poison_url, Attributes=retention)
                arn = self._client.get_queue_attributes(QueueUrl=poison_url, AttributeNames=["QueueArn"])["Attributes"][
                    "QueueArn"
                ]
                url = self._create_queue(self.name)
                policy = {"deadLetterTargetArn": arn, "maxReceiveCount": str(self.max_receive_count)}
                self._client.set_queue_attributes(
                    QueueUrl=url, Attributes={"RedrivePolicy": json.dumps(policy), **retention}
                )
                self._url = url
        except (ClientError, BotoCoreError) as exc:
            raise QueueError(f"SQS queue {self.name}: create failed: {_describe(exc)}") from exc

    def send(self, body: str, *, delay: float = 0) -> str:
        seconds = min(MAX_DELAY, math.ceil(max(0.0, delay)))
        return self._call(
            "send",
            lambda url: self._client.send_message(QueueUrl=url, MessageBody=body, DelaySeconds=seconds)["MessageId"],
        )

    def send_many(self, bodies: Iterable[str], *, delay: float = 0) -> list[str]:
        items = list(bodies)
        seconds = min(MAX_DELAY, math.ceil(max(0.0, delay)))
        ids: list[str] = [""] * len(items)
        for chunk in _chunks(items):
            entries = [{"Id": str(index), "MessageBody": body, "DelaySeconds": seconds} for index, body in chunk]

            def batch(url: str, entries: list[dict[str, Any]] = entries) -> dict[str, Any]:
                return self._client.send_message_batch(QueueUrl=url, Entries=entries)

            result = self._call("send", batch)
            if result.get("Failed"):
                sent = sum(1 for i in ids if i) + len(result.get("Successful", []))
                first = result["Failed"][0]
                raise QueueError(
                    f"SQS queue {self.name}: {len(result['Failed'])} of a batch not sent "
                    f"({first.get('Code')}); {sent} of {len(items)} sent"
                )
            for entry in result.get("Successful", []):
                ids[int(entry["Id"])] = entry["MessageId"]
        return ids

    def receive(self, max_messages: int = 1, *, visibility_timeout: float = 30) -> list[QueueMessage]:
        count = max(1, min(max_messages, MAX_RECEIVE))
        timeout = min(MAX_VISIBILITY, math.ceil(max(0.0, visibility_timeout)))
        raw = self._call("receive", lambda url: self._receive(url, count, timeout))
        return sorted((self._message(m) for m in raw), key=lambda m: m.enqueued_at or datetime.min.replace(tzinfo=UTC))

    def delete(self, message: QueueMessage) -> bool:
        """True when SQS accepted the delete (which it also does for stale receipts: see the module doc)."""
        if message.receipt is None:
            return False
        try:
            self._call("delete", lambda url: self._client.delete_message(QueueUrl=url, ReceiptHandle=message.receipt))
        except QueueError as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and _codes(cause) & _BAD_RECEIPT:
                return False
            raise
        return True

    def update_visibility(self, message: QueueMessage, timeout: float) -> QueueMessage:
        if message.receipt is None:
            raise QueueError(f"SQS queue {self.name}: message {message.id} was peeked, not received")
        seconds = min(MAX_VISIBILITY, math.ceil(max(0.0, timeout)))
        self._call(
            f"update_visibility of {message.id}",
            lambda url: self._client.change_message_visibility(
                QueueUrl=url, ReceiptHandle=message.receipt, VisibilityTimeout=seconds
            ),
        )
        return message

    def peek(self, max_messages: int = 32) -> list[QueueMessage]:
        """Receives with VisibilityTimeout=0 (see the module doc: each one counts as a receive)."""
        wanted = max(1, min(max_messages, 32))
        found: dict[str, QueueMessage] = {}
        for _ in range(math.ceil(wanted / MAX_RECEIVE)):
            raw = self._call("peek", lambda url: self._receive(url, min(MAX_RECEIVE, wanted - len(found)), 0))
            fresh = [m for m in raw if m["MessageId"] not in found]
            if not fresh:
                break
            for m in fresh:
                found[m["MessageId"]] = self._message(m, peeked=True)
            if len(raw) < MAX_RECEIVE or len(found) >= wanted:
                break  # ask again only after a full answer: every ask counts as a receive
        messages = sorted(found.values(), key=lambda m: m.enqueued_at or datetime.min.replace(tzinfo=UTC))
        return messages[:wanted]

    def length(self) -> int:
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        attributes = self._call(
            "length", lambda url: self._client.get_queue_attributes(QueueUrl=url, AttributeNames=names)
        ).get("Attributes", {})
        return sum(int(attributes.get(name, 0)) for name in names)

    def oldest_age(self) -> float | None:
        """Peek-based, so only on a poison queue; None on a main queue (see the module doc)."""
        if not self.is_poison:
            return None
        peeked = [m.enqueued_at for m in self.peek(MAX_RECEIVE) if m.enqueued_at is not None]
        if not peeked:
            return None
        return max(0.0, (datetime.now(UTC) - min(peeked)).total_seconds())

    def purge(self) -> int:
        def purge(url: str) -> None:
            try:
                self._client.purge_queue(QueueUrl=url)
            except ClientError as exc:
                # A purge of the last 60 s is still deleting: what we asked for is under way.
                if not _codes(exc) & {"PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress"}:
                    raise

        self._call("purge", purge)
        return -1
