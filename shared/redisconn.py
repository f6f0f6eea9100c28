"""Redis as an accelerator, never a dependency: one lazily made client per process and a circuit breaker.

Shared caches and rate limits live in Redis when ``HUNTER_REDIS_URL`` is set. Redis being unset,
down or slow must never fail a request, so every call goes through :meth:`RedisConnection.call`
with an in-process fallback. Without a breaker a dead Redis would cost ``redis_timeout`` on
every call; with it, the first failure opens the breaker, calls skip Redis for
``redis_retry_interval`` seconds, then one call probes it again. One warning is logged per
outage, not one per call.

``redis`` is imported only when a client is first needed: ``import function_app`` stays light.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import redis

    from shared.config import Settings

log = logging.getLogger("hunter.redis")
T = TypeVar("T")


class CircuitBreaker:
    """closed: use Redis; open: skip it until ``retry_interval`` has passed, then let one call probe it.

    Thread-safe. The closed fast path takes no lock (one attribute read), so a healthy Redis pays
    nothing for the breaker.
    """

    def __init__(self, retry_interval: float, name: str = "redis") -> None:
        self.retry_interval = retry_interval
        self.name = name
        self.opens = 0  # outages seen (each logged once)
        self.last_error: str | None = None
        self._open = False
        self._next_probe = 0.0  # time.monotonic() after which one call may try Redis again
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        """``closed``, ``open`` (skipping Redis) or ``half-open`` (a probe is due)."""
        if not self._open:
            return "closed"
        return "half-open" if time.monotonic() >= self._next_probe else "open"

    @property
    def is_open(self) -> bool:
        return self._open

    def allow(self) -> bool:
        """May this call use Redis? While open, exactly one call per interval is let through to probe."""
        if not self._open:
            return True
        with self._lock:
            if not self._open:
                return True
            now = time.monotonic()
            if now < self._next_probe:
                return False
            self._next_probe = now + self.retry_interval  # the others keep skipping while this one probes
            return True

    def success(self) -> None:
        if self._open:
            with self._lock:
                if self._open:
                    self._open = False
                    log.info("%s is reachable again; shared caches and limits resumed", self.name)

    def failure(self, exc: BaseException) -> None:
        with self._lock:
            self.last_error = f"{type(exc).__name__}: {exc}"[:200]
            self._next_probe = time.monotonic() + self.retry_interval
            if self._open:
                return  # a failed probe or a call that was already in flight: same outage, no new warning
            self._open = True
            self.opens += 1
        log.warning(
            "%s unavailable; using in-process caches and limits, next try in %gs",
            self.name,
            self.retry_interval,
            extra={"error": self.last_error},
        )


class RedisConnection:
    """The process's Redis client for one URL, with its breaker; ``url=None`` means not configured."""

    def __init__(self, url: str | None, *, timeout: float = 0.25, retry_interval: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout
        self.breaker = CircuitBreaker(retry_interval)
        self._client: redis.Redis | None = None
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return bool(self.url)

    def client(self) -> redis.Redis:
        """The client, made on first use. Timeouts are short and there is no retry on a timeout:
        a slow Redis must cost one ``timeout``, not several. One immediate retry on a connection
        error replaces a pooled socket that went stale when Redis restarted."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import redis
                    from redis.backoff import NoBackoff
                    from redis.retry import Retry

                    self._client = redis.Redis.from_url(
                        self.url,
                        socket_timeout=self.timeout,
                        socket_connect_timeout=self.timeout,
                        retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
                        client_name="hunter",
                    )
        return self._client

    def call(self, operation: Callable[[redis.Redis], T], fallback: Callable[[], T]) -> T:
        """``operation(client)``, or ``fallback()`` when Redis is unset, skipped by the breaker or failing."""
        if not self.url or not self.breaker.allow():
            return fallback()
        try:
            result = operation(self.client())
        except Exception as exc:  # connection refused, timeouts, a broken script: none may fail the caller
            self.breaker.failure(exc)
            return fallback()
        self.breaker.success()
        return result

    def health(self) -> str:
        """``ok``, ``degraded: <why>`` (down, or the breaker is open) or ``not configured``, for /healthz/ready."""
        if not self.url:
            return "not configured"
        if self.call(lambda r: bool(r.ping()), lambda: False):
            return "ok"
        return f"degraded: {self.breaker.last_error or 'unreachable'}"

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


_connections: dict[tuple[Any, ...], RedisConnection] = {}
_connections_lock = threading.Lock()
_executor: tuple[int, ThreadPoolExecutor] | None = None  # (pid, pool): a forked child needs its own threads


def connection_for(settings: Settings) -> RedisConnection:
    """One connection (and so one breaker) per process and Redis URL, shared by caches and limiters."""
    key = (settings.redis_url, settings.redis_timeout, settings.redis_retry_interval)
    connection = _connections.get(key)
    if connection is None:
        with _connections_lock:
            connection = _connections.get(key)
            if connection is None:
                connection = RedisConnection(
                    settings.redis_url, timeout=settings.redis_timeout, retry_interval=settings.redis_retry_interval
                )
                _connections[key] = connection
    return connection


def executor() -> ThreadPoolExecutor:
    """Threads for Redis calls made from async code. Not asyncio's default executor: WHOIS lookups
    block there for seconds, and a DNS cache read must not queue behind them."""
    global _executor
    pid = os.getpid()
    if _executor is None or _executor[0] != pid:
        with _connections_lock:
            if _executor is None or _executor[0] != pid:
                _executor = (pid, ThreadPoolExecutor(max_workers=4, thread_name_prefix="hunter-redis"))
    return _executor[1]
