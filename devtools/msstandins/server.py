"""HTTPS plumbing shared by the stand-ins: a threaded TLS server, request/response values,
and the throttling bookkeeping the resource stand-ins use.

Each stand-in is a plain callable ``Request -> Response``; :class:`HTTPSServer` serves one on
a free loopback port. The server speaks HTTP/1.1 with keep-alive (httpx and requests reuse
connections, which is what keeps a few hundred requests a second cheap) and does the TLS
handshake in the per-connection thread, so a stalled client never blocks ``accept``.
"""

from __future__ import annotations

import json
import logging
import math
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

log = logging.getLogger(__name__)


class Headers(dict[str, str]):
    """Request headers keyed by lower-case name."""

    def get_first(self, name: str, default: str | None = None) -> str | None:
        return self.get(name.lower(), default)


@dataclass
class Request:
    """One parsed HTTP request, as the stand-ins see it."""

    method: str
    path: str  # percent-decoded path, no query
    raw_path: str  # path as sent, still percent-encoded
    query: dict[str, str]  # decoded; the first value wins for repeated names
    headers: Headers
    body: bytes = b""
    client: tuple[str, int] = ("127.0.0.1", 0)
    raw_query: str = ""
    received_at: float = field(default_factory=time.monotonic)  # when the request had been read

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get_first(name, default)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None

    def form(self) -> dict[str, str]:
        """``application/x-www-form-urlencoded`` body (what OAuth 2.0 token requests use)."""
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))

    def bearer(self) -> str | None:
        value = self.header("authorization") or ""
        scheme, _, token = value.partition(" ")
        return token.strip() or None if scheme.lower() == "bearer" else None


@dataclass
class Response:
    """What a stand-in answers; ``body`` is sent as is with a Content-Length."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    on_sent: Callable[[], None] | None = None  # called once the answer has been written

    @classmethod
    def json(
        cls,
        status: int,
        payload: Any,
        headers: Mapping[str, str] | None = None,
        content_type: str = "application/json; charset=utf-8",
    ) -> Response:
        merged = {"Content-Type": content_type, **(headers or {})}
        return cls(status, json.dumps(payload).encode("utf-8"), merged)

    @classmethod
    def empty(cls, status: int, headers: Mapping[str, str] | None = None) -> Response:
        return cls(status, b"", dict(headers or {}))


App = Callable[[Request], Response]


def parse_target(target: str) -> tuple[str, str, dict[str, str], str]:
    """Split a request target into (decoded path, raw path, decoded query, raw query)."""
    parts = urlsplit(target)
    query: dict[str, str] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        query.setdefault(name, value)
    return unquote(parts.path), parts.path, query, parts.query


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "msstandins/1"
    sys_version = ""
    timeout = 30  # idle keep-alive connections end on their own
    wbufsize = 64 * 1024  # headers and body leave in one write (no Nagle/delayed-ACK stall per response)

    server: _TLSServer

    def _serve(self) -> None:
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self._send(Response.json(411, {"error": {"code": "", "message": "Content-Length required"}}))
            self.close_connection = True
            return
        body = self.rfile.read(int(length)) if length else b""
        received_at = time.monotonic()
        path, raw_path, query, raw_query = parse_target(self.path)
        headers = Headers({name.lower(): value for name, value in self.headers.items()})
        request = Request(
            self.command, path, raw_path, query, headers, body, self.client_address, raw_query, received_at
        )
        try:
            response = self.server.app(request)
        except Exception:  # a stand-in bug must show up as a 500, like a real service's would
            log.exception("stand-in %s failed on %s %s", self.server.name, self.command, self.path)
            response = Response.json(500, {"error": {"code": "InternalServerError", "message": "stand-in error"}})
        self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.body and self.command != "HEAD":
            self.wfile.write(response.body)
        self.wfile.flush()
        if response.on_sent is not None:
            response.on_sent()

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.server.name, format % args)


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: App, context: ssl.SSLContext, name: str) -> None:
        self.app = app
        self.ssl_context = context
        self.name = name
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(10)
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log.debug("%s: TLS handshake failed: %s", self.name, exc)
            return
        try:
            tls.settimeout(_Handler.timeout)
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("%s: connection from %s ended with an error", self.name, client_address, exc_info=True)


class HTTPSServer:
    """Serves one stand-in app over TLS on a loopback port, in a background thread."""

    def __init__(
        self, app: App, context: ssl.SSLContext, *, host: str = "127.0.0.1", port: int = 0, name: str = ""
    ) -> None:
        self._server = _TLSServer((host, port), app, context, name or type(app).__name__)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. ``https://127.0.0.1:43123`` (no trailing slash)."""
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> HTTPSServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() returns within ~50 ms
            name=f"msstandin-{self._server.name}",
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> HTTPSServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port() -> int:
    """A loopback port that was free a moment ago (for callers that need one before starting)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Throttle:
    """A decision that a request gets a 429: how long the caller must wait, and why."""

    retry_after: int
    reason: str = "requests"  # which service protection limit; see the stand-in for codes
    on_sent: Callable[[], None] | None = None  # set by RetryAfterGate when this 429 opens a window


@dataclass
class _Window:
    decided_at: float
    ends_at: float
    retry_after: int
    sent_at: float | None = None  # when the 429 that opened it had been written to the socket


class RetryAfterGate:
    """Per-caller throttling state: injected 429s, the Retry-After windows they open, and
    the requests that arrive inside an open window.

    Dataverse documents that after a service protection error "a service protection API
    limit error will be returned on subsequent requests ... until the Retry-After duration
    has ended", evaluated per user. A well-behaved client therefore sends nothing for that
    caller until the window closes; a request that does arrive inside it is answered 429
    again and counted. Two counts are kept:

    * ``in_window`` -- every request that arrived while the caller's window was open;
    * ``violations`` -- requests that arrived at least ``grace`` seconds after the 429 that
      opened the window had been written to the client, and before the window ended. The
      grace covers requests a parallel client already had on the wire when the 429 reached
      it; timing from the moment the answer was written (and the request was read), not
      from when the stand-in decided, keeps a loaded machine from inventing violations.
      Benchmarks assert ``violations == 0``.

    Arrival times are ``Request.received_at`` (``time.monotonic``), so keep the default clock
    when passing them.
    """

    def __init__(self, *, seed: int = 1234, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._clock = clock
        self._windows: dict[str, _Window] = {}
        self._forced: list[Throttle] = []
        self.rate = 0.0  # share of requests answered 429 (0.05 = 5 %)
        self.retry_after = 1  # seconds, for injected 429s
        self.grace = 0.2  # seconds after a 429 was sent during which arrivals are not violations
        self.reason = "requests"
        self.throttled = 0
        self.in_window = 0
        self.violations = 0

    def force(self, count: int = 1, retry_after: int | None = None, reason: str | None = None) -> None:
        """Answer the next ``count`` requests (from any caller) with 429."""
        with self._lock:
            for _ in range(count):
                self._forced.append(Throttle(retry_after or self.retry_after, reason or self.reason))

    def check(
        self, caller: str, extra: Throttle | None = None, delay: float = 0.0, arrived_at: float | None = None
    ) -> Throttle | None:
        """Decide whether a request that arrived at ``arrived_at`` is throttled; opens a window when it is.

        ``extra`` is a throttle the service decided on by itself (e.g. too many concurrent
        requests); ``delay`` is how long the service will take to send the answer. The caller
        must send the returned throttle's answer with ``Response.on_sent = throttle.on_sent``.
        """
        now = self._clock()
        arrival = now if arrived_at is None else arrived_at
        with self._lock:
            window = self._windows.get(caller)
            if window is not None and arrival < window.ends_at:
                self.in_window += 1
                if window.sent_at is not None and arrival >= window.sent_at + self.grace:
                    self.violations += 1
                self.throttled += 1
                return Throttle(max(1, math.ceil(window.ends_at - now - delay)), self.reason)
            decision = extra
            if decision is None and self._forced:
                decision = self._forced.pop(0)
            elif decision is None and self.rate > 0 and self._rng.random() < self.rate:
                decision = Throttle(self.retry_after, self.reason)
            if decision is None:
                return None
            self.throttled += 1
            opened = _Window(now, now + delay + decision.retry_after, decision.retry_after)
            self._windows[caller] = opened
            return Throttle(decision.retry_after, decision.reason, lambda: self._sent(opened))

    def _sent(self, window: _Window) -> None:
        """The opening 429 is on its way: the grace starts now, and Retry-After counts from here."""
        sent = self._clock()
        with self._lock:
            window.sent_at = sent
            window.ends_at = max(window.ends_at, sent + window.retry_after)

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
            self._forced.clear()
            self.throttled = self.in_window = self.violations = 0


class FailurePlan:
    """Injected non-throttling failures (e.g. 503) by rate or for the next N requests."""

    def __init__(self, *, seed: int = 4321) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._forced: list[int] = []
        self.rate = 0.0
        self.status = 503
        self.failed = 0

    def force(self, count: int = 1, status: int | None = None) -> None:
        with self._lock:
            self._forced.extend([status or self.status] * count)

    def check(self) -> int | None:
        with self._lock:
            status: int | None = None
            if self._forced:
                status = self._forced.pop(0)
            elif self.rate > 0 and self._rng.random() < self.rate:
                status = self.status
            if status is not None:
                self.failed += 1
            return status

    def reset(self) -> None:
        with self._lock:
            self._forced.clear()
            self.failed = 0
