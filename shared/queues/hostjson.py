"""Queue retry settings from ``host.json`` (``extensions.queues``): the file the Azure Functions
host reads, so the local runner and the tests use exactly the values production uses."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

HOST_JSON = Path(__file__).resolve().parents[2] / "host.json"


@dataclass(frozen=True)
class QueueOptions:
    """Azure's defaults, overridden by whatever host.json sets."""

    max_dequeue_count: int = 5
    # The Functions host's fixed delay before it retries a failed message: only the fallback now,
    # when Hunter could not schedule its own backoff (shared.hosts.queue_runner, shared.queues.retry).
    visibility_timeout: float = 0.0
    batch_size: int = 16
    new_batch_threshold: int = 8
    max_polling_interval: float = 60.0
    message_encoding: str = "base64"


def parse_timespan(text: str) -> float:
    """``[d.]hh:mm:ss[.fff]`` (the .NET TimeSpan format host.json uses) → seconds."""
    match = re.fullmatch(r"(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)", text.strip())
    if not match:
        raise ValueError(f"not a TimeSpan (hh:mm:ss): {text!r}")
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@lru_cache(maxsize=4)
def queue_options(path: Path = HOST_JSON) -> QueueOptions:
    section = json.loads(path.read_text(encoding="utf-8")).get("extensions", {}).get("queues", {})
    defaults = QueueOptions()
    return QueueOptions(
        max_dequeue_count=int(section.get("maxDequeueCount", defaults.max_dequeue_count)),
        visibility_timeout=parse_timespan(section["visibilityTimeout"])
        if "visibilityTimeout" in section
        else defaults.visibility_timeout,
        batch_size=int(section.get("batchSize", defaults.batch_size)),
        new_batch_threshold=int(section.get("newBatchThreshold", defaults.new_batch_threshold)),
        max_polling_interval=parse_timespan(section["maxPollingInterval"])
        if "maxPollingInterval" in section
        else defaults.max_polling_interval,
        message_encoding=section.get("messageEncoding", defaults.message_encoding),
    )
