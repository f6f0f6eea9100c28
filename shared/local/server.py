"""``hunter serve``: the functions-framework app (Flask, WSGI) on gunicorn, one port, slow clients held apart.

Process model: gunicorn's arbiter runs one process per core (at least two, ``--workers``) and
restarts any that dies. Each process (:class:`HunterWorker`) works like gunicorn's sync worker —
one request at a time, ``Connection: close``, one new connection taken per turn and only while the
process is free, so the kernel's accept queue is the one queue in front of every process and a free
process always gets the next request — except that it never blocks on a client: a selector holds
every connection until its request line, headers and body are complete, and only then does the
process run the request. A client that sends half a request costs a socket and a deadline, never
the process (gunicorn's sync worker blocked on it with no timeout: a few half-sent heads held both
processes and every other request waited). An asyncio front (uvicorn, kept-alive connections) was
measured too: lower p50, higher p95, since a kept-alive connection queues in the process that
accepted it while another may be idle (README, "Performance" > "API").

Limits (:class:`ServeLimits`, from ``hunter serve``'s options): the request line and headers must
arrive within ``header_timeout`` of the connect (408, or a plain close when nothing came), a body
may pause for at most ``read_timeout`` (408), and a client has ``read_timeout`` per write to take
the answer; request line over 8190 bytes: 414; more than 100 header fields, a field over 8190 bytes
or a head over 64 KB: 431; at most 1000 connections per process. Bodies: a ``Content-Length`` over
the route's cap (:mod:`shared.http.limits`) is answered 413 before a byte of the body is read, a
chunked body is read to the cap plus one byte and answered 413 (by dispatch); a missing, wrong or
under-scoped API key is answered before the body is read (:func:`shared.local.entry.early_answer`).
A connection answered before its body was read is half-closed and what still arrives is dropped
for at most two seconds (closing a socket with unread data makes the kernel send a reset, which can
destroy the answer before the client reads it), then closed.

``--threads N`` runs requests on N threads per process (for many slow requests: big exports,
synchronous scans); the process takes a new connection only while one of them is free.
"""

from __future__ import annotations

import errno
import http
import io
import math
import os
import selectors
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, unquote_to_bytes

import gunicorn.app.base
import h11
from gunicorn.workers.base import Worker

from shared.http.types import ProblemError

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own setting (shared.metrics reads it)
WORKER_TIMEOUT = 600  # s, host.json's functionTimeout: a process stuck in one request this long is replaced
LINGER_SECONDS = 2.0  # after an answer to an unread body: how long the rest is read and dropped
LINGER_BYTES = 64 * 1024 * 1024  # ... and at most how much of it
READ_SIZE = 256 * 1024


@dataclass(frozen=True)
class ServeLimits:
    header_timeout: float = 10.0  # s from the connect to the end of the request line and headers (408)
    read_timeout: float = 30.0  # s a body may pause, or a client take to accept a write of the answer
    max_request_line: int = 8190  # bytes (414)
    max_header_fields: int = 100  # (431)
    max_header_field: int = 8190  # bytes of one field, name and value (431)
    max_head: int = 64 * 1024  # bytes of the request line and every header together (431)
    max_connections: int = 1000  # per process, most of them waiting for their request to arrive


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


HEAD, BODY, DRAIN = "head", "body", "drain"  # what a held connection waits for
_WAKE = object()  # selector key data: the wake-up pipe (signals, a thread that is done)
_LISTENER = object()


class _Conn:
    """A client connection while its request arrives (or, once answered, while the rest is dropped)."""

    __slots__ = (
        "addr",
        "body",
        "deadline",
        "dropped",
        "head_bytes",
        "headers",
        "http",
        "in_line",
        "limit",
        "line_bytes",
        "request",
        "size",
        "sock",
        "state",
    )

    def __init__(self, sock: socket.socket, addr: Any, deadline: float) -> None:
        self.sock = sock
        self.addr = addr
        self.deadline = deadline
        self.state = HEAD
        self.http = h11.Connection(h11.SERVER, max_incomplete_event_size=2 * _limits.max_head)  # ours says 431 first
        self.line_bytes = 0  # of the request line so far, until its line feed
        self.in_line = True
        self.head_bytes = 0
        self.request: h11.Request | None = None
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.size = 0
        self.limit = 0
        self.dropped = 0


def _problem(status: int, title: str, detail: str) -> tuple[list[tuple[str, str]], bytes]:
    response = ProblemError(status, title, detail).response()
    return [*response.headers.items(), ("Cache-Control", "no-store")], response.body_bytes()


class HunterWorker(Worker):
    """One server process: a selector holds connections until their request is complete; requests run
    one at a time (or on ``--threads`` threads), each answered with ``Connection: close``."""

    def init_process(self) -> None:
        self.limits = _limits
        self.threads = max(1, self.cfg.threads)
        self.selector = selectors.DefaultSelector()
        self.conns: dict[int, _Conn] = {}
        self.next_expiry = math.inf
        self.accepting = False
        self.paused_until = 0.0  # accept() ran out of file descriptors: try again after this
        self.pool = ThreadPoolExecutor(self.threads, thread_name_prefix="hunter-http") if self.threads > 1 else None
        self.running = 0  # requests on the pool's threads
        self.lock = threading.Lock()
        super().init_process()  # loads the app, then run()

    # The loop

    def run(self) -> None:
        for listener in self.sockets:
            listener.setblocking(False)
        self.selector.register(self.PIPE[0], selectors.EVENT_READ, _WAKE)
        try:
            while self.alive and self.ppid == os.getppid():
                self.notify()
                self._set_accepting(self._may_accept())
                timeout = min(1.0, max(0.0, self.next_expiry - time.monotonic()))
                listener = None
                for key, _ in self.selector.select(timeout):
                    if key.data is _WAKE:
                        self._drain_pipe()
                    elif key.data is _LISTENER:
                        listener = key.fileobj
                    else:
                        self._serve_connection(key.data)
                if listener is not None and self._may_accept():  # one connection per turn, when free
                    self._accept(listener)
                if time.monotonic() >= self.next_expiry:
                    self._expire()
        finally:
            for conn in list(self.conns.values()):
                self._close(conn)
            if self.pool is not None:
                self.pool.shutdown(wait=True)  # requests in progress finish
            from shared import telemetry

            telemetry.flush()  # this process's last spans, metrics and logs (a no-op when telemetry is off)

    def _serve_connection(self, conn: _Conn) -> None:
        """Whatever one connection does never takes the process down with it."""
        try:
            self._readable(conn)
        except Exception:
            self.log.exception("error serving a connection")
            self._close(conn)

    def _drain_pipe(self) -> None:
        try:
            while os.read(self.PIPE[0], 4096):
                pass
        except OSError:
            pass

    def _may_accept(self) -> bool:
        if len(self.conns) >= self.limits.max_connections or time.monotonic() < self.paused_until:
            return False
        return self.pool is None or self.running < self.threads

    def _set_accepting(self, accepting: bool) -> None:
        if accepting == self.accepting:
            return
        for listener in self.sockets:
            if accepting:
                self.selector.register(listener, selectors.EVENT_READ, _LISTENER)
            else:
                self.selector.unregister(listener)
        self.accepting = accepting

    def _accept(self, listener: Any) -> None:
        try:
            sock, addr = listener.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return  # another process took it
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                self.paused_until = time.monotonic() + 0.5
                self.log.warning("out of file descriptors or memory: not accepting for 0.5 s")
                return
            raise
        sock.setblocking(False)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = _Conn(sock, addr, 0.0)
        self._deadline(conn, self.limits.header_timeout)
        self.conns[sock.fileno()] = conn
        self.selector.register(sock, selectors.EVENT_READ, conn)
        self._serve_connection(conn)  # the request usually comes with the connection (a sync worker blocks here)

    def _deadline(self, conn: _Conn, seconds: float) -> None:
        conn.deadline = time.monotonic() + seconds
        self.next_expiry = min(self.next_expiry, conn.deadline)

    def _expire(self) -> None:
        now = time.monotonic()
        for conn in list(self.conns.values()):
            if conn.deadline > now:
                continue
            if conn.state == DRAIN:
                self._close(conn)
            elif conn.state == BODY:
                self._refuse(conn, 408, "Request Timeout", f"the body paused for over {self.limits.read_timeout:g} s")
            elif conn.head_bytes:
                self._refuse(conn, 408, "Request Timeout", f"the head took over {self.limits.header_timeout:g} s")
            else:  # nothing was sent: close without an answer nobody asked for
                self._close(conn)
        self.next_expiry = min((c.deadline for c in self.conns.values()), default=math.inf)

    # A request arriving

    def _readable(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        if conn.state == DRAIN:
            conn.dropped += len(data)
            if not data or conn.dropped > LINGER_BYTES:
                self._close(conn)
            return
        if conn.state == HEAD:
            if not data:
                self._close(conn)  # gone before a request: nothing to answer
                return
            if conn.in_line:
                end = data.find(b"\n")
                conn.line_bytes += len(data) if end < 0 else end
                conn.in_line = end < 0
                if conn.line_bytes > self.limits.max_request_line:
                    detail = f"the request line is longer than {self.limits.max_request_line} bytes"
                    self._refuse(conn, 414, "URI Too Long", detail)
                    return
            conn.head_bytes += len(data)
        conn.http.receive_data(data)
        self._advance(conn)

    def _advance(self, conn: _Conn) -> None:
        while conn.state != DRAIN and conn.sock.fileno() in self.conns:
            try:
                event = conn.http.next_event()
            except h11.RemoteProtocolError as exc:
                if conn.state == HEAD:
                    status = exc.error_status_hint
                    self._refuse(conn, status, http.HTTPStatus(status).phrase, "the request could not be read")
                else:
                    self._close(conn)  # the body broke off or was malformed: nobody to answer
                return
            if event is h11.NEED_DATA:
                if conn.state == HEAD and conn.head_bytes > self.limits.max_head:
                    detail = f"the request line and headers are longer than {self.limits.max_head} bytes"
                    self._refuse(conn, 431, "Request Header Fields Too Large", detail)
                return
            if isinstance(event, h11.Request):
                if not self._head_arrived(conn, event):
                    return
            elif isinstance(event, h11.Data):
                conn.body.append(event.data)
                conn.size += len(event.data)
                self._deadline(conn, self.limits.read_timeout)
                if conn.size > conn.limit:  # stop at the cap plus one byte: dispatch answers 413
                    self._complete(conn, unread=True)
                    return
            elif isinstance(event, h11.EndOfMessage):
                self._complete(conn, unread=False)
                return
            else:  # ConnectionClosed, PAUSED
                self._close(conn)
                return

    def _head_arrived(self, conn: _Conn, request: h11.Request) -> bool:
        """Check the head and answer now when the body cannot change the answer; False when answered."""
        limits = self.limits
        conn.state = BODY
        conn.request = request
        self._deadline(conn, limits.read_timeout)
        if len(request.headers) > limits.max_header_fields:
            detail = f"send at most {limits.max_header_fields} header fields"
            self._refuse(conn, 431, "Request Header Fields Too Large", detail)
            return False
        has_body = False
        for name, value in request.headers:  # h11 gives lower-case names
            if len(name) + len(value) > limits.max_header_field:
                detail = f"a header field is longer than {limits.max_header_field} bytes"
                self._refuse(conn, 431, "Request Header Fields Too Large", detail)
                return False
            key, text = name.decode("latin-1"), value.decode("latin-1")
            conn.headers[key] = f"{conn.headers[key]}, {text}" if key in conn.headers else text
            has_body = has_body or name == b"transfer-encoding" or (name == b"content-length" and value != b"0")
        if not has_body:
            return True
        from shared.local.entry import body_limit_of, early_answer

        method = request.method.decode("ascii")
        path = unquote(request.target.partition(b"?")[0].decode("ascii"))
        client = conn.addr[0] if isinstance(conn.addr, tuple) else None
        try:
            early = early_answer(method, path, conn.headers, client)
        except Exception:
            self.log.exception("error checking a request before its body")
            self._refuse(conn, 500, "Internal error", "the error was logged")
            return False
        if early is not None:  # do not read a body that cannot change the answer
            self._respond(conn, early.status, list(early.headers.items()), [early.body_bytes()])
            self._linger(conn)
            return False
        conn.limit = body_limit_of(method, path)
        if conn.http.they_are_waiting_for_100_continue:
            self._send_now(conn, conn.http.send(h11.InformationalResponse(status_code=100, reason=b"Continue")))
        return True

    def _complete(self, conn: _Conn, unread: bool) -> None:
        """The request is complete (or over its cap): run it here, or on a free thread."""
        body = b"".join(conn.body)
        if unread:
            body = body[: conn.limit + 1]
        environ = self._environ(conn, body)
        if self.pool is None or unread:
            self._run(conn, environ)
            if unread:
                self._linger(conn)
            else:
                self._close(conn)
            return
        self._forget(conn)  # the thread owns the socket now
        with self.lock:
            self.running += 1
        self.pool.submit(self._run_on_thread, conn, environ)

    def _run_on_thread(self, conn: _Conn, environ: dict[str, Any]) -> None:
        try:
            self._run(conn, environ)
        finally:
            conn.sock.close()
            with self.lock:
                self.running -= 1
            try:
                os.write(self.PIPE[1], b".")  # the loop may take a new connection again
            except OSError:
                pass

    # Answers

    def _run(self, conn: _Conn, environ: dict[str, Any]) -> None:
        try:
            status, headers, body = _call(self.wsgi, environ)
        except Exception:
            self.log.exception("the app failed outside its own error handling")
            headers, data = _problem(500, "Internal error", "the error was logged")
            status, body = 500, [data]
        self._respond(conn, status, headers, body)

    def _respond(self, conn: _Conn, status: int, headers: list[tuple[str, str]], body: Any) -> None:
        """Write an answer on the blocking socket, at most ``read_timeout`` per write."""
        head = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        head.append((b"connection", b"close"))  # one request per connection, as gunicorn's sync worker
        if isinstance(body, list) and not any(name.lower() == b"content-length" for name, _ in head):
            head.append((b"content-length", str(sum(len(chunk) for chunk in body)).encode("ascii")))
        try:
            reason = http.HTTPStatus(status).phrase.encode("ascii")
        except ValueError:
            reason = b""
        sock = conn.sock
        sock.settimeout(self.limits.read_timeout)
        quiet = conn.request is not None and conn.request.method == b"HEAD"
        send = conn.http.send
        try:
            out = send(h11.Response(status_code=status, headers=head, reason=reason))
            if isinstance(body, list):  # whole: one write
                data = b"".join(body)
                if data and not quiet:
                    out += send(h11.Data(data=data))
                sock.sendall(out + send(h11.EndOfMessage()))
                return
            sock.sendall(out)
            for chunk in body:  # streamed, as the client takes it
                if chunk and not quiet:
                    sock.sendall(send(h11.Data(data=chunk)))
            sock.sendall(send(h11.EndOfMessage()))
        except (OSError, h11.LocalProtocolError):
            pass  # the client left or stopped reading: the connection is closed next
        except Exception:
            self.log.exception("error while streaming an answer")  # the client sees the answer cut short
        finally:
            if hasattr(body, "close"):
                body.close()
            sock.setblocking(False)

    def _send_now(self, conn: _Conn, data: bytes) -> None:
        try:
            conn.sock.send(data)  # a few hundred bytes into an empty send buffer
        except OSError:
            pass

    def _refuse(self, conn: _Conn, status: int, title: str, detail: str) -> None:
        """Answer a request that cannot be read (a problem document, raw: h11 may be in an error state)."""
        headers, body = _problem(status, title, detail)
        head = f"HTTP/1.1 {status} {title}\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers)
        head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        self._send_now(conn, head.encode("latin-1") + body)
        self._linger(conn)

    def _linger(self, conn: _Conn) -> None:
        """Half-close, then drop what still arrives until the client closes or ``LINGER_SECONDS`` pass."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close(conn)
            return
        conn.state = DRAIN
        self._deadline(conn, LINGER_SECONDS)

    def _forget(self, conn: _Conn) -> None:
        fd = conn.sock.fileno()
        if self.conns.pop(fd, None) is not None:
            self.selector.unregister(conn.sock)

    def _close(self, conn: _Conn) -> None:
        self._forget(conn)
        conn.sock.close()

    # WSGI

    def _environ(self, conn: _Conn, body: bytes) -> dict[str, Any]:
        request = conn.request
        assert request is not None
        target, _, query = request.target.partition(b"?")
        server = conn.sock.getsockname()
        client = conn.addr if isinstance(conn.addr, tuple) else ("", 0)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method.decode("ascii"),
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(target).decode("latin-1"),
            "QUERY_STRING": query.decode("latin-1"),
            "SERVER_NAME": str(server[0]) if isinstance(server, tuple) else "localhost",
            "SERVER_PORT": str(server[1]) if isinstance(server, tuple) else "0",
            "SERVER_PROTOCOL": "HTTP/" + request.http_version.decode("ascii"),
            "REMOTE_ADDR": client[0],
            "REMOTE_PORT": str(client[1]),
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.input_terminated": True,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": self.pool is not None,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        for name, value in request.headers:
            if name in (b"content-length", b"transfer-encoding", b"expect") or b"_" in name:
                continue  # the body is complete; "_" would let X_API_KEY pose as X-API-Key (gunicorn drops them too)
            if name == b"content-type":
                environ["CONTENT_TYPE"] = value.decode("latin-1")
                continue
            key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
            text = value.decode("latin-1")
            environ[key] = f"{environ[key]},{text}" if key in environ else text
        return environ


def _call(app: Callable[..., Any], environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], Any]:
    """Run the WSGI app: (status, headers, body); the body is iterated (and closed) by the caller."""
    started: list[Any] = []
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
        if exc_info is not None and started:
            raise exc_info[1].with_traceback(exc_info[2])
        started[:] = [int(status[:3]), headers]
        return written.append

    result = app(environ, start_response)
    iterator = iter(result)
    taken = [*written]
    for _ in range(2):  # one chunk: the whole answer (most answers); two: a stream
        chunk = next(iterator, None)
        if chunk is None:
            if hasattr(result, "close"):
                result.close()
            return started[0], started[1], taken
        taken.append(chunk)
    return started[0], started[1], _Body(taken, iterator, result)


class _Body:
    """A streamed answer (an export): the chunks already taken, then the rest of the app's iterable."""

    def __init__(self, head: list[bytes], rest: Iterator[bytes], result: Any) -> None:
        self.head = head
        self.rest = rest
        self.result = result

    def __iter__(self) -> Iterator[bytes]:
        yield from self.head
        yield from self.rest

    def close(self) -> None:
        if hasattr(self.result, "close"):
            self.result.close()


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
    options = {
        "bind": f"{host}:{port}",
        "workers": workers or default_workers(),
        "threads": threads,
        "worker_class": f"{__name__}.HunterWorker",
        "timeout": WORKER_TIMEOUT,
        "graceful_timeout": 10,
        "loglevel": os.environ.get("GUNICORN_LOG_LEVEL", "error"),
    }
    _Gunicorn(create_app(), options).run()
