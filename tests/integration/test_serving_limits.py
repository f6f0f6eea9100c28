"""``hunter serve`` against oversized and slow clients, over real sockets on 127.0.0.1.

Bodies over the route's cap are answered 413 before they are read (Content-Length) or at the cap
(chunked); half-sent request heads neither hold a server process nor stay open past the header
timeout; an over-long request line is refused. Every wait here is bounded.
"""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from devtools.api_server import start_api_server
from shared.http.limits import JSON_BODY_LIMIT, MB
from shared.store.db import engine_for
from shared.store.keys import ApiKeyStore

HEADER_TIMEOUT = 3.0  # s, HUNTER_SERVE_HEADER_TIMEOUT for this server (the default is 10)
READ_TIMEOUT = 3.0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db_url = f"sqlite:///{tmp_path_factory.mktemp('limits') / 'hunter.db'}"
    store = ApiKeyStore(engine_for(db_url))
    keys = {
        "scan": store.create("scanner", ["scan"], rate_limit_per_minute=100_000)[0],
        "read": store.create("reader", ["read"], rate_limit_per_minute=100_000)[0],
    }
    env = {
        "HUNTER_DATABASE_URL": db_url,
        "HUNTER_WHOIS_ENABLED": "false",
        "HUNTER_SERVE_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "HUNTER_SERVE_READ_TIMEOUT": str(READ_TIMEOUT),
    }
    log = (tmp_path_factory.mktemp("server") / "server.log").open("wb")
    process, base = start_api_server(env, workers=2, log=log)  # hunter serve's defaults on 2 cores
    address = urlsplit(base)
    with httpx.Client(base_url=base, timeout=10, headers={"Connection": "close"}) as client:
        for _ in range(8):  # a new connection each: both processes import, verify the keys (Argon2) once
            for key in keys.values():
                client.get("/v1/leads", params={"limit": 1}, headers={"X-API-Key": key}).raise_for_status()
    yield {"base": base, "host": address.hostname, "port": address.port, "keys": keys}
    process.terminate()
    process.wait(timeout=15)
    log.close()


def _connect(server, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection((server["host"], server["port"]), timeout=timeout)


def _read_answer(sock: socket.socket, deadline: float) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of one HTTP/1.1 answer with a Content-Length, read before ``deadline``."""
    data = b""
    while b"\r\n\r\n" not in data:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        assert chunk, f"closed before an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    while len(body) < int(headers.get("content-length", 0)):
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        assert chunk, "closed in the middle of the answer"
        body += chunk
    return int(lines[0].split()[1]), headers, body


def _closed_by_server(sock: socket.socket, deadline: float) -> bool:
    """Whether the server closes ``sock`` (EOF or reset) before ``deadline``, skipping whatever it answers."""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            if not sock.recv(65536):
                return True
        except TimeoutError:
            return False
        except ConnectionError:
            return True
    return False


def _head(method: str, path: str, key: str | None, **headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if key:
        lines.append(f"X-API-Key: {key}")
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _assert_problem(status: int, headers: dict[str, str], body: bytes, expected: int) -> None:
    assert status == expected, body
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["status"] == expected


def test_a_json_body_over_1_mb_is_answered_413_before_it_is_read(server):
    with _connect(server) as sock:
        started = time.monotonic()
        head = _head(
            "POST", "/api/v1/scan", server["keys"]["scan"], Content_Type="application/json", Content_Length=str(2 * MB)
        )
        sock.sendall(head + b'{"domain": "acme.com.tr", "padding": "')  # and nothing more of the 2 MB
        status, headers, body = _read_answer(sock, started + 2)
        assert time.monotonic() - started < 2
        _assert_problem(status, headers, body, 413)
        assert json.loads(body)["title"] == "Payload too large"
        assert headers["connection"] == "close"
        assert _closed_by_server(sock, time.monotonic() + 5)  # the rest of the body is never waited for


def test_a_wrong_key_is_answered_before_the_body_is_read(server):
    with _connect(server) as sock:
        started = time.monotonic()
        sock.sendall(_head("POST", "/api/v1/scan", "hunter_nope_nope", Content_Length=str(500_000)) + b"{")
        status, headers, body = _read_answer(sock, started + 2)
        _assert_problem(status, headers, body, 401)
    with _connect(server) as sock:
        sock.sendall(_head("POST", "/api/v1/scan", None, Content_Length=str(500_000)) + b"{")
        _assert_problem(*_read_answer(sock, time.monotonic() + 2), 401)


def test_a_chunked_body_over_the_cap_is_answered_413_at_the_cap(server):
    with _connect(server) as sock:
        started = time.monotonic()
        sock.sendall(_head("POST", "/api/v1/scan", server["keys"]["scan"], Transfer_Encoding="chunked"))
        piece = b"x" * 65536
        chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        sent = 0
        try:
            while sent <= JSON_BODY_LIMIT + 4 * len(piece):  # never the terminating chunk: the server stops first
                sock.sendall(chunk)
                sent += len(piece)
        except ConnectionError:
            pass  # the server stopped reading after its answer
        status, headers, body = _read_answer(sock, started + 10)
        _assert_problem(status, headers, body, 413)
        assert headers["connection"] == "close"


def test_a_25_mb_upload_is_refused_and_a_1_mb_csv_still_works(server):
    key = {"X-API-Key": server["keys"]["scan"], "Content-Type": "text/csv"}
    with httpx.Client(base_url=server["base"], timeout=30) as client:
        started = time.monotonic()
        reply = client.post("/v1/scans/preview", content=b"domain\n" + b"a" * (25 * MB), headers=key)
        assert reply.status_code == 413, reply.text
        assert reply.headers["content-type"] == "application/problem+json"
        assert "20 MB" in reply.json()["detail"]
        assert time.monotonic() - started < 10
        company = "Bilişim Teknolojileri Sanayi ve Ticaret Anonim Şirketi"
        rows = [f"firma{i}.com.tr,Firma {i} {company}" for i in range(12_500)]
        csv = ("domain,company\n" + "\n".join(rows) + "\n").encode("utf-8")
        assert MB < len(csv) < 1.2 * MB  # just over the JSON cap, well under the upload cap
        reply = client.post("/v1/scans/preview", content=csv, headers=key)
        assert reply.status_code == 200, reply.text
        assert reply.json()["rows"] == len(rows)


def test_a_body_that_stops_arriving_is_answered_408(server):
    with _connect(server) as sock:
        started = time.monotonic()
        key = server["keys"]["scan"]
        sock.sendall(_head("POST", "/api/v1/scan", key, Content_Type="application/json", Content_Length="100") + b"{")
        status, headers, body = _read_answer(sock, started + READ_TIMEOUT + 5)
        _assert_problem(status, headers, body, 408)
        assert time.monotonic() - started >= READ_TIMEOUT - 0.5


def test_slow_clients_cannot_starve_the_server(server):
    stalled = []
    try:
        opened = time.monotonic()
        for _ in range(8):  # more than the server has processes: with sync workers, a hang
            sock = _connect(server)
            sock.sendall(b"GET /api/v1/leads HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Ke")  # half a head, then nothing
            stalled.append(sock)
        time.sleep(0.3)
        started = time.monotonic()
        reply = httpx.get(
            f"{server['base']}/v1/leads", params={"limit": 5}, headers={"X-API-Key": server["keys"]["read"]}, timeout=5
        )
        assert reply.status_code == 200
        assert time.monotonic() - started < 2
        deadline = opened + HEADER_TIMEOUT + 5
        assert all(_closed_by_server(sock, deadline) for sock in stalled)  # 408, then closed
    finally:
        for sock in stalled:
            sock.close()


def test_an_idle_connection_is_closed_after_the_header_timeout(server):
    with _connect(server) as sock:
        started = time.monotonic()
        assert _closed_by_server(sock, started + HEADER_TIMEOUT + 5)
        assert time.monotonic() - started >= HEADER_TIMEOUT - 0.5


@pytest.mark.parametrize("length", [10_000, 100_000])
def test_an_over_long_request_line_is_refused(server, length):
    with _connect(server) as sock:
        started = time.monotonic()
        try:
            sock.sendall(b"GET /api/" + b"a" * length + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        except ConnectionError:
            pass  # refused before the line was through
        status, _, _ = _read_answer(sock, started + 2)
        assert status in (414, 400)


def test_too_many_or_too_large_header_fields_are_refused(server):
    with _connect(server) as sock:
        fields = "".join(f"X-Field-{i}: {i}\r\n" for i in range(150))
        sock.sendall(f"GET /api/healthz/live HTTP/1.1\r\nHost: 127.0.0.1\r\n{fields}\r\n".encode())
        status, _, _ = _read_answer(sock, time.monotonic() + 2)
        assert status == 431
    with _connect(server) as sock:
        sock.sendall(b"GET /api/healthz/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n")
        status, _, _ = _read_answer(sock, time.monotonic() + 2)
        assert status == 431


def test_ordinary_requests_and_small_bodies_pass(server):
    with httpx.Client(base_url=server["base"], headers={"X-API-Key": server["keys"]["read"]}, timeout=10) as client:
        for _ in range(3):
            reply = client.get("/v1/leads", params={"limit": 1})
            assert reply.status_code == 200
        posted = client.post("/v1/scan", json={"domain": "x"})
        assert posted.status_code == 403  # a read key
        posted = client.post("/v1/scan", json={"domain": "x"}, headers={"X-API-Key": server["keys"]["scan"]})
        assert posted.status_code == 422  # within the cap and the key fits: dispatch validates the body
