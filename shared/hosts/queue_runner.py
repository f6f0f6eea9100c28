"""How one queue message is run on any host (the Azure Functions host or the local worker).

:func:`invoke` calls the registry's handler with the message, its :class:`~shared.queues.Delivery`
and the runtime; on failure it records the error (by body hash, so the poison queue can show it)
and re-raises so the host retries, then poisons, exactly as the Functions host does. A handler's
:class:`~shared.queues.PermanentError` skips the retries and poisons at once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from shared.logs import error_name, log_failure
from shared.queues import Delivery, PermanentError, poison_name

if TYPE_CHECKING:
    from shared.runtime import Runtime
    from shared.triggers.registry import QueueTrigger

log = logging.getLogger("hunter.queues")
MAX_ERROR_CHARS = 2000


def describe_error(exc: BaseException) -> str:
    """What an operator sees for a failed message: type and message, bounded, no traceback."""
    if type(exc).__module__.startswith("sqlalchemy"):
        # Database errors quote SQL and bound values: type names only, as the HTTP error log does.
        return error_name(exc)
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


async def invoke(function: QueueTrigger, body: str, delivery: Delivery, runtime: Runtime) -> None:
    """Run one message's handler; on failure record the error, log it, and re-raise."""
    try:
        await function.resolve()(body, delivery, runtime)
    except PermanentError as exc:
        error = describe_error(exc)
        log.warning(
            "queue message failed permanently",
            extra={"queue": delivery.queue, "message_id": delivery.id, "error": error},
        )
        await asyncio.to_thread(poison_now, runtime, delivery, body, error)
    except Exception as exc:
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


def record_failure(runtime: Runtime, delivery: Delivery, body: str, error: str) -> None:
    from shared.store.queue_audit import QueueAudit

    QueueAudit(runtime.engine).record_failure(delivery.queue, delivery.id, body, delivery.dequeue_count, error)


def poison_now(runtime: Runtime, delivery: Delivery, body: str, error: str) -> None:
    """Record the failure and move the body to the poison queue (the caller then completes)."""
    from shared.store.queue_audit import QueueAudit

    audit = QueueAudit(runtime.engine)
    audit.record_failure(delivery.queue, delivery.id, body, delivery.dequeue_count, error)
    runtime.queue(poison_name(delivery.queue)).send(body)
    audit.log(delivery.queue, "poisoned", delivery.id, body, "handler", error)
