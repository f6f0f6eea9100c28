"""The rescan policy: how often each lead is scanned again, kept as data (``rescans.yaml``). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from importlib import resources

import yaml

PRIORITIES = tuple(f"P{i}" for i in range(1, 7))


@dataclass(frozen=True)
class RescanPolicy:
    version: int
    intervals: dict[str, timedelta]  # priority category → time between scans
    unscored: timedelta
    failed_retry: timedelta

    def interval_for(self, priority: str | None) -> timedelta:
        return self.intervals.get(priority or "", self.unscored)

    def is_due(self, priority: str | None, scanned_at: datetime, now: datetime, *, failed: bool = False) -> bool:
        """Whether a lead last scanned at ``scanned_at`` is due at ``now`` (the store asks the same in SQL)."""
        wait = min(self.failed_retry, self.interval_for(priority)) if failed else self.interval_for(priority)
        return scanned_at <= now - wait


def parse_policy(text: str) -> RescanPolicy:
    data = yaml.safe_load(text) or {}
    intervals = data.get("intervals_days") or {}
    unknown = set(intervals) - set(PRIORITIES)
    if unknown:
        raise ValueError(f"rescan policy: unknown priority categories {sorted(unknown)}")
    days = {key: float(value) for key, value in intervals.items()}
    if any(value <= 0 for value in days.values()):
        raise ValueError("rescan policy: every interval must be more than 0 days")
    return RescanPolicy(
        version=int(data.get("version", 1)),
        intervals={key: timedelta(days=value) for key, value in days.items()},
        unscored=timedelta(days=float(data.get("unscored_days", 30))),
        failed_retry=timedelta(days=float(data.get("failed_retry_days", 1))),
    )


@lru_cache(maxsize=1)
def default_policy() -> RescanPolicy:
    return parse_policy(resources.files("shared.core").joinpath("rescans.yaml").read_text(encoding="utf-8"))
