"""Health probes (no key) and Prometheus metrics (read key)."""

from __future__ import annotations

import logging
import time

from sqlalchemy import text

from shared.http.types import HttpRequest, HttpResponse
from shared.logs import log_failure
from shared.runtime import Runtime


def live(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    return HttpResponse.json({"status": "ok", "uptime_s": round(time.monotonic() - runtime.started_at, 1)})


def _checks(runtime: Runtime) -> tuple[str, dict[str, str]]:
    """(overall status, the database and Redis checks with their reasons) — never raises."""
    checks: dict[str, str] = {}
    try:
        with runtime.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # the probe reports, it does not crash
        checks["database"] = f"down: {type(exc).__name__}"
    checks["redis"] = runtime.redis.health()  # ok / degraded: ... / not configured; never raises
    if checks["database"] != "ok":
        return "down", checks
    if checks["redis"].startswith("degraded"):
        return "degraded", checks
    return "ok", checks


def _state(detail: str) -> str:
    """A check's state without its reason: ``down: OperationalError`` → ``down``."""
    return detail.split(":", 1)[0].strip().replace(" ", "_")


def _integration_state(status: dict) -> str:
    if status.get("state") == "disabled" or status.get("enabled") is False:
        return "disabled"
    return "ok" if status.get("state") in ("ok", "unknown") else "degraded"


def ready(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    """The public probe: states only (``ok``/``degraded``/``down``/``disabled`` per dependency), no
    error text, host, account or count — those are in ``GET /v1/health`` behind an admin key.

    503 only when the database is down. Redis down is ``degraded`` and still 200: requests are
    served with in-process caches and limits, so taking the instance out of rotation would only hurt."""
    status, checks = _checks(runtime)
    states = {name: _state(detail) for name, detail in checks.items()}
    body = {
        "status": status,
        "checks": states,
        "integrations": {name: _integration_state(value) for name, value in integrations(runtime).items()},
    }
    return HttpResponse.json(body, 503 if status == "down" else 200)


def details(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    """``GET /v1/health`` (admin): what the public probe leaves out — each check's reason and the
    integrations' sign-in state, last run, last error and counts."""
    status, checks = _checks(runtime)
    return HttpResponse.json({"status": status, "checks": checks, "integrations": integrations(runtime)})


def integrations(runtime: Runtime) -> dict[str, dict]:
    """Dynamics 365 and Partner Center, reported but never deciding readiness: their trouble
    (a throttled Dataverse, a Partner Center login that needs a human) must not take Hunter down."""
    from shared.services.d365_push import d365_status
    from shared.services.pc_sync import partner_center_status

    settings = runtime.settings
    out = {"d365": d365_status(runtime.engine, settings)}
    if settings.partner_center_enabled:
        out["partner_center"] = partner_center_status(runtime.engine, settings)
    else:
        out["partner_center"] = {"enabled": False, "state": "disabled"}
    return out


def startup(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    """Touching the engine migrates (or, with ``HUNTER_AUTO_MIGRATE=false``, checks) the schema once;
    a broken database or an outdated schema answers 503."""
    from shared.store.db import SchemaOutdatedError

    try:
        runtime.engine  # noqa: B018
    except SchemaOutdatedError:  # the reason (with the revisions) is in the log and in `hunter migrate`
        return HttpResponse.json({"status": "starting", "error": "schema_outdated"}, 503)
    except Exception as exc:
        return HttpResponse.json({"status": "starting", "error": type(exc).__name__}, 503)
    return HttpResponse.json({"status": "ok"})


def metrics(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    """Prometheus text; the queue gauges (length, poison length) are read from the queues now."""
    from shared.services.queue_ops import QueueOps

    try:
        readings = QueueOps(runtime.settings, runtime.engine).stats()
    except Exception as exc:  # the queue service or store is down: still answer with the rest
        log_failure(logging.getLogger("hunter.metrics"), "could not read the queues for metrics", exc)
        readings = None
    runtime.metrics.set_queues(readings)
    return HttpResponse(200, runtime.metrics.render(), {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})
