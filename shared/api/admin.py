"""Queue administration over HTTP (``admin`` scope): stats, poison messages, redrive."""

from __future__ import annotations

from shared.api.job_models import (
    PoisonList,
    PoisonMessageOut,
    PoisonQuery,
    QueueList,
    QueueStatsOut,
    RedriveRequest,
    RedriveResult,
)
from shared.api.models import NoQuery
from shared.http.types import HttpRequest, HttpResponse, ProblemError
from shared.runtime import Runtime


def _ops(runtime: Runtime):  # type: ignore[no-untyped-def]
    from shared.services.queue_ops import QueueOps

    return QueueOps(runtime.settings, runtime.engine)


def _queue_name(request: HttpRequest) -> str:
    from shared.services.queue_ops import check_known

    name = request.route_params["name"]
    try:
        return check_known(name)
    except KeyError as exc:
        raise ProblemError(404, "Queue not found", str(exc.args[0])) from None


def list_queues(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    NoQuery.model_validate(request.query_params())
    stats = _ops(runtime).stats()
    out = QueueList(
        backend=runtime.settings.queue_backend,
        queues=[QueueStatsOut(**vars(s)) for s in stats],
    )
    return HttpResponse.json(out.model_dump(mode="json"))


def list_poison(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    name = _queue_name(request)
    query = PoisonQuery.model_validate(request.query_params())
    items = _ops(runtime).peek_poison(name, query.limit)
    out = PoisonList(queue=name, items=[PoisonMessageOut(**vars(m)) for m in items])
    return HttpResponse.json(out.model_dump(mode="json"))


def redrive(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    name = _queue_name(request)
    body = RedriveRequest.model_validate(request.json())
    if body.all == (body.ids is not None):
        raise ProblemError(
            422,
            "Invalid request",
            "send either `ids` (a list of poison message ids) or `all: true`",
            errors=[{"field": "ids", "message": "give ids or all, not both or neither"}],
        )
    moved = _ops(runtime).redrive(name, ids=body.ids, actor=f"api:{request.key_name}")
    missing = sorted(set(body.ids or ()) - set(moved))
    return HttpResponse.json(RedriveResult(queue=name, moved=moved, not_found=missing).model_dump(mode="json"))
