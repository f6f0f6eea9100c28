"""The backoff between deliveries of a failing queue message (shared/queues/retry.py)."""

from __future__ import annotations

import random

import pytest

from shared.config import Settings
from shared.queues.hostjson import queue_options
from shared.queues.retry import DEFAULT_BASE, DEFAULT_CAP, RetryPolicy, nominal_delay, retry_delay


class Fixed(random.Random):
    """An rng whose uniform(a, b) is always the point ``at`` (0 = a, 1 = b) of the interval."""

    def __init__(self, at: float) -> None:
        super().__init__(0)
        self.at = at

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.at


def test_nominal_delay_doubles_per_delivery_up_to_the_cap():
    assert [nominal_delay(n, 10, 900) for n in range(1, 9)] == [10, 20, 40, 80, 160, 320, 640, 900]
    assert nominal_delay(0, 10, 900) == 10  # a peeked count (0) is treated as the first delivery
    assert nominal_delay(10_000, 10, 900) == 900  # no overflow however often it was delivered
    assert nominal_delay(3, 0, 900) == 0


def test_delay_grows_with_the_dequeue_count_deterministically():
    for at in (0.0, 0.5, 1.0):
        delays = [retry_delay(n, 10, 900, Fixed(at)) for n in range(1, 8)]
        assert delays == sorted(delays) and len(set(delays)) == len(delays)
    assert [retry_delay(n, 10, 900, Fixed(1.0)) for n in range(1, 5)] == [10, 20, 40, 80]
    assert [retry_delay(n, 10, 900, Fixed(0.0)) for n in range(1, 5)] == [5, 10, 20, 40]


def test_equal_jitter_stays_within_the_upper_half_and_spreads():
    rng = random.Random(12345)
    for n in range(1, 12):
        ceiling = nominal_delay(n, 10, 900)
        samples = [retry_delay(n, 10, 900, rng) for _ in range(500)]
        assert all(ceiling / 2 <= d <= ceiling for d in samples)
        assert max(samples) - min(samples) > ceiling / 4  # really jittered: no thundering herd
    # without an rng the module's own is used, within the same bounds
    assert all(5 <= retry_delay(1, 10, 900) <= 10 for _ in range(200))


def test_zero_base_retries_at_once():
    assert retry_delay(1, 0, 900) == 0 and retry_delay(4, 0, 900) == 0


def test_policy_from_settings_and_host_json(monkeypatch: pytest.MonkeyPatch):
    for key in ("HUNTER_QUEUE_RETRY_BASE", "HUNTER_QUEUE_RETRY_MAX"):
        monkeypatch.delenv(key, raising=False)
    settings = Settings()
    assert (settings.queue_retry_base, settings.queue_retry_max) == (DEFAULT_BASE, DEFAULT_CAP)
    policy = RetryPolicy.from_settings(settings, queue_options().max_dequeue_count)
    assert policy == RetryPolicy(DEFAULT_BASE, DEFAULT_CAP, 5)
    assert [policy.is_last(n) for n in range(1, 7)] == [False, False, False, False, True, True]

    monkeypatch.setenv("HUNTER_QUEUE_RETRY_BASE", "0.5")
    monkeypatch.setenv("HUNTER_QUEUE_RETRY_MAX", "4")
    tuned = RetryPolicy.from_settings(Settings(), 5)
    assert (tuned.base, tuned.cap) == (0.5, 4.0)
    monkeypatch.setenv("HUNTER_QUEUE_RETRY_BASE", "-1")
    with pytest.raises(ValueError, match="queue_retry_base"):
        Settings()


def test_default_deliveries_span_well_over_a_one_minute_outage():
    """The issue: five deliveries ~10 s apart poisoned everything in flight during a 1-minute outage."""
    shortest, longest = RetryPolicy(max_attempts=queue_options().max_dequeue_count).span()
    assert (shortest, longest) == (225.0, 450.0)  # 3 min 45 s to 7 min 30 s from first to last delivery
    assert shortest >= 3 * 60
    assert RetryPolicy(max_attempts=8).span() == (1365.0, 2730.0)  # the cap (15 min) bites from the 6th wait
    assert RetryPolicy(max_attempts=1).span() == (0.0, 0.0)


def test_policy_delay_uses_its_rng():
    policy = RetryPolicy(base=2, cap=5, max_attempts=5, rng=Fixed(1.0))
    assert [policy.delay(n) for n in range(1, 5)] == [2, 4, 5, 5]
