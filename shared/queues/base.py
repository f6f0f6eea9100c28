"""The one queue contract every backend honours (local SQL table, Azure Storage, AWS SQS).

The semantics are Azure Storage queues', because that is what the Functions host gives us in
production and what the local runner must imitate:

* ``send`` puts a text body (JSON in practice) on the queue, optionally invisible for ``delay``
  seconds first.
* ``receive`` hands out up to ``max_messages`` visible messages (maybe fewer, maybe none; a
  backend caps the count at what its service allows: 32 for Azure, 10 for SQS) and hides each
  one for ``visibility_timeout`` seconds. Every receive increments the message's
  ``dequeue_count`` and issues a fresh ``receipt``; only the latest receipt may delete the
  message or change its visibility.
* A message that is not deleted before its visibility timeout ends becomes visible again
  (at-least-once delivery: a crashed worker loses nothing).
* ``delete`` removes a received message; it returns False instead of raising when the message
  is already gone or the receipt is stale, because a handler that finishes twice is normal.
* ``update_visibility`` extends (or shortens, 0 = release now) a received message's timeout and
  returns the message with its new receipt.
* ``peek`` shows visible messages without receiving them (no dequeue count change where the
  service allows that).
* The poison queue of ``name`` is the queue ``name + "-poison"``: a plain queue of the same
  backend. Moving a message there (``shared.hosts.queue_runner``) sends the body unchanged.
* A failed message is retried by hiding it (``update_visibility``) for a delay that grows with its
  dequeue count (``shared.queues.retry``), on every host and backend.
* Messages do not expire: Azure sends them with ``time_to_live=-1``, the local table has no
  expiry at all; SQS cannot say "never" and keeps them 14 days, its maximum (``shared.queues.sqs``).
"""

from __future__ import annotations

import abc
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

POISON_SUFFIX = "-poison"
# Azure's rule (the strictest of the three): 3-63 chars, lowercase letters, digits, single hyphens.
_NAME = re.compile(r"^(?=.{3,63}$)[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]$")


class QueueError(RuntimeError):
    """A backend failure (service down, bad credentials); handlers retry, callers report."""


class PermanentError(Exception):
    """Raised by a queue handler when no retry can succeed (a bad mapping, a refused request): the
    message goes to ``<queue>-poison`` at once, with this error recorded, instead of being
    retried ``maxDequeueCount`` times. On Azure the trigger's wrapper moves it and completes, as
    the host only poisons after the last retry."""


@dataclass(frozen=True)
class Delivery:
    """One delivery of a message to a queue handler: which message, on which queue, the how-manieth try."""

    id: str
    queue: str
    dequeue_count: int


def check_queue_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"invalid queue name {name!r}: 3-63 lowercase letters, digits and single hyphens")
    return name


def poison_name(name: str) -> str:
    return name if name.endswith(POISON_SUFFIX) else name + POISON_SUFFIX


@dataclass(frozen=True)
class QueueMessage:
    id: str
    body: str
    dequeue_count: int  # 1 on the first delivery; 0 for a peeked, never-received message
    receipt: str | None  # None for peeked messages
    enqueued_at: datetime | None  # timezone-aware UTC where the backend tells

    def with_receipt(self, receipt: str) -> QueueMessage:
        return replace(self, receipt=receipt)


class Queue(abc.ABC):
    """One named queue. Instances are cheap and thread-safe; create one per queue name."""

    name: str

    @abc.abstractmethod
    def send(self, body: str, *, delay: float = 0) -> str:
        """Enqueue one message; return its id."""

    def send_many(self, bodies: Iterable[str], *, delay: float = 0) -> list[str]:
        """Enqueue several messages (backends batch where the service allows)."""
        return [self.send(body, delay=delay) for body in bodies]

    @abc.abstractmethod
    def receive(self, max_messages: int = 1, *, visibility_timeout: float = 30) -> list[QueueMessage]:
        """Take up to ``max_messages`` visible messages and hide them for ``visibility_timeout`` s."""

    @abc.abstractmethod
    def delete(self, message: QueueMessage) -> bool:
        """Delete a received message; False if it was already gone or the receipt is stale."""

    @abc.abstractmethod
    def update_visibility(self, message: QueueMessage, timeout: float) -> QueueMessage:
        """Hide a received message for ``timeout`` more seconds; returns it with its new receipt."""

    def update_visibility_many(self, messages: list[QueueMessage], timeout: float) -> list[QueueMessage | None]:
        """:meth:`update_visibility` for several messages (a worker renewing every lease it
        holds); in order, None where a message is gone or its receipt is stale. Backends that
        can do it in one call or transaction do."""
        renewed: list[QueueMessage | None] = []
        for message in messages:
            try:
                renewed.append(self.update_visibility(message, timeout))
            except QueueError:
                renewed.append(None)
        return renewed

    @abc.abstractmethod
    def peek(self, max_messages: int = 32) -> list[QueueMessage]:
        """Visible messages, oldest first, without receiving them."""

    @abc.abstractmethod
    def length(self) -> int:
        """Messages on the queue, visible or not (approximate where the service is)."""

    @abc.abstractmethod
    def oldest_age(self) -> float | None:
        """Seconds since the oldest visible message was enqueued; None when none is visible."""

    @abc.abstractmethod
    def purge(self) -> int:
        """Delete every message; returns how many were deleted (-1 where the service can't tell)."""

    def create(self) -> None:  # noqa: B027 - optional hook
        """Make sure the queue exists (idempotent). Backends whose queues are implicit do nothing."""
