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

import asyncio
import logging
import os
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    import redis

    from shared.config import Settings

log = logging.getLogger("hunter.redis")
T = TypeVar("T")
# On an event loop the wait for a reply includes the loop's own lag: with 256 domains in flight a
# ready callback waits behind thousands of others (measured: p99 315 ms, worst 2.2 s per iteration,
# without Redis at all). Async calls therefore allow at least the DNS timeout before calling Redis
# down; a refused connection (Redis stopped) is still seen at once.
ASYNC_TIMEOUT_FLOOR = 2.0


class CircuitBreaker:
    """closed: use Redis; open: skip it until ``retry_interval`` has passed, then let one call probe it.

    Thread-safe. The closed fast path takes no lock (one attribute read), so a healthy Redis pays
    nothing for the breaker.
    """

    def __init__(
        self, retry_interval: float, name: str = "redis", *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """``clock``: seconds from any origin (tests pass their own to step through intervals)."""
        self.retry_interval = retry_interval
        self.clock = clock
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
        return "half-open" if self.clock() >= self._next_probe else "open"

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
            now = self.clock()
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
            self._next_probe = self.clock() + self.retry_interval
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

    def __init__(
        self,
        url: str | None,
        *,
        timeout: float = 0.25,
        retry_interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        password_provider: Callable[[], str] | None = None,
    ) -> None:
        """``password_provider``: called for the password of every new connection (an Entra access
        token for Azure Managed Redis, ``HUNTER_REDIS_AUTH=entra``), the URL's user as the user."""
        self.url = url
        self.timeout = timeout
        self.password_provider = password_provider
        self.breaker = CircuitBreaker(retry_interval, clock=clock)
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

                    options: dict[str, Any] = {}
                    url = self.url
                    if self.password_provider is not None:
                        # redis-py takes the user from the provider only: none may come in the URL.
                        options["credential_provider"] = _ProvidedCredentials(url, self.password_provider)
                        parts = urlsplit(url)
                        url = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
                    self._client = redis.Redis.from_url(
                        url,
                        socket_timeout=self.timeout,
                        socket_connect_timeout=self.timeout,
                        retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
                        client_name="hunter",
                        **options,
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

    async def acall(
        self, wire: AsyncWire, operation: Callable[[AsyncWire], Awaitable[T]], fallback: Callable[[], T]
    ) -> T:
        """:meth:`call` for async code, on an :class:`AsyncWire` of the caller's event loop."""
        if not self.url or not self.breaker.allow():
            return fallback()
        try:
            result = await operation(wire)
        except Exception as exc:
            self.breaker.failure(exc)
            return fallback()
        self.breaker.success()
        return result

    def async_wire(self) -> AsyncWire | None:
        """A connection for the calling event loop, or None when the URL is not one :class:`AsyncWire` speaks."""
        if not self.url or urlsplit(self.url).scheme not in ("redis", "rediss"):
            return None
        return AsyncWire(self.url, max(self.timeout, ASYNC_TIMEOUT_FLOOR), password_provider=self.password_provider)

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


class _ProvidedCredentials:
    """redis-py's ``CredentialProvider``: the URL's user and a password asked for per new connection.
    A connection Redis closes when its token expires is replaced on the next call (one retry), with a
    new token."""

    def __init__(self, url: str, password: Callable[[], str]) -> None:
        user = urlsplit(url).username
        self.username = unquote(user) if user else None
        self.password = password

    def get_credentials(self) -> tuple[str] | tuple[str, str]:
        token = self.password()
        return (self.username, token) if self.username else (token,)

    async def get_credentials_async(self) -> tuple[str] | tuple[str, str]:
        return self.get_credentials()


class ReplyError(Exception):
    """An error reply from Redis (``-ERR ...``), returned in place of that command's reply."""


class IncompleteReply(Exception):
    """The buffer ends inside a reply: read more."""


def parse_reply(buffer: bytes | bytearray, position: int) -> tuple[Any, int]:
    """One RESP2 reply at ``position`` → (value, position after it); raises :class:`IncompleteReply`."""
    end = buffer.find(b"\r\n", position)
    if end < 0:
        raise IncompleteReply
    kind = buffer[position]
    if kind == 0x24:  # $ bulk string
        size = int(buffer[position + 1 : end])
        if size < 0:
            return None, end + 2
        stop = end + 2 + size
        if len(buffer) < stop + 2:
            raise IncompleteReply
        return bytes(buffer[end + 2 : stop]), stop + 2
    if kind == 0x2A:  # * array
        size = int(buffer[position + 1 : end])
        if size < 0:
            return None, end + 2
        items = []
        position = end + 2
        for _ in range(size):
            item, position = parse_reply(buffer, position)
            items.append(item)
        return items, position
    if kind == 0x2B:  # + simple string
        return bytes(buffer[position + 1 : end]), end + 2
    if kind == 0x3A:  # : integer
        return int(buffer[position + 1 : end]), end + 2
    if kind == 0x2D:  # - error
        return ReplyError(bytes(buffer[position + 1 : end]).decode("utf-8", "replace")), end + 2
    raise ConnectionError(f"not a RESP2 reply: {bytes(buffer[position : position + 40])!r}")


def _arg(value: bytes | str | int | float) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return repr(value).encode()  # int, or float with every digit


def encode_command(*args: bytes | str | int | float) -> bytes:
    """One RESP2 command: an array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in map(_arg, args):
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


class AsyncWire:
    """A minimal RESP2 client on the event loop, for the hot paths: batched MGET, pipelined SET, EVALSHA.

    Why not redis-py: its asyncio pipeline spends ~25 µs of CPU per SET building and parsing
    objects, and its sync client, run on a thread, queues behind a busy event loop for the GIL
    (tens of ms per round trip under scan load). Encoding a command here is one ``b"".join``:
    ~2 µs a key. One command batch at a time (the lock); replies are matched by order.
    """

    def __init__(self, url: str, timeout: float, *, password_provider: Callable[[], str] | None = None) -> None:
        parts = urlsplit(url)
        self.password_provider = password_provider
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379
        self.ssl = parts.scheme == "rediss"
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.db = int(parts.path.strip("/") or 0)
        self.timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()

    async def execute(self, commands: Sequence[Sequence[bytes | str | int | float]]) -> list[Any]:
        """Send ``commands`` in one write and return their replies (a :class:`ReplyError` for an error reply).

        Raises on a connection problem or after ``timeout``. A pooled connection found dead (Redis
        restarted) is replaced once at once; a timeout is never retried.
        """
        payload = b"".join(encode_command(*command) for command in commands)
        async with self._lock:
            for attempt in (1, 2):
                fresh = self._writer is None
                try:
                    async with asyncio.timeout(self.timeout):
                        if self._writer is None:
                            await self._connect()
                        assert self._writer is not None
                        self._writer.write(payload)
                        await self._writer.drain()
                        return await self._replies(len(commands))
                except (ConnectionError, asyncio.IncompleteReadError) as exc:
                    self._drop()
                    if fresh or attempt == 2:
                        raise ConnectionError(f"Redis connection lost: {exc!r}") from exc
                except BaseException:
                    self._drop()
                    raise
        raise AssertionError("unreachable")

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(
            self.host, self.port, ssl=ssl.create_default_context() if self.ssl else None
        )
        hello: list[tuple[bytes | str | int | float, ...]] = []
        password = self.password
        if self.password_provider is not None:  # an Entra token: cached, fetched off the loop when due
            password = await asyncio.to_thread(self.password_provider)
        if password is not None:
            hello.append(("AUTH", self.username, password) if self.username else ("AUTH", password))
        if self.db:
            hello.append(("SELECT", self.db))
        if hello:
            self._writer.write(b"".join(encode_command(*command) for command in hello))
            for reply in await self._replies(len(hello)):
                if isinstance(reply, ReplyError):
                    raise reply

    async def _replies(self, count: int) -> list[Any]:
        """Read ``count`` replies: parsed from a buffer, so 512 keys cost a few reads, not 512 awaits."""
        assert self._reader is not None
        buffer = bytearray()
        replies: list[Any] = []
        position = 0
        while len(replies) < count:
            try:
                reply, position = parse_reply(buffer, position)
            except IncompleteReply:
                chunk = await self._reader.read(1 << 16)
                if not chunk:
                    raise ConnectionError("connection closed by Redis") from None
                buffer += chunk
                continue
            replies.append(reply)
        if position != len(buffer):
            raise ConnectionError("Redis sent more replies than commands")
        return replies

    def _drop(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def close(self) -> None:
        writer = self._writer
        self._drop()
        if writer is not None:
            try:
                await writer.wait_closed()
            except (OSError, ConnectionError):
                pass


_connections: dict[tuple[Any, ...], RedisConnection] = {}
_connections_lock = threading.Lock()
_executor: tuple[int, ThreadPoolExecutor] | None = None  # (pid, pool): a forked child needs its own threads


def connection_for(settings: Settings) -> RedisConnection:
    """One connection (and so one breaker) per process and Redis URL, shared by caches and limiters."""
    key = (settings.redis_url, settings.redis_timeout, settings.redis_retry_interval, settings.redis_auth)
    connection = _connections.get(key)
    if connection is None:
        with _connections_lock:
            connection = _connections.get(key)
            if connection is None:
                password_provider = None
                if settings.redis_auth == "entra":
                    from shared.store.entra import REDIS_SCOPE, AccessTokens

                    password_provider = AccessTokens(REDIS_SCOPE).get
                connection = RedisConnection(
                    settings.redis_url,
                    timeout=settings.redis_timeout,
                    retry_interval=settings.redis_retry_interval,
                    password_provider=password_provider,
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
