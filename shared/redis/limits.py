"""Token buckets: shared by every worker through Redis when configured, in-process otherwise.

A limit that each process enforces alone is multiplied by the number of processes: ten
function instances at ``dns_qps=500`` send 5,000 queries/s. With Redis, a bucket is one hash
updated by one Lua script — read, refill, take and write happen atomically on the server, and
the clock is the server's (``TIME``), so workers whose clocks disagree still share one rate.
While Redis is unset or its breaker is open, the same arithmetic runs in process.

:class:`AsyncLimiter` is the form async code uses: waiters that arrive together share one
Redis round trip, so the DNS client does not pay one per query.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from shared.redis.connection import AsyncWire, RedisConnection, ReplyError, connection_for, executor

if TYPE_CHECKING:
    from shared.config import Settings

KEY_PREFIX = "hunter:rl:"

# KEYS[1] bucket; ARGV rate (tokens/s), capacity, cost, max_wait (s).
# Grants when the cost is covered by the tokens on hand plus what refills within max_wait (the
# bucket then goes into debt and the caller waits that long); otherwise takes nothing.
# Returns {granted 0/1, wait seconds as a string (a Lua number would be truncated to an integer)}.
# Time is in integer microseconds: exact in a double, unlike seconds with a fraction.
TOKEN_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local max_wait = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', KEYS[1], 't', 'v')
local tokens = capacity
if state[1] and state[2] then
  local last = tonumber(state[1])
  tokens = tonumber(state[2])
  if now > last then
    tokens = math.min(capacity, tokens + (now - last) * rate / 1000000)
  end
end
local wait = 0
local granted = 1
if tokens < cost then
  wait = (cost - tokens) / rate
  if wait > max_wait then granted = 0 end
end
if granted == 1 then tokens = tokens - cost end
redis.call('HSET', KEYS[1], 't', string.format('%.0f', now), 'v', string.format('%.17g', tokens))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1000)
return {granted, string.format('%.17g', wait)}
"""
TOKEN_BUCKET_SHA = hashlib.sha1(TOKEN_BUCKET_LUA.encode()).hexdigest()


class Buckets(Protocol):
    remote: bool

    def reserve(
        self, key: str, rate: float, capacity: float, cost: float = 1, max_wait: float = 0
    ) -> tuple[bool, float]: ...

    def take(self, key: str, rate: float, capacity: float, cost: float = 1) -> float: ...


def _check(rate: float, capacity: float, cost: float) -> None:
    if cost > capacity:
        raise ValueError(f"cost {cost} can never be granted by a bucket of {capacity}")


class MemoryBuckets:
    """The bucket arithmetic in process (monotonic clock); the fallback for :class:`RedisBuckets`."""

    remote = False

    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self._lock = threading.Lock()

    def reserve(
        self, key: str, rate: float, capacity: float, cost: float = 1, max_wait: float = 0
    ) -> tuple[bool, float]:
        """(granted, wait): granted with wait > 0 means "yours, but only after wait seconds"."""
        if rate <= 0:
            return True, 0.0
        _check(rate, capacity, cost)
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.pop(key, (capacity, now))
            tokens = min(capacity, tokens + max(0.0, now - at) * rate)
            wait = max(0.0, (cost - tokens) / rate)
            granted = wait <= max_wait
            if granted:
                tokens -= cost
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)  # least recently used; a forgotten bucket is a full one
        return granted, wait

    def take(self, key: str, rate: float, capacity: float, cost: float = 1) -> float:
        """0 when granted, else the seconds until ``cost`` tokens will be there (nothing taken)."""
        granted, wait = self.reserve(key, rate, capacity, cost)
        return 0.0 if granted else wait


class RedisBuckets:
    """Buckets in Redis (one Lua script per take); in process while Redis is unset or its breaker is open."""

    remote = True

    def __init__(self, connection: RedisConnection, *, prefix: str = KEY_PREFIX, fallback: MemoryBuckets | None = None):
        self.connection = connection
        self.prefix = prefix
        self.fallback = fallback or MemoryBuckets()
        self._script: Any = None

    def _run(self, r: Any, key: str, rate: float, capacity: float, cost: float, max_wait: float) -> tuple[bool, float]:
        if self._script is None:
            self._script = r.register_script(TOKEN_BUCKET_LUA)  # EVALSHA, reloaded by redis-py after a restart
        granted, wait = self._script(keys=[self.prefix + key], args=[rate, capacity, cost, max_wait], client=r)
        return bool(int(granted)), float(wait)

    def reserve(
        self, key: str, rate: float, capacity: float, cost: float = 1, max_wait: float = 0
    ) -> tuple[bool, float]:
        if rate <= 0:
            return True, 0.0
        _check(rate, capacity, cost)
        max_wait = min(max_wait, 1e12)  # Lua reads "inf" fine, but keep the argument an ordinary number
        return self.connection.call(
            lambda r: self._run(r, key, rate, capacity, cost, max_wait),
            lambda: self.fallback.reserve(key, rate, capacity, cost, max_wait),
        )

    def take(self, key: str, rate: float, capacity: float, cost: float = 1) -> float:
        granted, wait = self.reserve(key, rate, capacity, cost)
        return 0.0 if granted else wait

    async def areserve(
        self, wire: AsyncWire, key: str, rate: float, capacity: float, cost: float = 1, max_wait: float = 0
    ) -> tuple[bool, float]:
        """:meth:`reserve` on the caller's event loop (EVALSHA, EVAL when Redis lost its script cache)."""
        if rate <= 0:
            return True, 0.0
        _check(rate, capacity, cost)
        args = (1, self.prefix + key, float(rate), float(capacity), float(cost), float(min(max_wait, 1e12)))

        async def run(w: AsyncWire) -> tuple[bool, float]:
            (reply,) = await w.execute([("EVALSHA", TOKEN_BUCKET_SHA, *args)])
            if isinstance(reply, ReplyError) and str(reply).startswith("NOSCRIPT"):
                (reply,) = await w.execute([("EVAL", TOKEN_BUCKET_LUA, *args)])
            if isinstance(reply, ReplyError):
                raise reply
            return bool(int(reply[0])), float(reply[1])

        return await self.connection.acall(
            wire, run, lambda: self.fallback.reserve(key, rate, capacity, cost, max_wait)
        )


_buckets: dict[tuple[Any, ...], Buckets] = {}
_buckets_lock = threading.Lock()


def buckets_for(settings: Settings) -> Buckets:
    """The process's buckets: in Redis when configured. One per process, so that the in-process
    fallback is one limit for the whole process, not one per request."""
    key = (settings.redis_url, settings.redis_timeout, settings.redis_retry_interval)
    buckets = _buckets.get(key)
    if buckets is None:
        with _buckets_lock:
            buckets = _buckets.get(key)
            if buckets is None:
                buckets = RedisBuckets(connection_for(settings)) if settings.redis_url else MemoryBuckets()
                _buckets[key] = buckets
    return buckets


class AsyncLimiter:
    """``await acquire()`` before each operation; at most ``rate`` per second over every process sharing the key.

    Waiters that arrive while a reservation is on its way are reserved together by the next one
    (up to ``max_batch``), so under load the DNS client pays one Redis round trip per batch of
    queries, and under light load one per query. Nothing is taken ahead of need: a scanner that
    stops leaves no unused tokens behind. Create one per event loop.
    """

    def __init__(
        self,
        buckets: Buckets,
        key: str,
        rate: float,
        *,
        capacity: float | None = None,
        max_batch: int | None = None,
    ) -> None:
        self.buckets = buckets
        self.key = key
        self.rate = rate
        self.capacity = capacity if capacity is not None else max(1.0, rate)  # one second of burst
        self.max_batch = max(1, int(min(max_batch or self.capacity, self.capacity)))
        self._waiting: list[tuple[asyncio.Future[float | None], float]] = []
        self._draining: asyncio.Task[None] | None = None
        self._wire = buckets.connection.async_wire() if isinstance(buckets, RedisBuckets) else None

    async def close(self) -> None:
        if self._wire is not None:
            await self._wire.close()

    async def acquire(self, max_wait: float = math.inf) -> bool:
        """Wait for a token; False (at once, nothing taken) when none would be free within ``max_wait`` s."""
        if self.rate <= 0:
            return True
        future: asyncio.Future[float | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((future, max_wait))
        if self._draining is None:
            self._draining = asyncio.ensure_future(self._drain())
        wait = await future
        if wait is None:
            return False
        if wait > 0:
            await asyncio.sleep(wait)
        return True

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        batch: list[tuple[asyncio.Future[float | None], float]] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
                batch = [(f, w) for f, w in batch if not f.done()]  # cancelled while waiting
                if not batch:
                    continue
                args = (self.key, self.rate, self.capacity, len(batch), min(w for _, w in batch))
                if self._wire is not None:
                    granted, wait = await self.buckets.areserve(self._wire, *args)  # type: ignore[attr-defined]
                elif self.buckets.remote:
                    granted, wait = await loop.run_in_executor(executor(), self.buckets.reserve, *args)
                else:
                    granted, wait = self.buckets.reserve(*args)
                for future, _ in batch:
                    if not future.done():
                        future.set_result(wait if granted else None)
                batch = []
        except BaseException as exc:
            for future, _ in batch + self._waiting:
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("limiter stopped"))
            self._waiting = []
            raise
        finally:
            self._draining = None


class RateLimited(Protocol):
    """What a per-caller limit needs to know of its caller (an API key)."""

    id: str
    rate_limit_per_minute: int


class RateLimiter:
    """A token bucket per key: ``rate_limit_per_minute`` with a minute of burst.

    The buckets come from :mod:`shared.redis.limits`: in Redis when configured, so every process and
    function instance enforces one limit per key together; in process otherwise, or while Redis is down.
    """

    def __init__(self, buckets: Buckets | None = None) -> None:
        self.buckets = buckets if buckets is not None else MemoryBuckets()

    def take(self, key: RateLimited) -> float:
        """0 when allowed, else the seconds until a token is free."""
        capacity = float(max(1, key.rate_limit_per_minute))
        return self.buckets.take(f"apikey:{key.id}", capacity / 60.0, capacity)


class FailedAuthLimiter:
    """At most ``failures`` failed authentications per ``window`` seconds per client address and per
    key id (a token bucket each, in Redis when configured so every instance counts together).

    Once a bucket is empty the caller is refused (429 with ``Retry-After``) until it refills, without
    the Argon2 check a wrong key would otherwise cost. Blocks are also remembered in process (an LRU
    of at most ``size`` names), so a blocked client costs one dictionary lookup."""

    def __init__(
        self,
        buckets: Buckets | None = None,
        *,
        failures: int = 10,
        window: float = 60.0,
        size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.buckets = buckets if buckets is not None else MemoryBuckets()
        self.capacity = float(failures)
        self.rate = failures / window
        self.size = size
        self.clock = clock
        self._blocked: OrderedDict[str, float] = OrderedDict()  # name → monotonic time the block ends
        self._lock = threading.Lock()

    def blocked(self, names: Iterable[str]) -> float:
        """Seconds until every one of ``names`` may try again (0 = go ahead)."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for name in names:
                until = self._blocked.get(name)
                if until is None:
                    continue
                if until <= now:
                    del self._blocked[name]
                else:
                    wait = max(wait, until - now)
        return wait

    def failed(self, names: list[str]) -> float:
        """Count one failure against each name; the seconds to wait when one of them is now over its limit."""
        wait = 0.0
        for name in names:
            wait = max(wait, self.buckets.take(f"authfail:{name}", self.rate, self.capacity))
        if wait > 0:
            until = self.clock() + wait
            with self._lock:
                for name in names:
                    self._blocked[name] = max(until, self._blocked.get(name, 0.0))
                    self._blocked.move_to_end(name)
                while len(self._blocked) > self.size:
                    self._blocked.popitem(last=False)
        return wait
