"""How one queue message is run on any host (the Azure Functions host or the local worker).

One contract, the same semantics everywhere:

* :func:`invoke` calls the registry's handler with the message, its :class:`~shared.queues.Delivery`
  and the runtime. A handler's :class:`~shared.queues.PermanentError` moves the body to
  ``<queue>-poison`` at once (no retry can help). Any other failure is recorded (by body hash, so
  the poison queue can show it) and re-raised.
* :func:`settle_failure` then decides, by the message's dequeue count: before the last delivery
  (host.json's ``maxDequeueCount``) the message is hidden for the backoff delay of
  :mod:`shared.queues.retry` (base doubling per delivery, jittered) through ``update_visibility``
  with the receipt of this delivery, so it comes back later with its dequeue count one higher and
  its body unchanged; on the last delivery the body moves to ``<queue>-poison`` (where Hunter's
  messages never expire) and the message is completed.

The local worker calls both itself. On Azure, :func:`run_on_functions_host` does: the Functions
host's own retry waits host.json's fixed ``visibilityTimeout`` and its poison copies get the
service's default 7-day time-to-live, so Hunter settles every failure itself and returns normally.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from shared import telemetry
from shared.logs import error_name, log_failure
from shared.queues import Delivery, PermanentError, Queue, QueueMessage, poison_name
from shared.queues.retry import RetryPolicy

if TYPE_CHECKING:
    from shared.runtime import Runtime
    from shared.triggers.registry import QueueTrigger

log = logging.getLogger("hunter.queues")
MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class Outcome:
    """What became of one delivery: ``done`` and ``poisoned`` messages are completed (deleted) by
    the host; a ``retry`` message is hidden for ``delay`` seconds and must be left alone."""

    action: Literal["done", "retry", "poisoned"]
    delay: float = 0.0


DONE = Outcome("done")
POISONED = Outcome("poisoned")


def describe_error(exc: BaseException) -> str:
    """What an operator sees for a failed message: type and message, bounded, no traceback."""
    if type(exc).__module__.startswith("sqlalchemy"):
        # Database errors quote SQL and bound values: type names only, as the HTTP error log does.
        return error_name(exc)
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


MESSAGING_SYSTEMS = {"azure": "azure_storage_queue", "sqs": "aws_sqs", "local": "hunter_sql"}


def _consumer_span(function: QueueTrigger, body: str, delivery: Delivery, runtime: Runtime):  # type: ignore[no-untyped-def]
    """The message's CONSUMER span, the child of the trace context its sender put in it (if any)."""
    attributes = None
    if telemetry.enabled():
        attributes = {
            "messaging.system": MESSAGING_SYSTEMS.get(runtime.settings.queue_backend, runtime.settings.queue_backend),
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.destination.name": delivery.queue,
            "messaging.message.id": delivery.id,
            "messaging.message.body.size": len(body.encode("utf-8")),
            "hunter.queue.dequeue_count": delivery.dequeue_count,
            "faas.trigger": "pubsub",
            "faas.name": function.name,
        }
    parent = telemetry.message_context(body)
    return telemetry.span(f"process {delivery.queue}", kind="consumer", attributes=attributes, parent=parent)


async def invoke(function: QueueTrigger, body: str, delivery: Delivery, runtime: Runtime) -> Outcome:
    """Run one message's handler: DONE, or POISONED after a PermanentError (already moved; complete
    the message). Any other failure is recorded, logged and re-raised: see :func:`settle_failure`.

    The run is one CONSUMER span (``process <queue>``), continuing the trace of whatever sent the message."""
    with _consumer_span(function, body, delivery, runtime) as current:
        outcome = await _invoke(function, body, delivery, runtime, current)
        current.set_attribute("hunter.queue.outcome", outcome.action)
        return outcome


async def _invoke(function: QueueTrigger, body: str, delivery: Delivery, runtime: Runtime, current) -> Outcome:  # type: ignore[no-untyped-def]
    try:
        await function.resolve()(body, delivery, runtime)
    except PermanentError as exc:
        telemetry.failed(current, exc)
        current.set_attribute("hunter.queue.outcome", "poisoned")
        error = describe_error(exc)
        log.warning(
            "queue message failed permanently",
            extra={"queue": delivery.queue, "message_id": delivery.id, "error": error},
        )
        await asyncio.to_thread(poison_now, runtime, delivery, body, error)
        return POISONED
    except Exception as exc:
        telemetry.failed(current, exc)
        current.set_attribute("hunter.queue.outcome", "failed")
        error = describe_error(exc)
        log.warning(
            "queue message failed",
            extra={
                "queue": delivery.queue,
                "message_id": delivery.id,
                "dequeue_count": delivery.dequeue_count,
                "error": error,
            },
        )
        try:
            await asyncio.to_thread(record_failure, runtime, delivery, body, error)
        except Exception as record_error:  # the store being down must not hide the handler's own error
            log_failure(log, "could not record a queue failure", record_error, queue=delivery.queue)
        raise
    return DONE


async def settle_failure(
    runtime: Runtime, queue: Queue, message: QueueMessage, policy: RetryPolicy, exc: BaseException
) -> Outcome:
    """After a failed (not permanent) delivery of ``message`` (received from ``queue``, with its
    current receipt): on the last delivery move the body to the poison queue and return POISONED
    (the caller completes the message); otherwise hide it for ``policy.delay(dequeue_count)`` and
    return a ``retry`` outcome (the caller must not complete it). Raises when it could do neither."""
    if policy.is_last(message.dequeue_count):
        reason = f"{type(exc).__name__} on delivery {message.dequeue_count}"
        telemetry.capture(exc, queue=queue.name, outcome="poisoned")  # Sentry: it now waits for an operator
        await asyncio.to_thread(move_to_poison, runtime, queue.name, message, reason, "worker")
        return POISONED
    delay = policy.delay(message.dequeue_count)
    await asyncio.to_thread(queue.update_visibility, message, delay)
    log.info(
        "queue message retry scheduled",
        extra={
            "queue": queue.name,
            "message_id": message.id,
            "dequeue_count": message.dequeue_count,
            "retry_in_s": round(delay, 3),
        },
    )
    return Outcome("retry", delay)


async def run_on_functions_host(
    function: QueueTrigger, message: QueueMessage, runtime: Runtime, policy: RetryPolicy | None = None
) -> Outcome:
    """One delivery from the Azure Functions host (``message.receipt`` is the trigger's pop receipt).

    A failure is settled here and the function returns normally. For a retry the message is hidden
    with its pop receipt (Update Message), which gives it a new one; the host's delete that follows
    then fails with 400 PopReceiptMismatch, which its queue extension ignores and logs at debug as
    expected when "the function has modified the message" (QueueProcessor.DeleteMessageAsync of the
    Storage Queues extension, Microsoft.Azure.WebJobs.Extensions.Storage.Queues in
    github.com/Azure/azure-sdk-for-net). Azure Functions has no retry policy for queue triggers:
    queue storage retries are the binding extension's, configured in host.json
    (learn.microsoft.com/azure/azure-functions/functions-bindings-error-pages), i.e. a fixed
    ``visibilityTimeout``. Hiding the received message, rather than sending a delayed
    copy and completing the original, keeps its dequeue count (the attempt number handlers read),
    its id and its body (the poison queue's error lookup is by body hash), and never duplicates it.

    When the retry cannot be scheduled (no pop receipt; the host renewed the message's visibility
    because the run took over 5 minutes, which changed the receipt; Storage is down) the handler's
    error is re-raised and the host's own fixed retry and poisoning apply, as before.
    """
    from shared.queues.hostjson import queue_options

    policy = policy or RetryPolicy.for_trigger(function, runtime.settings, queue_options().max_dequeue_count)
    delivery = Delivery(message.id, function.queue, message.dequeue_count)
    try:
        return await invoke(function, message.body, delivery, runtime)
    except Exception as exc:
        if message.receipt is not None or policy.is_last(message.dequeue_count):
            try:
                return await settle_failure(runtime, runtime.queue(function.queue), message, policy, exc)
            except Exception as settle_error:
                log_failure(
                    log,
                    "could not settle a failed queue message; the host retries it",
                    settle_error,
                    queue=function.queue,
                )
        raise


def record_failure(runtime: Runtime, delivery: Delivery, body: str, error: str) -> None:
    from shared.store.queue_audit import QueueAudit

    QueueAudit(runtime.engine).record_failure(delivery.queue, delivery.id, body, delivery.dequeue_count, error)


def move_to_poison(runtime: Runtime, queue: str, message: QueueMessage, reason: str, actor: str) -> None:
    """Send the body, unchanged, to ``<queue>-poison``, then write the audit line (best effort: the
    store may be what is down, and the message must not be poisoned twice for it)."""
    from shared.store.queue_audit import QueueAudit

    runtime.queue(poison_name(queue)).send(message.body)
    log.warning("message poisoned", extra={"queue": queue, "message_id": message.id, "reason": reason})
    try:
        QueueAudit(runtime.engine).log(queue, "poisoned", message.id, message.body, actor, reason)
    except Exception as exc:
        log_failure(log, "could not audit a poisoning", exc, queue=queue)


def poison_now(runtime: Runtime, delivery: Delivery, body: str, error: str) -> None:
    """Record the failure and move the body to the poison queue (the caller then completes)."""
    from shared.store.queue_audit import QueueAudit

    audit = QueueAudit(runtime.engine)
    audit.record_failure(delivery.queue, delivery.id, body, delivery.dequeue_count, error)
    runtime.queue(poison_name(delivery.queue)).send(body)
    audit.log(delivery.queue, "poisoned", delivery.id, body, "handler", error)
