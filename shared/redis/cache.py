"""Caches with a time-to-live: shared through Redis when configured, in-process otherwise.

Every scanner process and function instance asks the same questions (DNS answers of the big
providers, WHOIS of a domain scanned twice, a domain scanned again within the hour); a shared
cache answers them once for all. Redis is optional and may fail at any time: :class:`RedisCache`
then serves from an in-process :class:`MemoryCache` (see :mod:`shared.redis.connection`), so a cache
problem costs speed, never a request.

Values are JSON (what Redis stores and every worker can read); keys are namespaced
``hunter:<namespace>:<key>``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from shared.redis.connection import AsyncWire, RedisConnection, ReplyError, connection_for, executor

if TYPE_CHECKING:
    from shared.config import Settings

KEY_PREFIX = "hunter:"


class Cache(Protocol):
    """What callers need: values are JSON-able and must be treated as read-only once stored."""

    remote: bool  # True when calls may block on the network (async callers use a thread)

    def get(self, key: str) -> Any | None: ...

    def set(self, key: str, value: Any, ttl: float) -> None: ...

    def delete(self, key: str) -> None: ...

    def get_many(self, keys: Sequence[str]) -> dict[str, Any]: ...

    def set_many(self, entries: Iterable[tuple[str, Any, float]]) -> None: ...


class MemoryCache:
    """In-process TTL + LRU cache, thread-safe; the fallback when Redis is unset or down."""

    remote = False

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> Any | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return None
            if hit[0] <= time.monotonic():
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return hit[1]

    def set(self, key: str, value: Any, ttl: float) -> None:
        if ttl <= 0 or self.max_entries <= 0:
            self.delete(key)
            return
        with self._lock:
            self._items[key] = (time.monotonic() + ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def delete(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)

    def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        found = {}
        for key in keys:
            value = self.get(key)
            if value is not None:
                found[key] = value
        return found

    def set_many(self, entries: Iterable[tuple[str, Any, float]]) -> None:
        for key, value, ttl in entries:
            self.set(key, value, ttl)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _loads(raw: bytes | None) -> Any | None:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:  # not ours, or cut short: a miss
        return None


class RedisCache:
    """The shared cache; falls back to ``fallback`` (or to nothing) while Redis is unset or the breaker is open.

    The fallback is used only when Redis is not: a healthy Redis is the one source of truth, so an
    entry deleted there (a rescan) cannot come back from another process's memory.
    """

    remote = True

    def __init__(
        self,
        connection: RedisConnection,
        namespace: str,
        *,
        fallback: MemoryCache | None = None,
        prefix: str = KEY_PREFIX,
    ) -> None:
        self.connection = connection
        self.fallback = fallback
        self._prefix = f"{prefix}{namespace}:"

    def _key(self, key: str) -> str:
        return self._prefix + key

    def get(self, key: str) -> Any | None:
        missing = object()
        raw = self.connection.call(lambda r: r.get(self._key(key)), lambda: missing)
        if raw is missing:
            return self.fallback.get(key) if self.fallback is not None else None
        return _loads(raw)  # type: ignore[arg-type]

    def set(self, key: str, value: Any, ttl: float) -> None:
        self.set_many([(key, value, ttl)])

    def delete(self, key: str) -> None:
        if self.fallback is not None:
            self.fallback.delete(key)
        self.connection.call(lambda r: r.delete(self._key(key)), lambda: 0)

    def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        if not keys:
            return {}
        raws = self.connection.call(lambda r: r.mget([self._key(k) for k in keys]), lambda: None)
        return self._found(keys, raws)

    def set_many(self, entries: Iterable[tuple[str, Any, float]]) -> None:
        entries = [(k, v, ttl) for k, v, ttl in entries if ttl > 0]
        if not entries:
            return

        def write(r: Any) -> None:
            pipe = r.pipeline(transaction=False)
            for key, value, ttl in entries:
                pipe.set(self._key(key), _dumps(value), px=max(1, int(ttl * 1000)))
            pipe.execute()

        self.connection.call(write, lambda: self._fallback_set(entries))

    async def aget_many(self, wire: AsyncWire, keys: Sequence[str]) -> dict[str, Any]:
        """:meth:`get_many` on the caller's event loop."""
        if not keys:
            return {}

        async def read(w: AsyncWire) -> list[Any]:
            (reply,) = await w.execute([("MGET", *(self._key(k) for k in keys))])
            if isinstance(reply, ReplyError):
                raise reply
            return reply

        return self._found(keys, await self.connection.acall(wire, read, lambda: None))

    async def aset_many(self, wire: AsyncWire, entries: Iterable[tuple[str, Any, float]]) -> None:
        """:meth:`set_many` on the caller's event loop: one write, one read of the replies."""
        entries = [(k, v, ttl) for k, v, ttl in entries if ttl > 0]
        if not entries:
            return

        async def write(w: AsyncWire) -> None:
            commands = [("SET", self._key(k), _dumps(v), "PX", max(1, int(ttl * 1000))) for k, v, ttl in entries]
            for reply in await w.execute(commands):
                if isinstance(reply, ReplyError):
                    raise reply

        await self.connection.acall(wire, write, lambda: self._fallback_set(entries))

    def _found(self, keys: Sequence[str], raws: list[Any] | None) -> dict[str, Any]:
        if raws is None:  # Redis skipped or failed
            return self.fallback.get_many(keys) if self.fallback is not None else {}
        found = {}
        for key, raw in zip(keys, raws, strict=True):
            value = _loads(raw)
            if value is not None:
                found[key] = value
        return found

    def _fallback_set(self, entries: list[tuple[str, Any, float]]) -> None:
        if self.fallback is not None:
            self.fallback.set_many(entries)


_caches: dict[tuple[Any, ...], Cache] = {}
_caches_lock = threading.Lock()


def new_cache(settings: Settings, namespace: str, *, memory_entries: int = 10_000) -> Cache:
    """A cache for ``namespace``: Redis-backed with an in-memory fallback when configured, else in memory."""
    memory = MemoryCache(memory_entries)
    return RedisCache(connection_for(settings), namespace, fallback=memory) if settings.redis_url else memory


def cache_for(settings: Settings, namespace: str, *, memory_entries: int = 10_000) -> Cache:
    """The process's cache for ``namespace`` (see :func:`new_cache`).

    One per process, not per caller: a scanner made for one API request must still find what
    the previous request cached in memory while Redis is unset or down.
    """
    key = (settings.redis_url, settings.redis_timeout, settings.redis_retry_interval, namespace)
    cache = _caches.get(key)
    if cache is None:
        with _caches_lock:
            cache = _caches.get(key)
            if cache is None:
                cache = _caches[key] = new_cache(settings, namespace, memory_entries=memory_entries)
    return cache


class AsyncCacheBatcher:
    """Lets async code use a cache without blocking the loop or paying a round trip per key.

    Reads made while one batch is on its way are sent together as the next MGET; writes are
    pipelined the same way and not awaited (a lost cache write costs nothing but a later miss).
    A :class:`RedisCache` is spoken to on the loop itself (:class:`shared.redis.connection.AsyncWire`);
    other remote caches run on the Redis threads. Create one per event loop; ``close()`` at the end.
    """

    def __init__(self, cache: Cache, *, max_batch: int = 512) -> None:
        self.cache = cache
        self.max_batch = max_batch
        # Two connections: a read (on the path of every DNS miss) never waits behind a batch of writes.
        self._read_wire = cache.connection.async_wire() if isinstance(cache, RedisCache) else None
        self._write_wire = cache.connection.async_wire() if isinstance(cache, RedisCache) else None
        self._reads: dict[str, list[asyncio.Future[Any]]] = {}
        self._writes: list[tuple[str, Any, float]] = []
        self._reading: asyncio.Task[None] | None = None
        self._writing: asyncio.Task[None] | None = None

    async def get(self, key: str) -> Any | None:
        if not self.cache.remote:
            return self.cache.get(key)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._reads.setdefault(key, []).append(future)
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._read_loop())
        return await future

    def set(self, key: str, value: Any, ttl: float) -> None:
        if not self.cache.remote:
            self.cache.set(key, value, ttl)
            return
        self._writes.append((key, value, ttl))
        if self._writing is None:
            self._writing = asyncio.ensure_future(self._write_loop())

    async def flush(self) -> None:
        """Wait for queued writes (call before the loop ends, or they are dropped)."""
        while self._writing is not None:
            await asyncio.shield(self._writing)

    async def close(self) -> None:
        await self.flush()
        for wire in (self._read_wire, self._write_wire):
            if wire is not None:
                await wire.close()

    async def _get_many(self, keys: list[str]) -> dict[str, Any]:
        if self._read_wire is not None:
            return await self.cache.aget_many(self._read_wire, keys)  # type: ignore[attr-defined]
        return await asyncio.get_running_loop().run_in_executor(executor(), self.cache.get_many, keys)

    async def _set_many(self, entries: list[tuple[str, Any, float]]) -> None:
        if self._write_wire is not None:
            await self.cache.aset_many(self._write_wire, entries)  # type: ignore[attr-defined]
        else:
            await asyncio.get_running_loop().run_in_executor(executor(), self.cache.set_many, entries)

    async def _read_loop(self) -> None:
        try:
            while self._reads:
                keys = list(self._reads)[: self.max_batch]
                waiters = {key: self._reads.pop(key) for key in keys}
                try:
                    found = await self._get_many(keys)
                except Exception:  # never expected (RedisCache falls back), but a read must not hang
                    found = {}
                for key, futures in waiters.items():
                    for future in futures:
                        if not future.done():
                            future.set_result(found.get(key))
        finally:
            self._reading = None

    async def _write_loop(self) -> None:
        try:
            while self._writes:
                batch, self._writes = self._writes[: self.max_batch], self._writes[self.max_batch :]
                try:
                    await self._set_many(batch)
                except Exception:
                    pass
        finally:
            self._writing = None
