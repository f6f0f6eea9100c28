"""What every outbound HTTP client of Hunter shares (Dataverse, Partner Center, later webhooks)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER = 300.0  # seconds: no service may park Hunter's workers longer on one answer


def retry_after(
    headers: Mapping[str, str], default: float, *, cap: float = MAX_RETRY_AFTER, now: datetime | None = None
) -> float:
    """Seconds to wait from a ``Retry-After`` header (RFC 9110: delta-seconds or an HTTP date),
    else ``default``; never negative, never more than ``cap``.

    Why capped: Dataverse's pause closes a gate every worker shares, so a huge or hostile value
    would stop every push indefinitely; a date in the past means "now"."""
    value = headers.get("Retry-After") or headers.get("retry-after")
    seconds = default
    if value is not None:
        value = value.strip()
        try:
            parsed = float(value)
            seconds = parsed if math.isfinite(parsed) else default
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                when = None
            if when is not None:
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(0.0, seconds), cap)
