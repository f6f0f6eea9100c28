"""Structured JSON logs, one object per line (what Application Insights and log shippers parse)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from shared import telemetry

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update({k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")})
        ids = telemetry.current_ids()  # None unless a span is in progress (and telemetry is on)
        if ids is not None:
            out["trace_id"], out["span_id"] = ids
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure(level: str = "INFO") -> None:
    """Send ``hunter.*`` loggers to stderr as JSON (idempotent)."""
    logger = logging.getLogger("hunter")
    if any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False


def error_name(exc: BaseException) -> str:
    """The error's type, with the driver's for a wrapped database error: ``OperationalError(OperationalError)``."""
    orig = getattr(exc, "orig", None)  # SQLAlchemy wraps the driver's error
    return f"{type(exc).__name__}({type(orig).__name__})" if orig is not None else type(exc).__name__


def log_failure(logger: logging.Logger, message: str, exc: BaseException, **extra: object) -> str:
    """Log an unexpected failure as type, place and an error id — never the exception's text or a
    traceback, which can carry SQL, bound values, company names or a token cache. Returns the id
    (an HTTP answer names it; an operator greps for it)."""
    import traceback
    import uuid
    from pathlib import Path

    error_id = uuid.uuid4().hex[:12]
    telemetry.capture(exc, error_id=error_id)  # Sentry, when SENTRY_DSN is set (scrubbed there)
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    logger.error(
        message,
        extra={
            **extra,
            "error_id": error_id,
            "error": error_name(exc),
            "at": f"{Path(frame.filename).name}:{frame.lineno}" if frame else None,
        },
    )
    return error_id
