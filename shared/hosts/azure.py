"""Azure Functions (Python v2 model) glue: one Azure function per trigger of the registry.

``functions/<folder>/__init__.py`` is one line, ``bp = blueprint("<folder>")``: the folder's
HTTP routes, queue functions and timers come from :data:`shared.triggers.registry.FOLDERS`, so
what Azure indexes is what the local runner serves and the tests call.

Auth level is ANONYMOUS on purpose: Hunter checks its own hashed, scoped, rate-limited API
keys in :func:`shared.http.dispatch.dispatch` on every host; Azure's function keys would be a
second, unscoped secret that the local runner and the tests could not reproduce.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC
from urllib.parse import parse_qs, urlsplit

import azure.functions as func

from shared.http.types import HttpRequest, HttpResponse
from shared.queues import QueueMessage
from shared.triggers.registry import QueueTrigger, Route, TimerTrigger, Trigger, triggers_of

ROUTE_PREFIX = "/api"  # host.json extensions.http.routePrefix
STORAGE_CONNECTION = "AzureWebJobsStorage"  # the app setting (or __accountName prefix) of the queues' Storage


def to_request(req: func.HttpRequest) -> HttpRequest:
    url = urlsplit(req.url)
    path = url.path
    if path.startswith(ROUTE_PREFIX + "/"):
        path = path[len(ROUTE_PREFIX) :]
    return HttpRequest(
        method=req.method.upper(),
        path=path,
        query=parse_qs(url.query, keep_blank_values=True),
        headers={k.lower(): v for k, v in req.headers.items()},
        body=req.get_body() or b"",
    )


def to_response(resp: HttpResponse) -> func.HttpResponse:
    headers = dict(resp.headers)
    mimetype = headers.get("Content-Type", "application/octet-stream")
    return func.HttpResponse(
        body=resp.body_bytes(),
        status_code=resp.status,
        headers=headers,
        mimetype=mimetype.split(";")[0],
        charset="utf-8",
    )


def to_queue_message(msg: func.QueueMessage) -> QueueMessage:
    """The trigger's message as the queue contract's received message: its pop receipt is what lets
    Hunter hide it for a retry (``shared.hosts.queue_runner.run_on_functions_host``)."""
    inserted = msg.insertion_time
    if inserted is not None and inserted.tzinfo is None:
        inserted = inserted.replace(tzinfo=UTC)
    return QueueMessage(
        id=msg.id or "",
        body=msg.get_body().decode("utf-8"),
        dequeue_count=msg.dequeue_count or 1,
        receipt=msg.pop_receipt or None,
        enqueued_at=inserted,
    )


def _named(handle, trigger: Trigger, summary: str):  # type: ignore[no-untyped-def]
    handle.__name__ = trigger.name
    handle.__qualname__ = trigger.name
    handle.__doc__ = summary
    return handle


def _http_function(route: Route) -> Callable[[func.HttpRequest], func.HttpResponse]:
    def handle(req: func.HttpRequest) -> func.HttpResponse:
        from shared.http.dispatch import dispatch  # resolved on first call: keeps cold start light
        from shared.runtime import get_runtime

        return to_response(dispatch(to_request(req), get_runtime()))

    return _named(handle, route, route.summary)


def _queue_function(function: QueueTrigger) -> Callable[[func.QueueMessage], Awaitable[None]]:
    async def handle(msg: func.QueueMessage) -> None:
        from shared.hosts.queue_runner import run_on_functions_host
        from shared.runtime import get_runtime

        await run_on_functions_host(function, to_queue_message(msg), get_runtime())

    return _named(handle, function, function.summary)


def _timer_function(function: TimerTrigger) -> Callable[[func.TimerRequest], Awaitable[None]]:
    async def handle(timer: func.TimerRequest) -> None:
        import logging

        from shared import telemetry
        from shared.runtime import get_runtime

        runtime = get_runtime()
        with telemetry.timer_span(function.name, past_due=bool(timer.past_due)) as current:
            if timer.past_due:
                logging.getLogger("hunter.timers").info("timer past due", extra={"function": function.name})
            try:
                await function.resolve()(runtime)
            except Exception as exc:
                telemetry.failed(current, exc)
                telemetry.capture(exc, timer=function.name)  # Sentry (the host only logs it)
                raise

    return _named(handle, function, function.summary)


def blueprint(folder: str) -> func.Blueprint:
    """The blueprint of ``functions/<folder>``: one Azure function per trigger the registry gives it.

    Queue triggers: the Functions host polls the queue and hands each message over; Hunter settles
    a failure itself (``shared.hosts.queue_runner.run_on_functions_host``): it hides the message for
    an exponentially growing, jittered delay and, after ``maxDequeueCount`` deliveries, moves it to
    ``<queue>-poison`` with no expiry. The host's own fixed-delay retry and poisoning remain only as
    the fallback when that fails.

    Timer triggers bind the schedule ``%HUNTER_…%`` (the host reads the NCRONTAB from that app
    setting, the one the local worker reads too); ``use_monitor`` keeps the last fire in storage so
    a restarted host catches up a missed fire once; overlapping runs are prevented by the handler's
    own lease.
    """
    bp = func.Blueprint()
    for trigger in triggers_of(folder):
        if isinstance(trigger, Route):
            binding = bp.route(route=trigger.azure_route, methods=[trigger.method], auth_level=func.AuthLevel.ANONYMOUS)
            handler = _http_function(trigger)
        elif isinstance(trigger, QueueTrigger):
            binding = bp.queue_trigger(arg_name="msg", queue_name=trigger.queue, connection=STORAGE_CONNECTION)
            handler = _queue_function(trigger)
        elif isinstance(trigger, TimerTrigger):
            binding = bp.timer_trigger(
                arg_name="timer", schedule=f"%{trigger.app_setting}%", run_on_startup=False, use_monitor=True
            )
            handler = _timer_function(trigger)
        else:  # pragma: no cover - the registry has three kinds
            raise TypeError(f"unknown trigger kind {type(trigger).__name__}")
        bp.function_name(name=trigger.name)(binding(handler))
    return bp
