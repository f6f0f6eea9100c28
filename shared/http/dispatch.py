"""Dispatch: route → CORS → API key → rate limit → handler → problem on error → metrics and a log line.

Every host (Azure Functions, the local runner, tests) calls :func:`dispatch`, so auth, errors,
limits and metrics cannot differ between them.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from shared.config import Settings, get_settings
from shared.http.types import HttpRequest, HttpResponse, ProblemError
from shared.triggers.registry import Route, match

if TYPE_CHECKING:
    from shared.http.auth import ApiKey

log = logging.getLogger("hunter.http")


@dataclass
class AppContext:
    """What handlers need, built once per process."""

    settings: Settings
    started_at: float

    @cached_property
    def engine(self):
        from shared.store.db import engine_for

        return engine_for(self.settings.database_url)

    @cached_property
    def repository(self):
        from shared.store.db import read_engine_for
        from shared.store.leads import Repository

        return Repository(self.engine, reads=read_engine_for(self.settings.database_url))

    @cached_property
    def keys(self):
        from shared.http.auth import ApiKeyStore

        return ApiKeyStore(self.engine)

    @cached_property
    def limiter(self):
        from shared.http.auth import RateLimiter
        from shared.redis.limits import buckets_for

        return RateLimiter(buckets_for(self.settings))

    @cached_property
    def scan_cache(self):
        """Recent scan results by domain (Redis when configured; rescans replace them)."""
        from shared.redis.cache import new_cache

        return new_cache(self.settings, "scan")

    @cached_property
    def redis(self):
        from shared.redis.connection import connection_for

        return connection_for(self.settings)

    @cached_property
    def metrics(self):
        from shared.metrics import Metrics

        return Metrics()


_context: AppContext | None = None
_context_lock = threading.Lock()


def get_context() -> AppContext:
    global _context
    if _context is None:
        with _context_lock:
            if _context is None:
                from shared import logs

                settings = get_settings()
                logs.configure(settings.log_level)
                _context = AppContext(settings, time.monotonic())
    return _context


def set_context(context: AppContext | None) -> None:
    """Tests and the local runner install their own context (settings)."""
    global _context
    _context = context


def _cors(request: HttpRequest, context: AppContext) -> dict[str, str]:
    origin = request.header("origin")
    allowed = context.settings.cors_origins
    if not origin or not allowed or (origin not in allowed and "*" not in allowed):
        return {}
    return {
        "Access-Control-Allow-Origin": origin if "*" not in allowed else "*",
        "Access-Control-Allow-Headers": "X-API-Key, Authorization, Content-Type",
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }


def _presented_key(request: HttpRequest) -> str | None:
    key = request.header("x-api-key")
    if key:
        return key.strip()
    auth = request.header("authorization") or ""
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _authorize(route: Route, request: HttpRequest, context: AppContext) -> ApiKey | None:
    """Raise 401/403/429 problems; return the authenticated key (None on public routes)."""
    if route.scope is None:
        return None
    presented = _presented_key(request)
    if not presented:
        raise ProblemError(
            401,
            "API key required",
            "send the key in the X-API-Key header or as a Bearer token",
            headers={"WWW-Authenticate": 'Bearer realm="hunter"'},
        )
    key = context.keys.authenticate(presented)
    if key is None:
        raise ProblemError(
            401,
            "Invalid API key",
            "the key is unknown or revoked",
            headers={"WWW-Authenticate": 'Bearer realm="hunter", error="invalid_token"'},
        )
    if not key.allows(route.scope):
        raise ProblemError(403, "Insufficient scope", f"this operation needs a key with the {route.scope!r} scope")
    wait = context.limiter.take(key)
    if wait > 0:
        retry = max(1, int(wait + 0.999))
        raise ProblemError(
            429,
            "Too many requests",
            f"the limit for this key is {key.rate_limit_per_minute} per minute",
            headers={"Retry-After": str(retry)},
        )
    return key


def _validation_problem(exc: ValidationError) -> ProblemError:
    errors = [{"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]} for e in exc.errors()]
    fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
    return ProblemError(422, "Invalid request", f"check {fields}", errors=errors)


def _error_name(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)  # SQLAlchemy wraps the driver's error
    return f"{type(exc).__name__}({type(orig).__name__})" if orig is not None else type(exc).__name__


def dispatch(request: HttpRequest, context: AppContext | None = None) -> HttpResponse:
    context = context or get_context()
    started = time.perf_counter()
    cors = _cors(request, context)
    route, params, allowed = match(request.method, request.path)
    route_name = route.name if route else "unmatched"
    key_name = None
    try:
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
            request.api_key = _authorize(route, request, context)
            key_name = request.api_key.name if request.api_key else None
            request.route_params = params
            request.key_name = key_name
            response = route.resolve()(request, context)
    except ProblemError as problem:
        response = problem.response(request.path)
    except ValidationError as exc:
        response = _validation_problem(exc).response(request.path)
    except Exception as exc:
        error_id = uuid.uuid4().hex[:12]
        # Type and place only: exception texts can carry SQL or input data, tracebacks stay out of logs.
        frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        log.error(
            "unhandled error",
            extra={
                "error_id": error_id,
                "route": route_name,
                "error": _error_name(exc),
                "at": f"{Path(frame.filename).name}:{frame.lineno}" if frame else None,
            },
        )
        response = ProblemError(500, "Internal error", f"the error was logged with id {error_id}").response()
    response.headers.update(cors)
    elapsed = time.perf_counter() - started
    context.metrics.observe(route_name, request.method.upper(), response.status, elapsed)
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
