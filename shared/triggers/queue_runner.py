"""Queue functions: the table of them, and how one message is run on any host.

``QUEUE_FUNCTIONS`` plays the part ``shared.triggers.registry.ROUTES`` plays for HTTP: Azure's
blueprints and the local worker both read it, so the queue names and handlers cannot drift.
A handler is ``async def handler(body: str, message: MessageContext) -> None`` and raises to
fail; :func:`invoke` records the failure (by body hash, so the poison queue can show it) and
re-raises so the host retries, then poisons, exactly as the Functions host does.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.http.dispatch import AppContext

log = logging.getLogger("hunter.queues")
MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class QueueFunction:
    name: str  # function name on Azure
    queue: str
    handler: str  # "module:coroutine function", imported on first use
    summary: str

    def resolve(self) -> Any:
        module, _, attr = self.handler.partition(":")
        return getattr(import_module(module), attr)


QUEUE_FUNCTIONS: tuple[QueueFunction, ...] = (
    QueueFunction(
        "bulk_scan_batch",
        "scan-requests",
        "shared.jobs.handler:handle_scan_batch",
        "Scan one batch of a bulk scan job",
    ),
    QueueFunction(
        "d365_push",
        "d365-push",
        "shared.services.d365_push:handle_push",
        "Push one lead to Dynamics 365 (upsert by domain)",
    ),
)


def queue_function(name: str) -> QueueFunction:
    for function in QUEUE_FUNCTIONS:
        if function.name == name or function.queue == name:
            return function
    raise KeyError(name)


class PermanentError(Exception):
    """Raised by a handler when no retry can succeed (a bad mapping, a refused request): the
    message goes to ``<queue>-poison`` at once, with this error recorded, instead of being
    retried ``maxDequeueCount`` times. On Azure the handler's wrapper moves it and completes, as
    the host only poisons after the last retry."""


@dataclass(frozen=True)
class MessageContext:
    id: str
    queue: str
    dequeue_count: int


def runtime_context() -> AppContext:
    """The process-wide context (settings, engine, repository, metrics) shared with HTTP."""
    from shared.http.dispatch import get_context

    return get_context()


def body_sha256(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def describe_error(exc: BaseException) -> str:
    """What an operator sees for a failed message: type and message, bounded, no traceback."""
    if type(exc).__module__.startswith("sqlalchemy"):
        # Database errors quote SQL and bound values: type names only, as the HTTP error log does.
        orig = getattr(exc, "orig", None)
        return f"{type(exc).__name__}({type(orig).__name__})" if orig is not None else type(exc).__name__
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


async def invoke(function: QueueFunction, body: str, message: MessageContext) -> None:
    """Run one message's handler; on failure record the error, log it, and re-raise."""
    import asyncio

    try:
        await function.resolve()(body, message)
    except PermanentError as exc:
        error = describe_error(exc)
        log.warning(
            "queue message failed permanently", extra={"queue": message.queue, "message_id": message.id, "error": error}
        )
        await asyncio.to_thread(poison_now, message, body, error)
    except Exception as exc:
        error = describe_error(exc)
        log.warning(
            "queue message failed",
            extra={
                "queue": message.queue,
                "message_id": message.id,
                "dequeue_count": message.dequeue_count,
                "error": error,
            },
        )
        try:
            await asyncio.to_thread(record_failure, message, body, error)
        except Exception:  # the store being down must not hide the handler's own error
            log.exception("could not record a queue failure")
        raise


def record_failure(message: MessageContext, body: str, error: str) -> None:
    from shared.store.queue_audit import QueueAudit

    QueueAudit(runtime_context().engine).record_failure(message.queue, message.id, body, message.dequeue_count, error)


def poison_now(message: MessageContext, body: str, error: str) -> None:
    """Record the failure and move the body to the poison queue (the caller then completes)."""
    from shared.queues import open_queue, poison_name
    from shared.store.queue_audit import QueueAudit

    context = runtime_context()
    QueueAudit(context.engine).record_failure(message.queue, message.id, body, message.dequeue_count, error)
    open_queue(poison_name(message.queue), context.settings, context.engine).send(body)
    QueueAudit(context.engine).log(message.queue, "poisoned", message.id, body, "handler", error)
