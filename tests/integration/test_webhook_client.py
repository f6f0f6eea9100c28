"""The outbound webhook client against real loopback receivers (HTTPS with a trustme CA, and HTTP).

What is proved here: 2xx returns, 5xx/429 are retryable (with Retry-After), 410 is "gone", a 3xx is
refused and not followed, a receiver that never answers costs at most the timeout, a huge answer
is read only up to the cap, the connection goes to the checked address with the original host
name in Host, SNI and certificate verification, and private, loopback, link-local and metadata
targets (and plain http) are refused without ``allow_private`` before any connection is made.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from standardwebhooks import Webhook

from shared.core.notify import new_webhook_secret, standard_webhook_headers
from shared.integrations import webhooks
from shared.integrations.webhooks import DeliveryError, address_problem, post_json

CERT_NAMES = ("127.0.0.1", "localhost", "::1", "hooks.example.test")
HUGE = 10 * 1024 * 1024
HUGE_FIRST_PART = 256 * 1024  # what the /huge receiver sends before it waits


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        receiver = self.server.receiver
        with receiver.lock:
            receiver.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
        answer = getattr(self, "answer_" + self.path.strip("/").split("?")[0], None)
        if answer is None:
            self._send(404, b"no such receiver")
        else:
            answer()

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def answer_ok(self) -> None:
        self._send(200, b'{"ok":true}', {"Content-Type": "application/json"})

    def answer_accepted(self) -> None:
        self._send(202)

    def answer_fail(self) -> None:
        self._send(500, b"boom " * 500, {"Retry-After": "7"})

    def answer_throttled(self) -> None:
        self._send(429, b"slow down", {"Retry-After": "3"})

    def answer_gone(self) -> None:
        self._send(410, b"this webhook was deleted")

    def answer_bad(self) -> None:
        self._send(400, b"bad payload")

    def answer_redirect(self) -> None:
        self._send(302, b"", {"Location": f"{self.server.receiver.url}/ok"})

    def answer_verify(self) -> None:
        receiver = self.server.receiver
        try:
            Webhook(receiver.secret).verify(receiver.requests[-1]["body"], dict(self.headers.items()))
        except Exception as exc:  # the test reads the status
            self._send(401, str(exc).encode())
        else:
            self._send(204)

    def answer_slow(self) -> None:
        self.server.receiver.release.wait(30)  # never answers within any test's timeout
        self._send(200)

    def _huge(self, status: int) -> None:
        receiver = self.server.receiver
        self.send_response(status)
        self.send_header("Content-Length", str(HUGE))
        self.end_headers()
        chunk = b"x" * 65536
        sent = 0
        try:
            while sent < HUGE_FIRST_PART:
                self.wfile.write(chunk)
                sent += len(chunk)
            self.wfile.flush()
            receiver.release.wait(30)  # the rest only comes when the test is over
            while sent < HUGE:
                self.wfile.write(chunk)
                sent += len(chunk)
        except OSError:
            pass
        finally:
            with receiver.lock:
                receiver.huge_sent.append(sent)

    def answer_huge(self) -> None:
        self._huge(200)

    def answer_huge_error(self) -> None:
        self._huge(503)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        super().__init__(("127.0.0.1", 0), _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        with self.receiver.lock:
            self.receiver.connections += 1
        request.settimeout(40)
        if self.receiver.context is not None:
            try:
                request = self.receiver.context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        try:
            self.RequestHandlerClass(request, client_address, self)
        finally:
            try:
                request.close()
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class Receiver:
    """A webhook receiver on a free loopback port; ``context`` None serves plain HTTP."""

    def __init__(self, context: ssl.SSLContext | None) -> None:
        self.context = context
        self.lock = threading.Lock()
        self.connections = 0
        self.requests: list[dict[str, Any]] = []
        self.huge_sent: list[int] = []
        self.server_names: list[str | None] = []
        self.release = threading.Event()
        self.secret = new_webhook_secret()
        if context is not None:
            context.sni_callback = self._sni
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def _sni(self, sock: Any, server_name: str | None, context: Any) -> None:
        with self.lock:
            self.server_names.append(server_name)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        scheme = "https" if self.context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def reset(self) -> None:
        with self.lock:
            self.connections = 0
            self.requests.clear()
            self.huge_sent.clear()
            self.server_names.clear()

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    authority = trustme.CA(organization_name="Hunter test CA (webhooks)")
    path = tmp_path_factory.mktemp("webhook-ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return authority, path


@pytest.fixture(scope="module")
def https_receiver(ca: tuple[trustme.CA, Path]) -> Iterator[Receiver]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    ca[0].issue_cert(*CERT_NAMES).configure_cert(context)
    receiver = Receiver(context)
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def http_receiver() -> Iterator[Receiver]:
    receiver = Receiver(None)
    yield receiver
    receiver.close()


@pytest.fixture
def receiver(https_receiver: Receiver, ca: tuple[trustme.CA, Path], monkeypatch: pytest.MonkeyPatch) -> Receiver:
    """The HTTPS receiver, trusted through SSL_CERT_FILE (what identity.ssl_context() reads)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(ca[1]))
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    https_receiver.reset()
    return https_receiver


def post(url: str, body: bytes = b'{"hello":"world"}', headers: dict[str, str] | None = None, **kwargs: Any) -> int:
    kwargs.setdefault("allow_private", True)  # the receivers live on loopback
    return asyncio.run(post_json(url, body, headers or {}, **kwargs))


def failure(url: str, **kwargs: Any) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        post(url, **kwargs)
    return caught.value


def pin(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> None:
    """Make the client's resolver answer ``answers`` (host → addresses) and nothing else."""

    async def resolve(host: str, port: int) -> list[str]:
        if host in answers:
            return list(answers[host])
        if webhooks._parse_address(host) is not None:
            return [host]
        raise AssertionError(f"unexpected resolution of {host}")

    monkeypatch.setattr(webhooks, "_resolve", resolve)


# -- answers ---------------------------------------------------------------------------------------


def test_a_2xx_answer_returns_its_status(receiver: Receiver) -> None:
    assert post(f"{receiver.url}/ok", headers={"X-Hunter": "1"}) == 200
    assert post(f"{receiver.url}/accepted") == 202
    first = receiver.requests[0]
    assert first["body"] == b'{"hello":"world"}'
    assert first["headers"]["X-Hunter"] == "1"
    assert first["headers"]["Content-Type"] == "application/json"
    assert first["headers"]["Host"] == f"127.0.0.1:{receiver.port}"


def test_a_signed_delivery_verifies_at_the_receiver(receiver: Receiver) -> None:
    body = json.dumps({"type": "hunter.test", "data": {"domain": "acme.example"}}).encode()
    headers = standard_webhook_headers(receiver.secret, "msg_1", int(time.time()), body)
    assert post(f"{receiver.url}/verify", body, headers) == 204


def test_a_5xx_is_retryable_with_its_retry_after_and_a_short_detail(receiver: Receiver) -> None:
    error = failure(f"{receiver.url}/fail")
    assert (error.status, error.retryable, error.gone, error.retry_after) == (500, True, False, 7.0)
    assert error.detail.startswith("HTTP 500") and "boom" in error.detail
    assert len(error.detail) <= 200 and str(error) == error.detail


def test_429_is_retryable_and_410_is_gone_and_400_is_final(receiver: Receiver) -> None:
    throttled = failure(f"{receiver.url}/throttled")
    assert (throttled.status, throttled.retryable, throttled.retry_after) == (429, True, 3.0)
    gone = failure(f"{receiver.url}/gone")
    assert (gone.status, gone.gone, gone.retryable) == (410, True, False)
    bad = failure(f"{receiver.url}/bad")
    assert (bad.status, bad.gone, bad.retryable, bad.retry_after) == (400, False, False, None)


def test_a_redirect_is_refused_and_not_followed(receiver: Receiver) -> None:
    error = failure(f"{receiver.url}/redirect")
    assert (error.status, error.retryable, error.gone) == (302, False, False)
    assert "redirect" in error.detail
    assert [r["path"] for r in receiver.requests] == ["/redirect"]  # /ok was never asked for


def test_a_receiver_that_never_answers_times_out_within_the_timeout(receiver: Receiver) -> None:
    started = time.monotonic()
    error = failure(f"{receiver.url}/slow", timeout=1.0)
    assert time.monotonic() - started < 1.0 + 2
    assert error.retryable and error.status is None and "no answer" in error.detail


def test_a_receiver_that_never_finishes_the_tls_handshake_times_out(receiver: Receiver) -> None:
    with socket.socket() as silent:  # accepts in the kernel, never speaks
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        started = time.monotonic()
        error = failure(f"https://127.0.0.1:{silent.getsockname()[1]}/hook", timeout=1.0)
        assert time.monotonic() - started < 1.0 + 2
    assert error.retryable and error.status is None


def test_a_huge_answer_is_read_only_up_to_the_cap(receiver: Receiver) -> None:
    """The receiver declares 10 MB, sends 256 KB and then waits for the test to end: a client
    that read past its cap would hang there until its timeout instead of returning at once."""
    started = time.monotonic()
    assert post(f"{receiver.url}/huge", timeout=8.0, max_response_bytes=65536) == 200
    assert time.monotonic() - started < 4.0

    started = time.monotonic()
    error = failure(f"{receiver.url}/huge_error", timeout=8.0, max_response_bytes=1000)
    assert time.monotonic() - started < 4.0
    assert (error.status, error.retryable) == (503, True) and len(error.detail) <= 200


def test_a_refused_connection_is_retryable(receiver: Receiver) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    error = failure(f"https://127.0.0.1:{port}/hook", timeout=3.0)
    assert error.retryable and error.status is None


# -- the connection goes to the checked address ------------------------------------------------------


def test_the_checked_address_is_used_with_the_host_name_in_host_sni_and_verification(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    pin(monkeypatch, {"hooks.example.test": ["127.0.0.1"]})
    real_getaddrinfo = socket.getaddrinfo

    def no_second_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        if webhooks._parse_address(str(host)) is None:
            raise AssertionError(f"{host} was resolved again after the check")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", no_second_lookup)
    assert post(f"https://hooks.example.test:{receiver.port}/ok") == 200
    assert receiver.requests[0]["headers"]["Host"] == f"hooks.example.test:{receiver.port}"
    assert receiver.server_names == ["hooks.example.test"]


def test_the_certificate_is_verified_against_the_host_name_not_the_address(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The certificate names 127.0.0.1 but not other.example.test: the delivery must fail."""
    pin(monkeypatch, {"other.example.test": ["127.0.0.1"]})
    error = failure(f"https://other.example.test:{receiver.port}/ok")
    assert not error.retryable and error.status is None
    assert "certificate" in error.detail.lower()
    assert receiver.requests == []


def test_an_untrusted_certificate_is_refused(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    error = failure(f"{receiver.url}/ok")
    assert "certificate" in error.detail.lower() and not error.retryable
    assert receiver.requests == []


def test_the_next_address_is_tried_when_one_refuses(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    pin(monkeypatch, {"localhost": ["::1", "127.0.0.1"]})
    # nothing listens on [::1]:port (the receiver is IPv4 only), so 127.0.0.1 answers
    assert post(f"https://localhost:{receiver.port}/ok") == 200
    assert receiver.server_names == ["localhost"]


def test_plain_http_works_only_with_allow_private(http_receiver: Receiver) -> None:
    http_receiver.reset()
    assert post(f"{http_receiver.url}/ok", allow_private=True) == 200
    error = failure(f"{http_receiver.url}/ok", allow_private=False)
    assert "scheme" in error.detail and not error.retryable
    assert http_receiver.connections == 1


# -- refused before any connection -------------------------------------------------------------------


@pytest.fixture
def no_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoClient:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise AssertionError("a connection was attempted")

    monkeypatch.setattr(httpx, "AsyncClient", NoClient)


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1.2.3",
        "[::1]",
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.1",
        "169.254.169.254",  # the cloud metadata service
        "[fe80::1]",
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "[::ffff:127.0.0.1]",
        "[::ffff:10.0.0.1]",
        "[::ffff:169.254.169.254]",
        "[64:ff9b::a9fe:a9fe]",  # NAT64 of 169.254.169.254
        "[2002:a00:1::]",  # 6to4 of 10.0.0.1
        "[fd00:ec2::254]",  # the IPv6 metadata service
        "192.0.2.10",  # documentation: not routable
        "[64:ff9b:1::a00:1]",  # local-use NAT64
    ],
)
def test_non_public_targets_are_refused_before_connecting(host: str, no_connection: None) -> None:
    started = time.monotonic()
    error = failure(f"https://{host}/hook", allow_private=False)
    assert time.monotonic() - started < 1.0
    assert error.detail.startswith("refused") and not error.retryable and error.status is None


def test_a_name_resolving_to_loopback_is_refused_without_a_connection(receiver: Receiver) -> None:
    error = failure(f"https://localhost:{receiver.port}/ok", allow_private=False)
    assert error.detail.startswith("refused") and "loopback" in error.detail
    direct = failure(f"{receiver.url}/ok", allow_private=False)
    assert "loopback" in direct.detail
    assert receiver.connections == 0 and receiver.requests == []


def test_any_private_address_among_the_answers_refuses_the_name(
    monkeypatch: pytest.MonkeyPatch, no_connection: None
) -> None:
    pin(monkeypatch, {"mixed.example.test": ["93.184.215.14", "10.1.2.3"]})
    error = failure("https://mixed.example.test/hook", allow_private=False)
    assert "10.1.2.3" in error.detail and "private" in error.detail


@pytest.mark.parametrize(
    ("url", "allow_private", "word"),
    [
        ("http://hooks.example.com/hook", False, "scheme"),
        ("ftp://hooks.example.com/hook", True, "scheme"),
        ("file:///etc/passwd", True, "scheme"),
        ("https://user:secret@hooks.example.com/hook", False, "credentials"),
        ("not a url", False, "refused"),
    ],
)
def test_bad_urls_are_refused_without_resolving(
    url: str, allow_private: bool, word: str, monkeypatch: pytest.MonkeyPatch, no_connection: None
) -> None:
    pin(monkeypatch, {})
    error = failure(url, allow_private=allow_private)
    assert word in error.detail and not error.retryable
    assert "secret" not in error.detail


def test_public_addresses_pass_the_check() -> None:
    import ipaddress

    for text in ("93.184.215.14", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"):
        assert address_problem(ipaddress.ip_address(text)) is None, text


def test_errors_never_quote_the_url_or_header_values(receiver: Receiver) -> None:
    """Teams and Slack webhook URLs carry their secret in the path or query."""
    for path in ("/redirect?sig=TOPSECRET", "/fail?sig=TOPSECRET", "/gone?sig=TOPSECRET", "/nowhere/TOPSECRET"):
        error = failure(f"{receiver.url}{path}")
        assert "TOPSECRET" not in error.detail and "TOPSECRET" not in repr(error), path
    error = failure(f"{receiver.url}/ok", headers={"Authorization": "Bearer TOPSECRET-ü"})
    assert "TOPSECRET" not in error.detail and error.detail.startswith("refused") and not error.retryable
