"""NCRONTAB schedules, as Azure Functions timers read them.

Azure Functions timers use six-field NCRONTAB expressions (``{second} {minute} {hour} {day}
{month} {day-of-week}``). The registry (:data:`shared.triggers.registry.TIMER_FUNCTIONS`) names
the setting that holds each timer's schedule: the Azure blueprint binds ``%HUNTER_…%`` to that app
setting, and the local worker computes the same fire times with :class:`Schedule`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_NAMES = {
    4: {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)},
    5: {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())},
}
_RANGES = [(0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6)]


class ScheduleError(ValueError):
    pass


def _field(text: str, index: int) -> frozenset[int]:
    low, high = _RANGES[index]
    names = _NAMES.get(index, {})
    values: set[int] = set()
    for part in text.lower().split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ScheduleError(f"step must be positive in {text!r}")
        if base == "*":
            start, end = low, high
        else:
            first, _, last = base.partition("-")
            start = names.get(first) if first in names else int(first)
            end = (names.get(last) if last in names else int(last)) if last else (high if step_text else start)
        if index == 5 and end == 7:  # Sunday as 7, as cron allows
            end = 6 if start != 7 else 0
            start = 0 if start == 7 else start
        if not (low <= start <= high and low <= end <= high and start <= end):
            raise ScheduleError(f"{text!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Schedule:
    """A parsed six-field NCRONTAB expression (UTC, as on Azure unless WEBSITE_TIME_ZONE is set)."""

    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]

    @classmethod
    def parse(cls, expression: str) -> Schedule:
        parts = expression.split()
        if len(parts) != 6:
            raise ScheduleError(f"NCRONTAB needs 6 fields (second minute hour day month weekday): {expression!r}")
        try:
            fields = [_field(part, i) for i, part in enumerate(parts)]
        except ValueError as exc:
            raise ScheduleError(f"bad NCRONTAB expression {expression!r}: {exc}") from None
        return cls(expression, *fields)

    def next_after(self, moment: datetime) -> datetime:
        """The first fire time strictly after ``moment``."""
        moment = moment.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
        day = moment.replace(hour=0, minute=0, second=0)
        for _ in range(366 * 8):
            weekday = (day.weekday() + 1) % 7  # cron counts from Sunday
            if day.month in self.months and day.day in self.days and weekday in self.weekdays:
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        for second in sorted(self.seconds):
                            candidate = day.replace(hour=hour, minute=minute, second=second)
                            if candidate >= moment:
                                return candidate
            day += timedelta(days=1)
        raise ScheduleError(f"{self.expression!r} never fires")
