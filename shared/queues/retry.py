"""Backoff between the deliveries of a failing message: one rule for every host and backend.

After the n-th failed delivery the message is hidden for :func:`retry_delay` ``(n)`` seconds:
``base · 2^(n-1)``, capped at ``cap``, with *equal jitter* (a uniformly random point of the upper
half, ``[d/2, d]``). Jitter spreads the messages that failed together (a database or Dataverse
outage fails everything in flight at once) so they do not all come back in the same second; the
lower half is left out so that every wait lasts at least half its nominal length, and the retries
of one message therefore always span a known minimum time.

The delivery count is the message's own dequeue count on every backend: the local worker and the
Azure glue hide the *received* message (``update_visibility`` with its receipt) instead of sending
a copy, so the count keeps growing and the body stays unchanged (see ``shared.hosts.queue_runner``).
The last delivery (``dequeue_count >= maxDequeueCount``) is not retried: the message moves to
``<queue>-poison``.

With the defaults (``HUNTER_QUEUE_RETRY_BASE`` 30 s, ``HUNTER_QUEUE_RETRY_MAX`` 900 s, host.json's
``maxDequeueCount`` 5) the four waits are 15-30, 30-60, 60-120 and 120-240 s: the five deliveries
span 3 min 45 s to 7 min 30 s (:meth:`RetryPolicy.span`), so an outage of a few minutes is ridden
out instead of poisoning everything in flight. The cap (15 min) matters once ``maxDequeueCount``
is raised: at 8 the span is about 23 to 46 minutes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.config import Settings

DEFAULT_BASE = 30.0
DEFAULT_CAP = 900.0
_MAX_DOUBLINGS = 60  # 2**60 times any sane base is far past every cap; keeps the float finite
_random = random.Random()


def nominal_delay(dequeue_count: int, base: float, cap: float) -> float:
    """The upper bound of the wait after failed delivery ``dequeue_count``: ``min(cap, base·2^(n-1))``."""
    doublings = min(max(1, dequeue_count) - 1, _MAX_DOUBLINGS)
    return max(0.0, min(cap, base * 2.0**doublings))


def retry_delay(dequeue_count: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to hide a message after its ``dequeue_count``-th failed delivery: in ``[d/2, d]`` for
    ``d = min(cap, base·2^(n-1))`` (equal jitter; ``rng`` for deterministic tests)."""
    ceiling = nominal_delay(dequeue_count, base, cap)
    half = ceiling / 2
    return min(ceiling, half + (rng or _random).uniform(0.0, half))


@dataclass(frozen=True)
class RetryPolicy:
    """``max_attempts`` deliveries (host.json's ``maxDequeueCount``), backing off between them."""

    base: float = DEFAULT_BASE
    cap: float = DEFAULT_CAP
    max_attempts: int = 5
    rng: random.Random | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, max_attempts: int) -> RetryPolicy:
        return cls(base=settings.queue_retry_base, cap=settings.queue_retry_max, max_attempts=max_attempts)

    @classmethod
    def for_trigger(cls, function: object, settings: Settings, max_attempts: int) -> RetryPolicy:
        """The policy of one queue function: its own settings where the registry names them
        (``retry_base_setting``, ``max_attempts_setting``), else the queue-wide ones."""
        policy = cls.from_settings(settings, max_attempts)
        base_setting = getattr(function, "retry_base_setting", None)
        attempts_setting = getattr(function, "max_attempts_setting", None)
        return cls(
            base=getattr(settings, base_setting) if base_setting else policy.base,
            cap=policy.cap,
            max_attempts=getattr(settings, attempts_setting) if attempts_setting else policy.max_attempts,
        )

    def is_last(self, dequeue_count: int) -> bool:
        """No retry after this delivery: the message goes to the poison queue."""
        return dequeue_count >= self.max_attempts

    def delay(self, dequeue_count: int) -> float:
        return retry_delay(dequeue_count, self.base, self.cap, self.rng)

    def span(self) -> tuple[float, float]:
        """(shortest, longest) time from the first delivery to the last, waits only (handlers take no time)."""
        longest = sum(nominal_delay(n, self.base, self.cap) for n in range(1, self.max_attempts))
        return longest / 2, longest
