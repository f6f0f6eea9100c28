"""A multiplexed asyncio DNS client built on dnspython's wire format.

Why not ``dns.asyncresolver``: it opens a fresh UDP socket (and asyncio endpoint) for every
query, which caps a scanner at a few thousand queries per second on two cores and makes every
domain wait on socket set-up. Hunter sends ~20 queries per domain and targets hundreds of
domains per second, so this client keeps a few long-lived UDP sockets per nameserver, tags
each query with a free 16-bit ID and completes the waiting future when the answer with that
ID arrives. Messages are encoded and decoded by :mod:`shared.dns.wire` (a fast codec for the
few record types the scanner reads, property-tested against dnspython); a truncated answer
is asked again over TCP.

On top of that it adds what a scanner needs and a stub resolver lacks:

* an answer cache honouring TTLs (with negative caching), plus *in-flight de-duplication*:
  500 domains including ``spf.protection.outlook.com`` at once cost one query, not 500;
  optionally backed by a shared cache (Redis) behind the in-process one, so other workers and
  later scans reuse answers; its reads and writes are batched off the event loop;
* a process-wide concurrency cap and an optional queries-per-second limit (or a limiter shared
  by every worker, see :class:`shared.redis.limits.AsyncLimiter`);
* per-call deadlines, so a domain's total lookup budget is enforced without losing the
  answers that did arrive;
* outcomes instead of exceptions: ``ok``, ``nodata``, ``nxdomain``, ``servfail``,
  ``timeout``, ``error`` — a bad domain is data, not a crash.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

import dns.resolver

from shared.dns import wire
from shared.redis.cache import AsyncCacheBatcher

if TYPE_CHECKING:
    from shared.redis.cache import Cache

MAX_CNAME_HOPS = 8
NEGATIVE_TTL = 300
MAX_CACHE_TTL = 3600
# The shared cache is read on every in-process miss, which puts a Redis round trip in front of the
# query. A bulk scan of new domains finds almost nothing there, so when a window of reads hit less
# than SHARED_MIN_HITS of the time, reads pause (writes go on, for the next scanner) and resume later.
SHARED_WINDOW = 2000
SHARED_MIN_HITS = 0.02
SHARED_PAUSE = 30.0


class Outcome(StrEnum):
    OK = "ok"
    NODATA = "nodata"  # the name exists but has no record of this type
    NXDOMAIN = "nxdomain"
    SERVFAIL = "servfail"
    TIMEOUT = "timeout"
    ERROR = "error"  # REFUSED, FORMERR, malformed answer, network error

    @property
    def is_failure(self) -> bool:
        """True when the answer says nothing about the name (we could not ask)."""
        return self in (Outcome.SERVFAIL, Outcome.TIMEOUT, Outcome.ERROR)


@dataclass(slots=True)
class Answer:
    """The records of one type at one name, after following CNAMEs."""

    name: str
    rdtype: str
    outcome: Outcome
    records: list = field(default_factory=list)  # str (A, AAAA, CNAME, NS, PTR, TXT) or wire.Mx
    cnames: list[str] = field(default_factory=list)  # the chain followed, target names
    ttl: int = 0
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    def texts(self) -> list[str]:
        """TXT records with their character-strings joined (RFC 7208 §3.3)."""
        return [r for r in self.records if isinstance(r, str)] if self.rdtype == "TXT" else []


def parse_nameserver(spec: str, default_port: int = 53) -> tuple[str, int]:
    """``"1.1.1.1"``, ``"127.0.0.1:5353"``, ``"::1"`` or ``"[::1]:53"`` → (host, port)."""
    spec = spec.strip()
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        return host, int(rest.lstrip(":") or default_port)
    if spec.count(":") == 1:
        host, port = spec.split(":")
        return host, int(port)
    return spec, default_port


ROTATE_AFTER = 2000  # queries per UDP socket before a new one (a new random source port) replaces it


class _Waiter:
    """One question waiting on a channel: the future the next datagram for its ID resolves, and the
    datagrams that arrived while the asker was still checking an earlier one (a forged or late answer
    and the real one can land in the same loop iteration; none may be dropped)."""

    __slots__ = ("backlog", "expired", "future")

    def __init__(self, future: asyncio.Future[bytes]) -> None:
        self.future = future
        self.backlog: list[bytes] = []
        self.expired = False


class _UdpChannel(asyncio.DatagramProtocol):
    """One connected UDP socket carrying many queries, matched to answers by message ID."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[int, _Waiter] = {}
        self.sent = 0  # queries sent: the socket (and so its source port) is replaced after ROTATE_AFTER
        self.forged = 0  # answers to a pending ID whose question did not match, ignored

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: object) -> None:
        if len(data) >= 12:
            waiter = self.pending.get(int.from_bytes(data[:2], "big"))
            if waiter is not None:
                if waiter.future.done():
                    if len(waiter.backlog) < 8:  # a flood for one ID is not buffered without bound
                        waiter.backlog.append(data)
                else:
                    waiter.future.set_result(data)

    def error_received(self, exc: Exception) -> None:  # ICMP unreachable and the like
        pass

    async def answer(
        self, qid: int, question: bytes, wait: float, sent: bytes, *, exact: bool = False
    ) -> tuple[wire.Response, bool]:
        """Wait up to ``wait`` seconds for the answer to the question sent with ``qid`` → (the
        response, whether it echoed the question's letter case exactly).

        ``question`` is the question section in lower case, ``sent`` as it was sent (the 0x20 draft's
        random letter case). A late answer to an earlier, timed-out question that used the same ID can
        arrive first, and so can a forged one; like any stub resolver we ignore an answer whose question
        is not ours and keep waiting. ``exact`` makes the question check case-exact, for servers known
        to echo the case. The question is compared as bytes: it is the message's first name, which is
        never compressed, and its length and type bytes are below the letters ``lower()`` changes.
        """
        loop = asyncio.get_running_loop()
        waiter = _Waiter(loop.create_future())
        self.pending[qid] = waiter
        timer = loop.call_later(wait, self._expire, waiter)
        end = 12 + len(question)
        try:
            while True:
                data = waiter.backlog.pop(0) if waiter.backlog else await waiter.future
                response = wire.parse_response(data)
                asked = data[12:end]
                if response.flags & wire.FLAG_QR and data[4:6] == b"\x00\x01" and asked.lower() == question:
                    if not exact or asked == sent:
                        return response, asked == sent
                self.forged += 1
                if waiter.expired:
                    raise TimeoutError
                if not waiter.backlog:
                    waiter.future = loop.create_future()
        finally:
            timer.cancel()
            if self.pending.get(qid) is waiter:
                del self.pending[qid]

    @staticmethod
    def _expire(waiter: _Waiter) -> None:
        waiter.expired = True  # checked before waiting again, when a datagram is being read right now
        if not waiter.future.done():
            waiter.future.set_exception(TimeoutError())

    def free_id(self) -> int:
        """An unpredictable free message ID (the operating system's random bytes, not ``random``: IDs
        are half of what an off-path forger must guess; the source port, rotated, and the 0x20 case
        are the rest)."""
        while True:
            qid = int.from_bytes(_RANDOM.take(2), "big")
            if qid not in self.pending:
                return qid


class _RandomPool:
    """``os.urandom`` read 4 KB at a time: a query's ID and case bits cost a slice, not a system call
    each. Emptied in a forked child, so that two processes never share the bytes."""

    __slots__ = ("_buffer", "_position")

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self._buffer = b""
        self._position = 0

    def take(self, size: int) -> bytes:
        position = self._position
        if position + size > len(self._buffer):
            self._buffer = os.urandom(max(4096, size))
            position = 0
        self._position = position + size
        return self._buffer[position : position + size]


_RANDOM = _RandomPool()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_RANDOM.clear)
# Byte -> the bit that changes its letter case: 0x20 for a-z, 0 for everything else (length bytes,
# digits, "-", "_", the type and class).
_CASE_BITS = bytes(0x20 if 0x61 <= i <= 0x7A else 0 for i in range(256))


def with_random_case(question: bytes) -> bytes:
    """A lower-case ``question`` (see :func:`wire.question`) with each letter's case chosen at random
    (the "0x20" defence): a forged answer must also guess the case pattern, which a server that
    echoes the question gives back exactly."""
    size = len(question)
    flips = int.from_bytes(question.translate(_CASE_BITS), "big") & int.from_bytes(_RANDOM.take(size), "big")
    return (int.from_bytes(question, "big") ^ flips).to_bytes(size, "big")


class _Slots:
    """A counting semaphore for the queries in flight. asyncio.Semaphore's ``acquire`` calls ``locked()``,
    which walks every waiter on each call; here a free slot costs one comparison, and a released slot
    is handed to the longest waiter."""

    __slots__ = ("free", "waiters")

    def __init__(self, size: int) -> None:
        self.free = size
        self.waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        if self.free > 0 and not self.waiters:
            self.free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot, but cancelled before it could use it: pass it on
            raise

    def release(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():  # skips waiters cancelled while waiting
                waiter.set_result(None)  # the slot goes to it directly; ``free`` stays as it is
                return
        self.free += 1


class Limiter(Protocol):
    async def acquire(self) -> Any: ...


class _RateLimiter:
    """Smooth queries-per-second limit (GCRA) with a one-second burst."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.burst = max(1.0, rate) * self.interval
        self.next_at = 0.0

    async def acquire(self) -> None:
        now = time.monotonic()
        at = max(self.next_at, now - self.burst)
        self.next_at = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)


class DnsClient:
    """Ask DNS questions concurrently. Create inside a running loop; ``await close()`` at the end."""

    def __init__(
        self,
        nameservers: list[str] | None = None,
        *,
        timeout: float = 2.0,
        attempts: int = 2,
        concurrency: int = 1024,
        qps: float = 0,
        cache_size: int = 100_000,
        sockets_per_server: int = 2,
        max_ttl: int = MAX_CACHE_TTL,
        limiter: Limiter | None = None,
        shared_cache: Cache | None = None,
    ) -> None:
        """``limiter`` replaces the in-process ``qps`` limit; ``shared_cache`` is asked on an in-process miss
        and given every fresh answer; ``max_ttl`` caps how long any answer is cached."""
        if not nameservers:
            nameservers = list(dns.resolver.Resolver().nameservers)
        self.servers = [parse_nameserver(s) for s in nameservers]
        self.timeout = timeout
        self.attempts = attempts
        self._semaphore = _Slots(concurrency)
        self._limiter: Limiter | None = limiter or (_RateLimiter(qps) if qps > 0 else None)
        self._cache: OrderedDict[tuple[str, int], tuple[float, Answer]] = OrderedDict()
        self._cache_size = cache_size
        self.max_ttl = max_ttl
        self._shared = AsyncCacheBatcher(shared_cache) if shared_cache is not None and max_ttl > 0 else None
        self._shared_reads = self._shared_hits = 0  # in the current window
        self._shared_paused_until = 0.0
        self._inflight: dict[tuple[str, int], asyncio.Future[Answer] | None] = {}
        self._sockets_per_server = sockets_per_server
        self._channels: dict[tuple[str, int], list[_UdpChannel]] = {}
        self._channel_lock = asyncio.Lock()
        # Whether each server echoes the question's letter case (None: not known yet). Only servers
        # seen to echo it get the case-exact check; one that lower-cases names is asked as before.
        self._keeps_case: dict[tuple[str, int], bool | None] = {}
        self._case_misses: dict[tuple[str, int], int] = {}
        self.stats = {
            "queries": 0,
            "cache_hits": 0,
            "shared_hits": 0,
            "shared_pauses": 0,
            "timeouts": 0,
            "tcp": 0,
            "rotations": 0,
        }

    async def close(self) -> None:
        """Closes the sockets, flushes shared-cache writes and closes a limiter given to this client."""
        if self._shared is not None:
            await self._shared.close()
        close_limiter = getattr(self._limiter, "close", None)
        if close_limiter is not None:
            await close_limiter()
        for channels in self._channels.values():
            for channel in channels:
                if channel.transport is not None:
                    channel.transport.close()
        self._channels.clear()

    async def __aenter__(self) -> DnsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- public API ---------------------------------------------------------------------

    async def query(self, name: str, rdtype: str, *, deadline: float | None = None) -> Answer:
        """Return the ``rdtype`` records at ``name``, following CNAMEs; never raises for DNS errors.

        ``deadline`` is a ``time.monotonic()`` instant after which the lookup gives up as a timeout.
        """
        qtype = wire.TYPES[rdtype]
        answer = await self._cached_query(name.lower().rstrip("."), qtype, deadline)
        hops = 0
        chain: list[str] = []
        # The server normally returns the whole chain; ask again only when it stopped halfway.
        while answer.outcome is Outcome.NODATA and answer.cnames and hops < MAX_CNAME_HOPS and qtype != wire.CNAME:
            chain.extend(answer.cnames)
            answer = await self._cached_query(answer.cnames[-1], qtype, deadline)
            hops += 1
        if chain:
            answer = Answer(
                name, rdtype, answer.outcome, answer.records, chain + answer.cnames, answer.ttl, answer.detail
            )
        return answer

    def cached(self, name: str, rdtype: str) -> Answer | None:
        """The answer :meth:`query` would give from the in-process cache right now, or None (not cached,
        expired, or a CNAME chain that needs another question). Lets a caller skip a task per lookup."""
        key = (name.lower().rstrip("."), wire.TYPES[rdtype])
        hit = self._cache.get(key)
        if hit is None or hit[0] <= time.monotonic():
            return None
        answer = hit[1]
        if answer.outcome is Outcome.NODATA and answer.cnames and key[1] != wire.CNAME:
            return None
        self.stats["cache_hits"] += 1
        return answer

    # -- cache and de-duplication -------------------------------------------------------

    async def _cached_query(self, name: str, qtype: int, deadline: float | None) -> Answer:
        key = (name, qtype)
        hit = self._cache.get(key)
        if hit is not None:
            if hit[0] > time.monotonic():
                self.stats["cache_hits"] += 1
                return hit[1]
            del self._cache[key]
        if key in self._inflight:  # asked already and not answered yet: wait for that answer
            self.stats["cache_hits"] += 1
            pending = self._inflight[key]
            if pending is None:
                pending = self._inflight[key] = asyncio.get_running_loop().create_future()
            return await asyncio.shield(pending)
        self._inflight[key] = None  # the future is made only when a second asker comes (most never do)
        shared: tuple[Answer, float] | None = None
        try:
            if self._shared is not None and self._shared_paused_until <= time.monotonic():
                shared = _decode(name, qtype, await self._shared.get(f"{qtype}:{name}"))
                self._count_shared_read(shared is not None)
            answer = shared[0] if shared is not None else await self._resolve(name, qtype, deadline)
        except BaseException as exc:
            future = self._inflight.pop(key, None)
            if future is not None and not future.done():
                future.set_result(Answer(name, wire.TYPE_NAMES[qtype], Outcome.TIMEOUT, detail=repr(exc)))
            raise
        future = self._inflight.pop(key, None)
        if future is not None and not future.done():
            future.set_result(answer)
        if answer.outcome.is_failure:
            return answer
        if shared is not None:
            self.stats["shared_hits"] += 1
            ttl = shared[1] - time.time()  # what is left of the life it was given
        else:
            ttl = min(answer.ttl if answer.ok else NEGATIVE_TTL, self.max_ttl)
            if self._shared is not None and ttl > 0 and (value := _encode(answer, time.time() + ttl)) is not None:
                self._shared.set(f"{qtype}:{name}", value, ttl)
        if self._cache_size and ttl > 0:
            self._cache[key] = (time.monotonic() + ttl, answer)
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return answer

    def _count_shared_read(self, hit: bool) -> None:
        self._shared_reads += 1
        self._shared_hits += hit
        if self._shared_reads >= SHARED_WINDOW:
            if self._shared_hits < SHARED_MIN_HITS * self._shared_reads:
                self._shared_paused_until = time.monotonic() + SHARED_PAUSE
                self.stats["shared_pauses"] += 1
            self._shared_reads = self._shared_hits = 0

    # -- the wire -----------------------------------------------------------------------

    async def _channel(self, server: tuple[str, int]) -> _UdpChannel:
        channels = self._channels.get(server)
        if channels is None:
            async with self._channel_lock:
                channels = self._channels.get(server)
                if channels is None:
                    channels = [await self._open_channel(server) for _ in range(self._sockets_per_server)]
                    self._channels[server] = channels
        return random.choice(channels)

    @staticmethod
    async def _open_channel(server: tuple[str, int]) -> _UdpChannel:
        family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.setblocking(False)
        sock.connect(server)
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_datagram_endpoint(_UdpChannel, sock=sock)
        return protocol

    async def _rotate(self, server: tuple[str, int], old: _UdpChannel) -> _UdpChannel:
        """Replace a socket that has carried ``ROTATE_AFTER`` queries with a fresh one (a new source
        port); the old one stays open for its answers in flight, then closes."""
        fresh = await self._open_channel(server)
        channels = self._channels.get(server, [])
        if old in channels:
            channels[channels.index(old)] = fresh
            self.stats["rotations"] += 1
            transport = old.transport
            if transport is not None:
                asyncio.get_running_loop().call_later(self.timeout + 1.0, transport.close)
            return fresh
        fresh.transport.close()  # type: ignore[union-attr]  # another query rotated it first
        return random.choice(channels) if channels else await self._channel(server)

    def _learn_case(self, server: tuple[str, int], echoed: bool) -> None:
        """A server that echoed our case once keeps the case-exact check for good; one that answered
        three times without it is asked without it (some resolvers lower-case every name)."""
        if echoed:
            self._keeps_case[server] = True
        elif self._keeps_case.get(server) is None:
            misses = self._case_misses.get(server, 0) + 1
            self._case_misses[server] = misses
            if misses >= 3:
                self._keeps_case[server] = False

    async def _resolve(self, name: str, qtype: int, deadline: float | None) -> Answer:
        rdtype = wire.TYPE_NAMES[qtype]
        try:
            question = wire.question(name, qtype)  # encoded once: checked here, sent by _ask
        except (wire.WireError, UnicodeError) as exc:
            return Answer(name, rdtype, Outcome.ERROR, detail=f"not a valid DNS name ({exc})")
        slots = self._semaphore
        if slots.free > 0 and not slots.waiters:  # the usual case, without a coroutine for acquire()
            slots.free -= 1
        else:
            await slots.acquire()
        try:
            if self._limiter is not None:
                await self._limiter.acquire()
            return await self._ask(name, question, qtype, rdtype, deadline)
        finally:
            self._semaphore.release()

    async def _ask(self, name: str, question: bytes, qtype: int, rdtype: str, deadline: float | None) -> Answer:
        for attempt in range(self.attempts):
            server = self.servers[attempt % len(self.servers)]
            wait = self.timeout
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    break
            channels = self._channels.get(server)
            channel = random.choice(channels) if channels else await self._channel(server)
            if channel.sent >= ROTATE_AFTER:
                channel = await self._rotate(server, channel)
            qid = channel.free_id()
            self.stats["queries"] += 1
            channel.sent += 1
            keeps_case = self._keeps_case.get(server)
            sent = with_random_case(question)
            assert channel.transport is not None
            channel.transport.sendto(wire.query_for(qid, sent))
            try:
                response, echoed = await channel.answer(qid, question, wait, sent, exact=bool(keeps_case))
            except TimeoutError:
                continue
            except wire.WireError as exc:
                return Answer(name, rdtype, Outcome.ERROR, detail=f"malformed answer: {exc}")
            if sent != question:  # only a mixed-case question can show whether the server echoes the case
                self._learn_case(server, echoed)
            if response.truncated:
                self.stats["tcp"] += 1
                try:
                    response = await _tcp_query(server, wire.query_for(qid, sent), wait)
                except (wire.WireError, OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
                    return Answer(name, rdtype, Outcome.ERROR, detail=f"TCP retry failed: {type(exc).__name__}")
                if response.id != qid or response.qname != name or response.qtype != qtype:
                    return Answer(name, rdtype, Outcome.ERROR, detail="TCP answer to another question")
            return _to_answer(name, qtype, response)
        self.stats["timeouts"] += 1
        return Answer(name, rdtype, Outcome.TIMEOUT, detail="no answer from the nameserver in time")


async def _tcp_query(server: tuple[str, int], query: bytes, timeout: float) -> wire.Response:
    """RFC 7766: the same question over TCP, two-byte length prefix each way."""
    async with asyncio.timeout(max(timeout, 0.1)):
        reader, writer = await asyncio.open_connection(*server)
        try:
            writer.write(len(query).to_bytes(2, "big") + query)
            await writer.drain()
            size = int.from_bytes(await reader.readexactly(2), "big")
            return wire.parse_response(await reader.readexactly(size))
        finally:
            writer.close()


def _to_answer(name: str, qtype: int, response: wire.Response) -> Answer:
    rdtype = wire.TYPE_NAMES[qtype]
    rcode = response.rcode
    cnames, owner = _chain(name, response)
    if rcode == wire.NXDOMAIN:
        # A CNAME may point into a name that does not exist: still NXDOMAIN for our purpose.
        return Answer(name, rdtype, Outcome.NXDOMAIN, cnames=cnames, ttl=NEGATIVE_TTL)
    if rcode == wire.SERVFAIL:
        return Answer(name, rdtype, Outcome.SERVFAIL, detail="SERVFAIL")
    if rcode != wire.NOERROR:
        return Answer(name, rdtype, Outcome.ERROR, detail=wire.RCODE_NAMES.get(rcode, f"rcode {rcode}"))
    if qtype == wire.CNAME:
        owner = name
    records = [r for r in response.answers if r.rdtype == qtype and r.owner == owner]
    if not records:
        return Answer(name, rdtype, Outcome.NODATA, cnames=cnames, ttl=NEGATIVE_TTL)
    return Answer(name, rdtype, Outcome.OK, [r.value for r in records], cnames, min(r.ttl for r in records))


def _encode(answer: Answer, expires_at: float) -> list | None:
    """An answer as JSON for the shared cache, with its wall-clock expiry; None when it holds a record
    type we do not carry across (raw bytes)."""
    records: list = []
    for record in answer.records:
        if isinstance(record, str):
            records.append(record)
        elif isinstance(record, wire.Mx):
            records.append([record.preference, record.exchange])
        else:
            return None
    return [answer.outcome.value, records, answer.cnames, answer.ttl, answer.detail, round(expires_at, 3)]


def _decode(name: str, qtype: int, value: Any) -> tuple[Answer, float] | None:
    """The inverse of :func:`_encode`; anything unexpected (another version's format) is a miss."""
    if value is None:
        return None
    try:
        outcome, records, cnames, ttl, detail, expires_at = value
        answer = Answer(
            name,
            wire.TYPE_NAMES[qtype],
            Outcome(outcome),
            [r if isinstance(r, str) else wire.Mx(int(r[0]), str(r[1])) for r in records],
            [str(c) for c in cnames],
            int(ttl),
            detail,
        )
        return answer, float(expires_at)
    except (TypeError, ValueError, KeyError, IndexError):
        return None


def _chain(name: str, response: wire.Response) -> tuple[list[str], str]:
    """Follow CNAMEs in the answer section from ``name``; return the targets and final owner."""
    by_owner = {r.owner: r.value for r in response.answers if r.rdtype == wire.CNAME}
    owner = name
    targets: list[str] = []
    while owner in by_owner and len(targets) < MAX_CNAME_HOPS:
        owner = str(by_owner[owner])
        targets.append(owner)
    return targets, owner
