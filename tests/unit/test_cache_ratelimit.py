"""Caches, token buckets and the circuit breaker without a Redis server (unset, or nothing listening)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterator

import pytest

from devtools.api_server import free_port
from shared.config import Settings
from shared.redis.cache import AsyncCacheBatcher, MemoryCache, RedisCache, cache_for
from shared.redis.connection import CircuitBreaker, RedisConnection
from shared.redis.limits import AsyncLimiter, MemoryBuckets, RedisBuckets, buckets_for


class Captured(logging.Handler):
    """Records of the ``hunter.redis`` logger (it does not propagate once logs are configured)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def warnings(self) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno == logging.WARNING]


@pytest.fixture
def redis_log() -> Iterator[Captured]:
    handler = Captured()
    logger = logging.getLogger("hunter.redis")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def dead_redis(retry_interval: float = 0.3) -> RedisConnection:
    """A configured Redis with nothing listening: connection refused at once."""
    return RedisConnection(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2, retry_interval=retry_interval)


# -- the in-process cache -------------------------------------------------------------------


def test_memory_cache_expires_entries():
    cache = MemoryCache()
    cache.set("a", {"v": 1}, 0.2)
    cache.set("b", [1, 2], 10)
    assert cache.get("a") == {"v": 1}
    time.sleep(0.25)
    assert cache.get("a") is None
    assert cache.get_many(["a", "b", "c"]) == {"b": [1, 2]}


def test_memory_cache_evicts_the_least_recently_used():
    cache = MemoryCache(max_entries=2)
    cache.set("a", 1, 10)
    cache.set("b", 2, 10)
    cache.get("a")  # a is now the most recent
    cache.set("c", 3, 10)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)


def test_memory_cache_delete_and_zero_ttl():
    cache = MemoryCache()
    cache.set("a", 1, 10)
    cache.delete("a")
    cache.set("b", 1, 0)  # a zero life is no entry at all
    assert cache.get("a") is None and cache.get("b") is None and len(cache) == 0


def test_cache_for_without_redis_is_one_memory_cache_per_process():
    settings = Settings(redis_url=None)
    namespace = f"ns-{uuid.uuid4().hex}"
    first = cache_for(settings, namespace)
    assert isinstance(first, MemoryCache)
    assert cache_for(Settings(redis_url=None), namespace) is first  # every request shares the fallback


# -- token buckets in process ---------------------------------------------------------------


def test_memory_bucket_grants_capacity_then_says_how_long_to_wait():
    buckets = MemoryBuckets()
    rate = 2 / 60  # the "2 per minute" API key
    assert [buckets.take("k", rate, 2) for _ in range(2)] == [0.0, 0.0]
    wait = buckets.take("k", rate, 2)
    assert 29.0 < wait <= 30.0  # one token refills in 30 s
    assert buckets.take("other", rate, 2) == 0.0  # keys are independent


def test_memory_bucket_refills_at_the_rate():
    buckets = MemoryBuckets()
    assert buckets.take("k", 50, 1) == 0.0
    wait = buckets.take("k", 50, 1)
    assert 0 < wait <= 0.02
    time.sleep(wait + 0.005)
    assert buckets.take("k", 50, 1) == 0.0


def test_reserve_goes_into_debt_only_within_max_wait():
    buckets = MemoryBuckets()
    assert buckets.reserve("k", 1, 10, 10) == (True, 0.0)
    granted, wait = buckets.reserve("k", 1, 10, 5, max_wait=10)
    assert granted and 4.5 < wait <= 5  # yours, in five seconds
    granted, wait = buckets.reserve("k", 1, 10, 5, max_wait=5)
    assert not granted and wait > 9  # would be ten: refused, nothing taken
    granted, _ = buckets.reserve("k", 1, 10, 5, max_wait=11)
    assert granted


def test_a_cost_above_capacity_is_an_error_and_rate_zero_is_unlimited():
    with pytest.raises(ValueError):
        MemoryBuckets().take("k", 1, 2, cost=3)
    assert all(MemoryBuckets().take("k", 0, 1) == 0.0 for _ in range(100))


def test_api_key_limiter_keeps_its_interface():
    from shared.redis.limits import RateLimiter
    from shared.store.keys import ApiKey

    key = ApiKey(uuid.uuid4().hex[:12], "slow", frozenset({"read"}), 2)
    limiter = RateLimiter(buckets_for(Settings(redis_url=None)))
    assert [limiter.take(key) for _ in range(2)] == [0.0, 0.0]
    assert limiter.take(key) > 29


# -- the async limiter ----------------------------------------------------------------------


def test_async_limiter_paces_to_the_rate():
    async def run() -> float:
        limiter = AsyncLimiter(MemoryBuckets(), "dns", 200)  # capacity 200: one second of burst
        started = time.monotonic()
        await asyncio.gather(*(limiter.acquire() for _ in range(300)))
        return time.monotonic() - started

    elapsed = asyncio.run(run())
    assert elapsed > 0.4  # 100 beyond the burst at 200/s: half a second (a lower bound: load cannot break it)


def test_async_limiter_refuses_when_the_wait_is_too_long():
    async def run() -> list[bool]:
        limiter = AsyncLimiter(MemoryBuckets(), "whois", 2, max_batch=1)
        return [await limiter.acquire(max_wait=0.1) for _ in range(4)]

    assert asyncio.run(run()) == [True, True, False, False]  # a burst of two, then 0.5 s per turn


def test_async_limiter_batches_waiters_into_one_reservation():
    class Counting(MemoryBuckets):
        calls = 0

        def reserve(self, *args, **kwargs):  # type: ignore[override]
            Counting.calls += 1
            return super().reserve(*args, **kwargs)

    async def run() -> None:
        limiter = AsyncLimiter(Counting(), "dns", 10_000)
        await asyncio.gather(*(limiter.acquire() for _ in range(500)))

    asyncio.run(run())
    assert Counting.calls <= 2  # 500 arrivals in one loop turn share a round trip


# -- the circuit breaker --------------------------------------------------------------------


def test_breaker_opens_once_skips_then_probes_once_per_interval(redis_log):
    breaker = CircuitBreaker(retry_interval=0.3)
    assert breaker.state == "closed" and breaker.allow()
    for _ in range(5):
        breaker.failure(ConnectionError("refused"))
    assert breaker.state == "open" and breaker.opens == 1
    assert not breaker.allow()
    time.sleep(0.32)
    assert breaker.state == "half-open"
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # everyone else keeps skipping while it runs
    breaker.failure(TimeoutError("still down"))
    assert breaker.opens == 1 and len(redis_log.warnings()) == 1  # same outage, one warning
    time.sleep(0.32)
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed" and breaker.allow()
    breaker.failure(ConnectionError("again"))
    assert breaker.opens == 2 and len(redis_log.warnings()) == 2


def test_unconfigured_redis_uses_the_fallback_and_reports_not_configured():
    connection = RedisConnection(None)
    assert connection.call(lambda r: 1 / 0, lambda: "fallback") == "fallback"
    assert connection.health() == "not configured"


def test_dead_redis_costs_one_failure_per_interval_and_one_warning(redis_log):
    """The property, not a timing: with the clock stepped by hand, a dead Redis is tried once per
    ``retry_interval`` however many calls come in, and warned about once per outage."""
    now = [1000.0]
    connection = RedisConnection(
        f"redis://127.0.0.1:{free_port()}/0", timeout=0.2, retry_interval=1.0, clock=lambda: now[0]
    )
    cache = RedisCache(connection, "t", fallback=MemoryCache(), prefix=f"t-{uuid.uuid4().hex}:")
    buckets = RedisBuckets(connection, prefix=f"t-{uuid.uuid4().hex}:")
    attempts = 0

    def counted(r):
        nonlocal attempts
        attempts += 1
        return r.ping()

    def calls(count: int) -> None:
        for _ in range(count):
            cache.set("k", {"v": 1}, 10)
            assert cache.get("k") == {"v": 1}  # served by the in-process fallback
            assert buckets.take("b", 1000, 1000) == 0.0
            connection.call(counted, lambda: None)

    calls(200)
    assert attempts == 0  # the first set opened the breaker; nothing reached for Redis after it
    assert connection.breaker.opens == 1 and len(redis_log.warnings()) == 1
    assert connection.health().startswith("degraded")
    now[0] += 0.99
    calls(50)
    assert attempts == 0  # still inside the interval
    for interval in range(1, 6):
        now[0] += 1.0
        connection.call(counted, lambda: None)  # the one probe of this interval, refused again
        calls(50)  # everyone else keeps skipping Redis
        assert attempts == interval
    assert connection.breaker.opens == 1 and len(redis_log.warnings()) == 1


def test_async_batcher_with_a_dead_redis_answers_misses():
    connection = dead_redis()
    batcher_cache = RedisCache(connection, "dns")  # no fallback: the DNS client has its own cache

    async def run() -> list:
        batcher = AsyncCacheBatcher(batcher_cache)
        batcher.set("x", 1, 10)
        found = await asyncio.gather(*(batcher.get(f"k{i}") for i in range(50)))
        await batcher.flush()
        return found

    assert asyncio.run(run()) == [None] * 50
