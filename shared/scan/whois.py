"""Registration data (registrar, created, expires) through python-whois.

python-whois does the hard part — knowing each registry's answer format. The query itself is
done here when a server is configured (``HUNTER_WHOIS_SERVER``, e.g. a stand-in on loopback),
because the library always dials port 43 of the registry's own server. Every failure is
reported in ``WhoisInfo.error``; a WHOIS problem never fails a scan.
"""

from __future__ import annotations

import asyncio
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from shared.core.models import WhoisInfo
from shared.dns.client import parse_nameserver
from shared.redis.cache import AsyncCacheBatcher

if TYPE_CHECKING:
    from shared.redis.cache import Cache
    from shared.redis.limits import AsyncLimiter


def _first(value: object) -> object:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _as_datetime(value: object) -> datetime | None:
    value = _first(value)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


# .tr answers (TRABIS) name the registrar in a section python-whois does not read.
_TR_REGISTRAR = re.compile(r"\*\* Registrar:.*?Organization Name\s*:\s*(.+)", re.DOTALL)


def parse_whois_text(domain: str, text: str) -> WhoisInfo:
    from whois.parser import WhoisEntry  # heavy import, only when WHOIS is used

    entry = WhoisEntry.load(domain, text)
    registrar = _first(entry.get("registrar"))
    if not registrar and (match := _TR_REGISTRAR.search(text)):
        registrar = match.group(1).splitlines()[0]
    info = WhoisInfo(
        registrar=str(registrar).strip() if registrar else None,
        created=_as_datetime(entry.get("creation_date")),
        expires=_as_datetime(entry.get("expiration_date")),
    )
    if not (info.registrar or info.created or info.expires):
        info.error = "no registration data in the WHOIS answer"
    return info


async def _ask_server(server: str, domain: str, timeout: float) -> str:
    host, port = parse_nameserver(server, default_port=43)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(f"{domain}\r\n".encode())
        await writer.drain()
        return (await reader.read(1 << 20)).decode("utf-8", "replace")
    finally:
        writer.close()


def _library_lookup(domain: str, timeout: float) -> str:
    from whois import NICClient

    return NICClient().whois_lookup(None, domain, 0, quiet=True, timeout=int(max(1, timeout))) or ""


WHOIS_THREADS = 4  # python-whois blocks a thread per lookup; a stuck server holds one of these, no more
_slots = threading.BoundedSemaphore(WHOIS_THREADS)
_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


class WhoisBusy(RuntimeError):
    """Every WHOIS thread is still waiting on a server: the lookup is skipped, not queued."""


def _whois_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        with _executor_lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(max_workers=WHOIS_THREADS, thread_name_prefix="hunter-whois")
    return _executor


async def _library_lookup_bounded(domain: str, timeout: float) -> str:
    """python-whois on WHOIS's own few threads, never the event loop's default pool.

    A thread stuck on a server that trickles bytes cannot be stopped; it keeps its slot until the
    socket gives up, and while every slot is taken lookups are skipped at once. The default pool —
    where lease renewal, queue and store calls run — is never touched, so a bad WHOIS day cannot
    make leases lapse and batches be redelivered."""
    if not _slots.acquire(blocking=False):
        raise WhoisBusy(f"all {WHOIS_THREADS} WHOIS threads are waiting on servers")

    def run() -> str:
        try:
            return _library_lookup(domain, timeout)
        finally:
            _slots.release()

    try:
        return await asyncio.get_running_loop().run_in_executor(_whois_executor(), run)
    except RuntimeError:  # the executor refused the job (interpreter shutting down): give the slot back
        _slots.release()
        raise


async def lookup(domain: str, *, server: str | None, timeout: float) -> WhoisInfo:
    """Ask WHOIS about ``domain``; never raises."""
    try:
        async with asyncio.timeout(timeout):
            if server:
                text = await _ask_server(server, domain, timeout)
            else:
                text = await _library_lookup_bounded(domain, timeout)
        if not text.strip():
            return WhoisInfo(error="empty WHOIS answer")
        return parse_whois_text(domain, text)
    except TimeoutError:
        return WhoisInfo(error=f"WHOIS did not answer within {timeout:g}s")
    except WhoisBusy as exc:
        return WhoisInfo(error=f"WHOIS skipped: {exc}")
    except Exception as exc:  # network errors, parser surprises
        return WhoisInfo(error=f"{type(exc).__name__}: {exc}"[:300])


class WhoisClient:
    """WHOIS with a shared answer cache and a shared queries-per-second limit.

    Registries throttle or ban clients that ask too fast, and registration data changes rarely:
    an answer is kept ``cache_ttl`` seconds (only answers that found something), and every
    process asks through one bucket of ``whois_qps``. A lookup waits at most ``timeout`` for its
    turn, so a busy bucket costs a scan its WHOIS data, not its time budget.
    """

    def __init__(
        self,
        *,
        server: str | None,
        timeout: float,
        cache: Cache | None = None,
        cache_ttl: float = 0,
        limiter: AsyncLimiter | None = None,
    ) -> None:
        self.server = server
        self.timeout = timeout
        self.limiter = limiter
        self.cache_ttl = cache_ttl
        self._cache = AsyncCacheBatcher(cache) if cache is not None and cache_ttl > 0 else None
        self.stats = {"lookups": 0, "cache_hits": 0, "rate_limited": 0}

    async def lookup(self, domain: str) -> WhoisInfo:
        """Like :func:`lookup`; never raises."""
        key = f"{self.server or ''}|{domain}"  # a stand-in server answers differently from the registry
        if self._cache is not None:
            cached = await self._cache.get(key)
            if cached is not None:
                try:
                    info = WhoisInfo.model_validate(cached)
                except ValueError:
                    pass
                else:
                    self.stats["cache_hits"] += 1
                    return info
        if self.limiter is not None and not await self.limiter.acquire(max_wait=self.timeout):
            self.stats["rate_limited"] += 1
            rate = self.limiter.rate
            return WhoisInfo(error=f"WHOIS skipped: the {rate:g}/s limit left no turn within {self.timeout:g}s")
        self.stats["lookups"] += 1
        info = await lookup(domain, server=self.server, timeout=self.timeout)
        if self._cache is not None and (info.registrar or info.created or info.expires):
            self._cache.set(key, info.model_dump(mode="json"), self.cache_ttl)
        return info

    async def close(self) -> None:
        if self._cache is not None:
            await self._cache.close()
        if self.limiter is not None:
            await self.limiter.close()
