"""``hunter serve``: the functions-framework app (Flask, WSGI) behind an asyncio HTTP front, on one port.

Process model: gunicorn's arbiter runs one process per core (at least two, ``--workers``) and
restarts any that dies; in each, uvicorn's event loop (uvloop, h11) owns every connection and
hands the WSGI app a request only once its head and body are complete. A client that sends half
a request costs a socket and a timer, never a process, so slow or stalled clients cannot starve
the others (with gunicorn's sync workers, six half-sent headers held both processes forever).

Limits (:class:`ServeLimits`, set from ``hunter serve``'s options): the request line and headers
must arrive within ``header_timeout`` (408, or a plain close when nothing came), a body may pause
for at most ``read_timeout`` (408), an idle keep-alive connection is closed after ``keepalive``;
request line over 8190 bytes: 414; more than 100 header fields, a field over 8190 bytes or a head
over 64 KB: 431. Bodies: ``Content-Length`` over the route's cap (:mod:`shared.http.limits`) is
answered 413 before a byte of the body is read, a chunked body is read to the cap plus one byte
and answered 413; a request with a missing, wrong or under-scoped API key is answered before its
body is read (:func:`shared.local.entry.early_answer`). A connection answered before its body was
read is half-closed and the rest of the body dropped for at most two seconds (so the client reads
the answer instead of a reset), then closed. A client that leaves an answer unread for
``read_timeout`` (an export it stopped reading) is cut off.

The WSGI app runs on the event loop's own thread by default (``--threads 1``): one request at a
time per process, as gunicorn's sync worker did (threads in one process queue behind one GIL; the
README's API figures). A process busy with a request is not polling, so new connections go to an
idle one. Connections are kept alive, and a kept-alive client is not tied to a busy process: when
two or more requests wait behind the current one while another process is idle (each process
publishes one byte, in memory shared by all), the answer says ``Connection: close`` and the
client's next request goes through the kernel's accept queue to the idle process. ``--threads N``
runs the app on N threads per process, for deployments with many slow requests (large exports,
synchronous scans).
"""

from __future__ import annotations

import asyncio
import io
import multiprocessing
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import gunicorn.app.base
import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn_worker import UvicornWorker

from shared.http.types import ProblemError

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own setting (shared.metrics reads it)
WORKER_TIMEOUT = 600  # s, host.json's functionTimeout: a process whose loop is stuck this long is replaced
LINGER_SECONDS = 2.0  # after an answer to an unread body: how long the rest is read and dropped
LINGER_BYTES = 64 * 1024 * 1024  # ... and at most how much of it


@dataclass(frozen=True)
class ServeLimits:
    header_timeout: float = 10.0  # s for the request line and headers, from the first byte (or the connect)
    read_timeout: float = 30.0  # s a request body may pause, or a client leave an answer unread (408 / cut off)
    keepalive: int = 5  # s an idle keep-alive connection is kept
    max_request_line: int = 8190  # bytes (414)
    max_header_fields: int = 100  # (431)
    max_header_field: int = 8190  # bytes of one field, name and value (431)
    max_head: int = 64 * 1024  # bytes of the request line and every header together (431)
    max_connections: int = 1000  # per process; a request on a connection beyond it is answered 503


SLOTS = 64  # server processes that can tell each other they are idle (--workers is at most 64)


class _Process:
    """What a server process knows of the others: which are idle, in memory they all share."""

    def __init__(self) -> None:
        self.requests: set[Any] = set()  # uvicorn's own set of this process's requests in progress, once serving
        self.idle: Any = None  # multiprocessing.RawArray of SLOTS flags, made by serve() before the fork
        self.slot = 0

    def start(self, age: int) -> None:
        self.slot = age % SLOTS
        self.set_idle(True)

    def set_idle(self, idle: bool) -> None:
        if self.idle is not None:
            self.idle[self.slot] = idle

    def others_idle(self) -> bool:
        return self.idle is not None and b"\x01" in bytes(self.idle)


_process = _Process()
_limits = ServeLimits()  # serve() sets it before gunicorn forks its processes, which inherit it


def create_app():
    import functions_framework

    return functions_framework.create_app(
        target="http_entry", source=str(Path(__file__).with_name("entry.py")), signature_type="http"
    )


def default_workers() -> int:
    """One server process per core, at least two, so that one slow request never stalls the server."""
    return max(2, os.cpu_count() or 1)


@contextmanager
def shared_metrics() -> Iterator[Path]:
    """One Prometheus view of every process ``hunter serve`` starts (see ``shared.metrics``).

    Set before any of them imports prometheus_client, which picks its value store at import; the
    directory is new for each run (counts from an earlier run must not add up) and removed after."""
    if "prometheus_client" in sys.modules and not os.environ.get(MULTIPROCESS_DIR):
        raise RuntimeError("prometheus_client was imported before the metrics directory was set")
    directory = Path(tempfile.mkdtemp(prefix="hunter-metrics-"))
    previous = os.environ.get(MULTIPROCESS_DIR)
    os.environ[MULTIPROCESS_DIR] = str(directory)
    try:
        yield directory
    finally:
        if previous is None:
            os.environ.pop(MULTIPROCESS_DIR, None)
        else:
            os.environ[MULTIPROCESS_DIR] = previous
        shutil.rmtree(directory, ignore_errors=True)


def _problem_bytes(status: int, title: str, detail: str) -> bytes:
    """A whole HTTP/1.1 answer carrying an RFC 7807 problem, closing the connection."""
    response = ProblemError(status, title, detail).response()
    body = response.body_bytes()
    head = f"HTTP/1.1 {status} {title}\r\ncontent-type: {response.headers['Content-Type']}\r\n"
    head += f"content-length: {len(body)}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n"
    return head.encode("latin-1") + body


class _Transport:
    """The connection's transport as uvicorn sees it, except that closing it may linger (see the protocol)."""

    __slots__ = ("_protocol", "_transport")

    def __init__(self, transport: asyncio.Transport, protocol: HunterProtocol) -> None:
        self._transport = transport
        self._protocol = protocol

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def close(self) -> None:
        self._protocol.close_connection()


class HunterProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for the request head, request-line and head size limits
    and a lingering close after an answer given before the body was read."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _process.requests = self.tasks  # uvicorn's set of this process's requests in progress
        self.limits = _limits
        self._raw: asyncio.Transport | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        self._linger_timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None
        self._line_bytes = 0  # of the request line so far, until its line feed
        self._head_bytes = 0  # of the head so far
        self._in_line = True
        self._dropped = -1  # bytes dropped while lingering; -1: not lingering

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._raw = transport
        super().connection_made(_Transport(transport, self))  # type: ignore[arg-type]
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._head_timer, self._linger_timer, self._write_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._linger_timer = self._write_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._dropped >= 0:  # lingering: the answer is out, the rest of the body is not wanted
            self._dropped += len(data)
            if self._dropped > LINGER_BYTES:
                self._raw.close()
            return
        waiting_for_head = self.conn.their_state is h11.IDLE
        if waiting_for_head:
            if self._head_timer is None:  # the next request on a kept-alive connection starts now
                self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)
            if self._in_line:
                end = data.find(b"\n")
                self._line_bytes += len(data) if end < 0 else end
                self._in_line = end < 0
                if self._line_bytes > self.limits.max_request_line:
                    detail = f"the request line is longer than {self.limits.max_request_line} bytes"
                    return self._refuse(414, "URI Too Long", detail)
            self._head_bytes += len(data)
        super().data_received(data)
        if not waiting_for_head:
            return
        if self.conn.their_state is h11.IDLE:  # the head is still incomplete: everything so far is head
            if self._head_bytes > self.limits.max_head and not self._raw.is_closing():
                detail = f"the request line and headers are longer than {self.limits.max_head} bytes"
                self._refuse(431, "Request Header Fields Too Large", detail)
            return
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._line_bytes = self._head_bytes = 0
        self._in_line = True

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._raw is None or self._raw.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self._head_bytes or self._line_bytes:
            detail = f"the request head did not arrive within {self.limits.header_timeout:g} s"
            self._refuse(408, "Request Timeout", detail)
        else:  # nothing was sent: close without an answer nobody asked for
            self._raw.close()

    def _refuse(self, status: int, title: str, detail: str) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._raw.write(_problem_bytes(status, title, detail))
        self._linger()

    def close_connection(self) -> None:
        """Close, lingering when the client may still be sending a body nobody read."""
        if self._raw.is_closing() or self._dropped >= 0:
            return
        if self.conn.their_state is h11.SEND_BODY:
            self._linger()
        else:
            self._raw.close()

    def _linger(self) -> None:
        """Half-close and drop what still arrives for at most ``LINGER_SECONDS``, then close: closing a
        socket with unread data makes the kernel send a reset, which can destroy the answer before the
        client reads it."""
        raw = self._raw
        if not raw.can_write_eof():
            raw.close()
            return
        self._dropped = 0
        raw.resume_reading()
        raw.write_eof()
        self._linger_timer = self.loop.call_later(LINGER_SECONDS, raw.close)

    def eof_received(self) -> bool | None:
        if self._dropped >= 0:
            self._raw.close()
        return None

    def pause_writing(self) -> None:
        """The client has let the answer pile up: it has ``read_timeout`` to start reading again."""
        super().pause_writing()
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(self.limits.read_timeout, self._raw.abort)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None


def _latin1(value: bytes) -> str:
    return value.decode("latin-1")


class WsgiFront:
    """The ASGI app uvicorn calls: checks the head, reads the body within its cap, runs the WSGI app."""

    def __init__(self, app: Callable[..., Any], threads: int = 1) -> None:
        self.app = app
        self.threads = threads
        self._pool: ThreadPoolExecutor | None = None  # made in the worker process, after the fork

    async def _run(self, function: Callable[..., Any], *args: Any) -> Any:
        if self.threads <= 1:
            return function(*args)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="hunter-http")
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            return
        _process.set_idle(False)
        try:
            await self._serve(scope, receive, send)
        finally:
            if len(_process.requests) <= 1:  # this request's task is the last one in progress
                _process.set_idle(True)

    async def _serve(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        limits = _limits
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        if len(raw_headers) > limits.max_header_fields:
            detail = f"send at most {limits.max_header_fields} header fields"
            return await _answer(send, 431, "Request Header Fields Too Large", detail)
        chunked = False
        length = 0
        headers: dict[str, str] = {}
        for name, value in raw_headers:
            if len(name) + len(value) > limits.max_header_field:
                detail = f"a header field is longer than {limits.max_header_field} bytes"
                return await _answer(send, 431, "Request Header Fields Too Large", detail)
            key = _latin1(name)
            headers[key] = f"{headers[key]}, {_latin1(value)}" if key in headers else _latin1(value)
            if name == b"content-length":
                length = int(value)  # h11 accepts only digits here
            elif name == b"transfer-encoding":
                chunked = True  # h11 accepts only chunked
        body = b""
        unread = False
        if length or chunked:
            from shared.local.entry import body_limit_of, early_answer

            client = scope.get("client")
            early = await self._run(early_answer, scope["method"], scope["path"], headers, client and client[0])
            if early is not None:  # the body cannot change the answer: do not read it
                return await _send_response(send, early.status, early.headers.items(), [early.body_bytes()], True)
            limit = body_limit_of(scope["method"], scope["path"])
            chunks: list[bytes] = []
            size = 0
            while size <= limit:
                try:
                    async with asyncio.timeout(limits.read_timeout):
                        message = await receive()
                except TimeoutError:
                    detail = f"the request body paused for more than {limits.read_timeout:g} s"
                    return await _answer(send, 408, "Request Timeout", detail)
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                chunks.append(chunk)
                size += len(chunk)
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
            if size > limit:  # stop at the cap plus one byte: dispatch answers 413, the rest is never read
                body, unread = body[: limit + 1], True
        environ = self._environ(scope, raw_headers, body)
        status, response_headers, chunks_out = await self._run(self._call, environ)
        # Two or more requests wait behind this one here while another process is idle: this client's next
        # request goes through the accept queue again, to the idle process (see the module docstring).
        close = unread or (len(_process.requests) > self.threads + 1 and _process.others_idle())
        if isinstance(chunks_out, list):
            await _send_response(send, status, response_headers, chunks_out, close)
        else:
            await _stream_response(send, receive, self._run, status, response_headers, chunks_out, close)

    def _environ(self, scope: dict[str, Any], raw_headers: list[tuple[bytes, bytes]], body: bytes) -> dict[str, Any]:
        server = scope.get("server") or ("127.0.0.1", 0)
        client = scope.get("client") or ("", 0)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": scope["method"],
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(scope["raw_path"]).decode("latin-1"),
            "QUERY_STRING": _latin1(scope["query_string"]),
            "SERVER_NAME": server[0],
            "SERVER_PORT": str(server[1]),
            "SERVER_PROTOCOL": "HTTP/" + scope["http_version"],
            "REMOTE_ADDR": client[0],
            "REMOTE_PORT": str(client[1]),
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": scope.get("scheme", "http"),
            "wsgi.input": io.BytesIO(body),
            "wsgi.input_terminated": True,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": self.threads > 1,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        for name, value in raw_headers:
            if name in (b"content-length", b"transfer-encoding") or b"_" in name:
                continue  # the body is complete; "_" would let X_API_KEY pose as X-API-Key (gunicorn drops them too)
            if name == b"content-type":
                environ["CONTENT_TYPE"] = _latin1(value)
                continue
            key = "HTTP_" + _latin1(name).upper().replace("-", "_")
            environ[key] = f"{environ[key]},{_latin1(value)}" if key in environ else _latin1(value)
        return environ

    def _call(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], Iterator[bytes] | list[bytes]]:
        """Run the WSGI app: (status, headers, body). A body of one chunk comes back whole; a longer one
        (an export) as an iterator the caller drains chunk by chunk."""
        started: list[Any] = []
        written: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
            if exc_info is not None and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [int(status[:3]), headers]
            return written.append

        result = self.app(environ, start_response)
        iterator = iter(result)
        chunk = next(iterator, None)
        first = [*written, chunk] if chunk is not None else written
        second = next(iterator, None)
        if second is None:
            if hasattr(result, "close"):
                result.close()
            return started[0], started[1], first

        def rest() -> Iterator[bytes]:
            try:
                yield from first
                yield second
                yield from iterator
            finally:
                if hasattr(result, "close"):
                    result.close()

        return started[0], started[1], rest()


async def _answer(send: Callable[..., Any], status: int, title: str, detail: str) -> None:
    response = ProblemError(status, title, detail).response()
    await _send_response(send, status, response.headers.items(), [response.body_bytes()], True)


async def _send_response(
    send: Callable[..., Any],
    status: int,
    headers: Any,
    body: list[bytes],
    close: bool,
) -> None:
    """Send a whole answer with its length; ``close``: the connection ends after it."""
    head = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    if close:
        head.append((b"connection", b"close"))
    whole = b"".join(body)
    if not any(name.lower() == b"content-length" for name, _ in head):
        head.append((b"content-length", str(len(whole)).encode("ascii")))
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": whole})


async def _disconnect(receive: Callable[..., Any]) -> None:
    """Return once the client is gone (or the answer complete); what is left of a body is skipped."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _stream_response(
    send: Callable[..., Any],
    receive: Callable[..., Any],
    run: Callable[..., Any],
    status: int,
    headers: Any,
    body: Iterator[bytes],
    close: bool,
) -> None:
    """Send an answer the app produces chunk by chunk (an export), as the client reads it; stop making
    chunks once the client is gone (a client that stops reading is cut off by the protocol)."""
    head = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    if close:
        head.append((b"connection", b"close"))
    gone = asyncio.ensure_future(_disconnect(receive))
    try:
        await send({"type": "http.response.start", "status": status, "headers": head})
        while not gone.done():
            chunk = await run(next, body, None)
            if chunk is None:
                await send({"type": "http.response.body", "body": b""})
                break
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await asyncio.sleep(0)  # timers and other connections get the loop between chunks
    finally:
        gone.cancel()
        body.close()  # type: ignore[attr-defined]


class HunterWorker(UvicornWorker):
    """gunicorn's process for uvicorn, configured from :data:`_limits` (created in the arbiter, before the fork)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        limits = _limits
        self.CONFIG_KWARGS = {
            "loop": "asyncio" if os.environ.get("HUNTER_UVLOOP", "1") == "0" else "auto",
            "http": HunterProtocol,
            "interface": "asgi3",
            "lifespan": "off",
            "server_header": False,
            "access_log": False,
            "h11_max_incomplete_event_size": 2 * limits.max_head,  # ours answers 431 at max_head
            "limit_concurrency": limits.max_connections,
            "proxy_headers": False,  # the peer is the client (REMOTE_ADDR), as with gunicorn's own workers
        }
        super().__init__(*args, **kwargs)

    def init_process(self) -> None:
        _process.start(self.age)
        super().init_process()


def _child_exit(arbiter: Any, worker: Any) -> None:
    """In the arbiter: a process that is gone is not idle."""
    if _process.idle is not None:
        _process.idle[worker.age % SLOTS] = 0


class _Gunicorn(gunicorn.app.base.BaseApplication):
    def __init__(self, app: Any, options: dict[str, Any]) -> None:
        self.options = options
        self.application = app
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.application


def serve(
    host: str, port: int, *, threads: int = 1, workers: int | None = None, limits: ServeLimits | None = None
) -> None:
    global _limits
    _limits = limits or ServeLimits()
    _process.idle = multiprocessing.RawArray("b", SLOTS)  # shared with the processes gunicorn forks
    options = {
        "bind": f"{host}:{port}",
        "workers": workers or default_workers(),
        "worker_class": f"{__name__}.HunterWorker",
        "timeout": WORKER_TIMEOUT,
        "graceful_timeout": 10,
        "keepalive": _limits.keepalive,
        "loglevel": os.environ.get("GUNICORN_LOG_LEVEL", "error"),
        "child_exit": _child_exit,
    }
    _Gunicorn(WsgiFront(create_app(), threads), options).run()
