"""The ``azure`` queue backend: Azure Storage queues (Azurite locally), through azure-storage-queue.

Bodies travel base64-encoded (``TextBase64EncodePolicy``), the Functions host's default
``messageEncoding``, so a message we send fires a queue trigger and a message the host (or its
poison handling) writes is readable here. The service's limits shape a few details:

* a message is at most 64 KiB *after* base64, i.e. about 48 KiB of UTF-8 text; larger bodies are
  refused here with ``QueueError`` before any request is sent;
* timeouts are whole seconds: ``delay`` and ``visibility_timeout`` are rounded up (a receive hides
  a message for at least 1 s, the service's minimum);
* one receive returns at most 32 messages;
* the service keeps no count of what ``clear_messages`` deleted, so ``purge`` returns -1;
* every message is sent with ``time_to_live=-1``: it never expires (the service's default is 7
  days, after which a message is silently deleted, delivered or not). A poison message must wait
  for an operator however long that takes, and a message on a main queue must not vanish during a
  long outage or backlog either: each one is completed, retried at most ``maxDequeueCount`` times
  or poisoned, so nothing piles up for lack of an expiry. (Put Message's ``messagettl``, learn.microsoft.com/
  rest/api/storageservices/put-message: "-1 indicating that the message does not expire", service
  version 2017-07-29 or later; the service then reports the expiry 9999-12-31.) Messages the
  Functions host itself copies to a poison queue (only when Hunter could not settle a failure,
  see ``shared.hosts.queue_runner``) still get the 7-day default.

A queue that does not exist yet is created on first use, like the Functions host does.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TypeVar

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError
from azure.storage.queue import LinearRetry, QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

from shared.queues.base import Queue, QueueError, QueueMessage, check_queue_name

MAX_RECEIVE = 32
MAX_ENCODED_BYTES = 64 * 1024  # the service's limit applies to the base64 text
MAX_SECONDS = 7 * 24 * 3600  # visibility timeouts and delays: at most 7 days
NEVER_EXPIRES = -1  # time_to_live: the message stays until it is deleted (see the module doc)

# The SDK's HTTP logging policy logs every request at INFO (URLs, headers): keep that, and with it any
# account details, out of our logs unless someone asked for it explicitly.
for _logger in ("azure", "azure.core.pipeline.policies.http_logging_policy"):
    if logging.getLogger(_logger).level == logging.NOTSET:
        logging.getLogger(_logger).setLevel(logging.WARNING)

T = TypeVar("T")


def _seconds(value: float, minimum: int = 0) -> int:
    """Whole seconds, rounded up: the service takes ints and must never hide a message for less."""
    return max(minimum, min(MAX_SECONDS, math.ceil(max(0.0, value))))


def _normalise(connection_string: str) -> str:
    """The SDK recognises only the exact ``UseDevelopmentStorage=true`` (Azurite); accept any case."""
    parts = [part for part in connection_string.strip().split(";") if part]
    if len(parts) == 1 and parts[0].replace(" ", "").lower() == "usedevelopmentstorage=true":
        return "UseDevelopmentStorage=true"
    return connection_string


def identity_queue_url(environ: Mapping[str, str], connection: str = "AzureWebJobsStorage") -> str | None:
    """The queue service URL of an identity-based connection, as the Functions host reads it:
    ``<connection>__queueServiceUri``, or ``<connection>__accountName`` in Azure's public cloud.
    None when the connection is not identity-based."""
    uri = environ.get(f"{connection}__queueServiceUri")
    if uri:
        return uri.rstrip("/")
    account = environ.get(f"{connection}__accountName")
    return f"https://{account}.queue.core.windows.net" if account else None


def identity_credential(environ: Mapping[str, str], connection: str = "AzureWebJobsStorage") -> object:
    """The credential the Functions host uses for that connection: the user-assigned identity of
    ``<connection>__clientId`` when ``__credential`` is ``managedidentity``, else azure-identity's default."""
    if environ.get(f"{connection}__credential", "").lower() == "managedidentity":
        from azure.identity import ManagedIdentityCredential

        return ManagedIdentityCredential(client_id=environ.get(f"{connection}__clientId") or None)
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


class _Base64OrTextDecodePolicy(TextBase64DecodePolicy):
    """Base64 as the Functions host writes it; a body that is not base64 UTF-8 (sent by a tool with
    ``messageEncoding: none``) is handed over as it is, so the worker can fail it into the poison
    queue instead of every receive of the batch raising."""

    def decode(self, content: str, response: object) -> str:  # type: ignore[override]
        if not content:
            return ""
        try:
            return base64.b64decode(content.encode("ascii"), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeError, ValueError):
            return content


def _error_code(exc: HttpResponseError) -> str:
    code = exc.error_code
    return str(getattr(code, "value", code) or "")


class AzureQueue(Queue):
    """One Azure Storage queue; the client (and its HTTP connection pool) lives as long as the instance."""

    def __init__(
        self,
        name: str,
        connection_string: str = "",
        *,
        retries: int = 3,
        account_url: str | None = None,
        credential: object = None,
    ) -> None:
        """From a connection string, or (identity-based, no key) from the queue service's
        ``account_url`` and an azure-identity ``credential`` (see :func:`identity_queue_url`)."""
        self.name = check_queue_name(name)
        options = {
            "queue_name": name,
            "message_encode_policy": TextBase64EncodePolicy(),
            "message_decode_policy": _Base64OrTextDecodePolicy(),
            # The SDK's default backs off 15 s, 18 s, 24 s...: a worker is better off failing the
            # message within seconds and letting the queue redeliver it.
            "retry_policy": LinearRetry(backoff=1, random_jitter_range=0.5, retry_total=retries),
            "connection_timeout": 10,
            "read_timeout": 30,
        }
        try:
            if account_url is not None:
                self._client = QueueClient(account_url, credential=credential, **options)
            else:
                self._client = QueueClient.from_connection_string(_normalise(connection_string), **options)
        except ValueError as exc:  # a malformed connection string; never echo it (it holds the key)
            raise QueueError(f"invalid Azure Storage connection string for queue {name}") from exc
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self._client.url

    # -- plumbing -----------------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """Run one service call; create the queue once if it is missing; wrap failures in QueueError."""
        try:
            try:
                return fn()
            except HttpResponseError as exc:
                if _error_code(exc) != "QueueNotFound":
                    raise
            self.create()
            return fn()
        except QueueError:
            raise
        except AzureError as exc:
            raise QueueError(f"Azure queue {self.name}: {what} failed: {_describe(exc)}") from exc

    # -- the contract -------------------------------------------------------------------------

    def create(self) -> None:
        with self._lock:
            try:
                self._client.create_queue()
            except ResourceExistsError:
                pass
            except AzureError as exc:
                raise QueueError(f"Azure queue {self.name}: create failed: {_describe(exc)}") from exc

    def send(self, body: str, *, delay: float = 0) -> str:
        encoded = 4 * math.ceil(len(body.encode("utf-8")) / 3)
        if encoded > MAX_ENCODED_BYTES:
            raise QueueError(
                f"Azure queue {self.name}: message too large ({encoded} bytes base64-encoded; "
                f"the service takes at most {MAX_ENCODED_BYTES}, about 48 KiB of UTF-8)"
            )
        visibility = _seconds(delay) or None
        sent = self._call(
            "send", lambda: self._client.send_message(body, visibility_timeout=visibility, time_to_live=NEVER_EXPIRES)
        )
        return sent.id

    def receive(self, max_messages: int = 1, *, visibility_timeout: float = 30) -> list[QueueMessage]:
        count = max(1, min(max_messages, MAX_RECEIVE))
        timeout = _seconds(visibility_timeout, minimum=1)

        def first_page() -> list:  # type: ignore[type-arg]
            # One request: iterating the pager would keep asking until it had ``count`` messages.
            pages = self._client.receive_messages(
                messages_per_page=count, max_messages=count, visibility_timeout=timeout
            ).by_page()
            return list(next(pages, []))

        return [self._message(m) for m in self._call("receive", first_page)]

    def delete(self, message: QueueMessage) -> bool:
        if message.receipt is None:
            return False
        try:
            self._client.delete_message(message.id, message.receipt)
        except HttpResponseError as exc:
            # 404 MessageNotFound: already deleted; 400 PopReceiptMismatch: received again since.
            if exc.status_code == 404 or _error_code(exc) == "PopReceiptMismatch":
                return False
            raise QueueError(f"Azure queue {self.name}: delete failed: {_describe(exc)}") from exc
        except AzureError as exc:
            raise QueueError(f"Azure queue {self.name}: delete failed: {_describe(exc)}") from exc
        return True

    def update_visibility(self, message: QueueMessage, timeout: float) -> QueueMessage:
        if message.receipt is None:
            raise QueueError(f"Azure queue {self.name}: message {message.id} was peeked, not received")
        try:
            updated = self._client.update_message(message.id, message.receipt, visibility_timeout=_seconds(timeout))
        except AzureError as exc:
            raise QueueError(
                f"Azure queue {self.name}: message {message.id} is gone or its receipt is stale: {_describe(exc)}"
            ) from exc
        return message.with_receipt(updated.pop_receipt)

    def peek(self, max_messages: int = 32) -> list[QueueMessage]:
        count = max(1, min(max_messages, MAX_RECEIVE))
        return [self._message(m) for m in self._call("peek", lambda: self._client.peek_messages(max_messages=count))]

    def length(self) -> int:
        return int(self._call("length", self._client.get_queue_properties).approximate_message_count or 0)

    def oldest_age(self) -> float | None:
        peeked = self.peek(1)
        if not peeked or peeked[0].enqueued_at is None:
            return None
        return max(0.0, (datetime.now(UTC) - peeked[0].enqueued_at).total_seconds())

    def purge(self) -> int:
        self._call("purge", self._client.clear_messages)
        return -1

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _message(m) -> QueueMessage:  # type: ignore[no-untyped-def]
        inserted = m.inserted_on
        if inserted is not None and inserted.tzinfo is None:
            inserted = inserted.replace(tzinfo=UTC)
        return QueueMessage(
            id=m.id,
            body=m.content if isinstance(m.content, str) else _text(m.content),
            dequeue_count=int(m.dequeue_count or 0),
            receipt=m.pop_receipt,
            enqueued_at=inserted,
        )


def _text(content: object) -> str:
    """Bodies the decode policy left as bytes (or None): decode them as UTF-8 text."""
    if content is None:
        return ""
    if isinstance(content, bytes):
        return content.decode("utf-8", errors="replace")
    return str(content)


def _describe(exc: AzureError) -> str:
    """Status and error code only: the SDK's full message can carry request URLs and headers."""
    if isinstance(exc, HttpResponseError):
        return f"HTTP {exc.status_code} {_error_code(exc) or exc.reason or ''}".strip()
    return type(exc).__name__
