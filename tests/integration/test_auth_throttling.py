"""Wrong API keys are throttled per client address and per key id; valid keys are never pushed out."""

from __future__ import annotations

import pytest

from shared.config import Settings
from shared.http.dispatch import dispatch
from shared.http.types import HttpRequest
from shared.redis.limits import FailedAuthLimiter, MemoryBuckets
from shared.runtime import Runtime
from shared.store import keys as keys_module


@pytest.fixture
def runtime(tmp_path):
    runtime = Runtime(Settings(database_url=f"sqlite:///{tmp_path / 'hunter.db'}", auth_failures_per_minute=10))
    yield runtime
    runtime.engine.dispose()


@pytest.fixture
def argon2_calls(runtime, monkeypatch):
    calls = []
    hasher = runtime.keys.hasher

    class Counting:
        def hash(self, secret):
            return hasher.hash(secret)

        def verify(self, hashed, secret):
            calls.append(secret)
            return hasher.verify(hashed, secret)

    monkeypatch.setattr(runtime.keys, "hasher", Counting())
    return calls


def get(runtime: Runtime, key: str, client: str = "203.0.113.7"):
    return dispatch(HttpRequest("GET", "/v1/me", headers={"x-api-key": key}, client=client), runtime)


def test_wrong_keys_for_a_real_id_are_throttled_without_argon2(runtime, argon2_calls):
    good, row = runtime.keys.create("sales", ["read"])
    assert get(runtime, good).status == 200  # verified once, then remembered
    statuses = [get(runtime, f"hunter_{row.id}_guess{i}", client=f"198.51.100.{i}").status for i in range(40)]
    # Ten failures for the key id (each from another address), then 429 for the rest.
    assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}
    assert len(argon2_calls) == 1 + 11  # the good key once, ten failures and the one that closed the bucket
    throttled = get(runtime, f"hunter_{row.id}_guess-more", client="198.51.100.250")
    assert throttled.status == 429 and 1 <= int(throttled.headers["Retry-After"]) <= 60
    # The owner of the real key, already verified in this process, is not locked out by the attacker.
    assert get(runtime, good, client="192.0.2.1").status == 200


def test_wrong_keys_from_one_address_are_throttled(runtime, argon2_calls):
    statuses = [get(runtime, f"hunter_{i:012x}_x").status for i in range(15)]
    assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}
    assert get(runtime, "not-even-a-key").status == 429  # every form counts against the address
    assert get(runtime, "not-even-a-key", client="192.0.2.55").status == 401  # another address is not blocked


def test_failures_are_not_cached_and_valid_keys_are_never_evicted_by_them(runtime, monkeypatch):
    monkeypatch.setattr(keys_module, "CACHE_SIZE", 3)
    presented = [runtime.keys.create(f"k{i}", ["read"])[0] for i in range(3)]
    for key in presented:
        assert runtime.keys.authenticate(key) is not None
    for i in range(50):
        assert runtime.keys.authenticate(f"hunter_{i:012x}_wrong") is None
    assert all(runtime.keys.cached(key) is not None for key in presented)  # all three still remembered
    fourth = runtime.keys.create("k3", ["read"])[0]
    runtime.keys.authenticate(presented[0])  # the most recently used ...
    runtime.keys.authenticate(fourth)  # ... so the least recently used (k1) goes
    assert runtime.keys.cached(presented[0]) is not None and runtime.keys.cached(presented[1]) is None


def test_a_block_ends_when_the_bucket_refills():
    now = [0.0]
    limiter = FailedAuthLimiter(MemoryBuckets(), failures=2, window=60.0, clock=lambda: now[0])
    names = ["ip:192.0.2.9"]
    assert limiter.failed(names) == 0 and limiter.failed(names) == 0
    wait = limiter.failed(names)
    assert wait > 0 and limiter.blocked(names) == pytest.approx(wait)
    now[0] += wait + 0.01
    assert limiter.blocked(names) == 0
