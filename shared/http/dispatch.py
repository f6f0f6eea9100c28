"""Dispatch: route → CORS → API key → rate limit → handler → problem on error → metrics and a log line.

Every host (Azure Functions, the local runner, tests) calls :func:`dispatch`, so auth, errors,
limits and metrics cannot differ between them.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from shared import telemetry
from shared.http.auth import authorize
from shared.http.limits import enforce_body_limit
from shared.http.routing import match
from shared.http.types import HttpRequest, HttpResponse, ProblemError
from shared.logs import log_failure
from shared.store.db import SchemaOutdatedError

if TYPE_CHECKING:
    from shared.runtime import Runtime
    from shared.triggers.registry import Route

log = logging.getLogger("hunter.http")
API_PREFIX = "/v1/"
ROUTE_PREFIX = "/api"  # host.json's routePrefix: route templates are named with it (``GET /api/v1/leads/{domain}``)
# On every /api/v1 answer, errors and exports included: answers carry leads and keys, so no cache
# (browser, proxy or CDN) may keep them, and no browser may guess another content type.
API_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _cors(request: HttpRequest, runtime: Runtime) -> dict[str, str]:
    origin = request.header("origin")
    allowed = runtime.settings.cors_origins
    if not origin or not allowed or (origin not in allowed and "*" not in allowed):
        return {}
    return {
        "Access-Control-Allow-Origin": origin if "*" not in allowed else "*",
        "Access-Control-Allow-Headers": "X-API-Key, Authorization, Content-Type",
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }


def _validation_problem(exc: ValidationError) -> ProblemError:
    errors = [{"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]} for e in exc.errors()]
    fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
    return ProblemError(422, "Invalid request", f"check {fields}", errors=errors)


def _span_name(method: str, route: Route | None) -> str:
    """The server span's name: the route template (``GET /api/v1/leads/{domain}``), or the method alone."""
    return f"{method} {ROUTE_PREFIX}{route.path}" if route is not None else method


def dispatch(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    """Answer one request; the trigger (Azure glue, local runner, a test) passes its runtime."""
    started = time.perf_counter()
    cors = _cors(request, runtime)
    route, params, allowed = match(request.method, request.path)
    route_name = route.name if route else "unmatched"
    method = request.method.upper()
    attributes = None
    incoming = None
    if telemetry.enabled():
        attributes = {
            "http.request.method": method,
            "http.route": f"{ROUTE_PREFIX}{route.path}" if route is not None else None,
            "url.path": f"{ROUTE_PREFIX}{request.path}",
            "hunter.route": route_name,
        }
        incoming = {name: value for name in telemetry.TRACE_FIELDS if (value := request.header(name))}
    with telemetry.span(_span_name(method, route), kind="server", attributes=attributes, parent=incoming) as current:
        response, key_name = _answer(request, runtime, route, params, allowed, route_name, current)
        response.headers.update(cors)
        if request.path.startswith(API_PREFIX):  # API answers (not the web app's static files) are never cached
            for name, value in API_HEADERS.items():
                response.headers.setdefault(name, value)
        elapsed = time.perf_counter() - started
        runtime.metrics.observe(route_name, method, response.status, elapsed)
        current.set_attribute("http.response.status_code", response.status)
        if response.status >= 500:
            telemetry.failed(current, str(response.status))
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "route": route_name,
                "status": response.status,
                "ms": round(elapsed * 1000, 2),
                "key": key_name,
            },
        )
    return response


def _answer(
    request: HttpRequest,
    runtime: Runtime,
    route: Route | None,
    params: dict[str, str],
    allowed: list[str],
    route_name: str,
    current: Any,
) -> tuple[HttpResponse, str | None]:
    """(the handler's answer or the problem it raised, the API key's name)."""
    key_name = None
    try:
        enforce_body_limit(route, request)  # 413 before anything reads the body, on every host
        if request.method.upper() == "OPTIONS":
            response = HttpResponse(204, b"", {"Allow": ", ".join(sorted(set(allowed)) or ["OPTIONS"])})
        elif route is None:
            if allowed:
                raise ProblemError(
                    405,
                    "Method not allowed",
                    f"use {', '.join(sorted(set(allowed)))}",
                    headers={"Allow": ", ".join(sorted(set(allowed)))},
                )
            raise ProblemError(404, "Not found", f"no route {request.path}")
        else:
            request.api_key = authorize(route, request, runtime)
            key_name = request.api_key.name if request.api_key else None
            request.route_params = params
            request.key_name = key_name
            response = route.resolve()(request, runtime)
    except ProblemError as problem:
        response = problem.response(request.path)
    except ValidationError as exc:
        response = _validation_problem(exc).response(request.path)
    except SchemaOutdatedError as exc:
        log.error("database schema outdated", extra={"route": route_name, "detail": str(exc)})
        response = ProblemError(
            503,
            "Database schema out of date",
            "this version of Hunter needs a newer schema; an operator must run `hunter migrate`",
            headers={"Retry-After": "30"},
        ).response(request.path)
    except Exception as exc:
        # Type and place only: exception texts can carry SQL or input data, tracebacks stay out of logs.
        error_id = log_failure(log, "unhandled error", exc, route=route_name)
        telemetry.failed(current, exc)
        current.set_attribute("hunter.error_id", error_id)
        response = ProblemError(500, "Internal error", f"the error was logged with id {error_id}").response()
    return response, key_name
