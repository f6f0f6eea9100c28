"""Azure Functions (Python v2 model) glue: one function per route of the routing table.

Auth level is ANONYMOUS on purpose: Hunter checks its own hashed, scoped, rate-limited API
keys in :func:`shared.http.dispatch.dispatch` on every host; Azure's function keys would be a
second, unscoped secret that the local runner and the tests could not reproduce.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import parse_qs, urlsplit

import azure.functions as func

from shared.http.types import HttpRequest, HttpResponse
from shared.triggers.queue_runner import QUEUE_FUNCTIONS, QueueFunction
from shared.triggers.registry import ROUTES, Route
from shared.triggers.schedule import TIMER_FUNCTIONS, TimerFunction

ROUTE_PREFIX = "/api"  # host.json extensions.http.routePrefix


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


def _function_for(route: Route) -> Callable[[func.HttpRequest], func.HttpResponse]:
    def handle(req: func.HttpRequest) -> func.HttpResponse:
        from shared.http.dispatch import dispatch  # resolved on first call: keeps cold start light

        return to_response(dispatch(to_request(req)))

    handle.__name__ = route.name
    handle.__qualname__ = route.name
    handle.__doc__ = route.summary
    return handle


def blueprint(names: Iterable[str]) -> func.Blueprint:
    """A blueprint with one HTTP function per named route."""
    wanted = set(names)
    bp = func.Blueprint()
    for route in ROUTES:
        if route.name in wanted:
            wanted.discard(route.name)
            function = _function_for(route)
            bp.function_name(name=route.name)(
                bp.route(route=route.azure_route, methods=[route.method], auth_level=func.AuthLevel.ANONYMOUS)(function)
            )
    if wanted:
        raise ValueError(f"no such routes: {', '.join(sorted(wanted))}")
    return bp


STORAGE_CONNECTION = "AzureWebJobsStorage"  # the app setting holding the Storage connection string


def _queue_function_for(function: QueueFunction) -> Callable[[func.QueueMessage], Awaitable[None]]:
    async def handle(msg: func.QueueMessage) -> None:
        from shared.triggers.queue_runner import MessageContext, invoke

        context = MessageContext(msg.id or "", function.queue, msg.dequeue_count or 1)
        await invoke(function, msg.get_body().decode("utf-8"), context)

    handle.__name__ = function.name
    handle.__qualname__ = function.name
    handle.__doc__ = function.summary
    return handle


def add_queue_functions(bp: func.Blueprint, names: Iterable[str]) -> func.Blueprint:
    """Add one queue-triggered function per named entry of ``QUEUE_FUNCTIONS``.

    The Functions host polls the queue, retries with host.json's settings and moves a message
    to ``<queue>-poison`` after ``maxDequeueCount`` failures; the handler only runs the message.
    """
    wanted = set(names)
    for function in QUEUE_FUNCTIONS:
        if function.name in wanted:
            wanted.discard(function.name)
            handler = _queue_function_for(function)
            bp.function_name(name=function.name)(
                bp.queue_trigger(arg_name="msg", queue_name=function.queue, connection=STORAGE_CONNECTION)(handler)
            )
    if wanted:
        raise ValueError(f"no such queue functions: {', '.join(sorted(wanted))}")
    return bp


def _timer_function_for(function: TimerFunction) -> Callable[[func.TimerRequest], Awaitable[None]]:
    async def handle(timer: func.TimerRequest) -> None:
        import logging

        if timer.past_due:
            logging.getLogger("hunter.timers").info("timer past due", extra={"function": function.name})
        await function.resolve()()

    handle.__name__ = function.name
    handle.__qualname__ = function.name
    handle.__doc__ = function.summary
    return handle


def add_timer_functions(bp: func.Blueprint, names: Iterable[str]) -> func.Blueprint:
    """Add one timer-triggered function per named entry of ``TIMER_FUNCTIONS``.

    The schedule is the binding expression ``%HUNTER_…%``: the host reads the NCRONTAB from that
    app setting, the one the local worker reads too. ``use_monitor`` keeps the schedule's
    last-fire time in storage so a restarted host catches up a missed fire once; overlapping runs
    across instances and apps are prevented by the handler's own lease, not by the host.
    """
    wanted = set(names)
    for function in TIMER_FUNCTIONS:
        if function.name in wanted:
            wanted.discard(function.name)
            handler = _timer_function_for(function)
            bp.function_name(name=function.name)(
                bp.timer_trigger(
                    arg_name="timer",
                    schedule=f"%{function.app_setting}%",
                    run_on_startup=False,
                    use_monitor=True,
                )(handler)
            )
    if wanted:
        raise ValueError(f"no such timer functions: {', '.join(sorted(wanted))}")
    return bp
