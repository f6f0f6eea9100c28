"""shared/integrations/smtp.py against a real SMTP server: aiosmtpd on 127.0.0.1.

The sink speaks real SMTP (EHLO, STARTTLS with a test-CA certificate, AUTH LOGIN/PLAIN, DATA), so
the client is exercised exactly as against Office 365 or an Azure Communication Services relay.
"""

from __future__ import annotations

import email
import logging
import smtplib
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from devtools.msstandins.tls import TestTLS
from shared.core.digest import DigestMessage, render_digest
from shared.integrations import smtp
from shared.integrations.smtp import SmtpSettings, send_mail

USER = "hunter@contoso.example"
PASSWORD = "s3cret-Şifre-do-not-log"  # Turkish letters: smtplib alone cannot send these
ASCII_PASSWORD = "s3cret-ascii-do-not-log"
SENDER = "Hunter Uyarıları <hunter@contoso.example>"
TIMEOUT = 5.0  # every client call in this file is bounded by this


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    authenticated: bool
    tls: bool

    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Recorder:
    """The aiosmtpd handler: keeps what arrived, and the AUTH attempts (mechanism, login, success)."""

    received: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str, bool]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        self.received.append(
            Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                content=content,
                authenticated=bool(session.authenticated),
                tls=session.ssl is not None,
            )
        )
        return "250 OK queued"

    def authenticate(
        self, server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        success = login == USER and password in (PASSWORD, ASCII_PASSWORD)
        self.logins.append((mechanism, login, success))
        return AuthResult(success=success, handled=False)  # handled=False: aiosmtpd answers 235 or 535


class LoopbackController(Controller):
    """aiosmtpd's threaded controller on 127.0.0.1 and a port the kernel picks (no race for a free port)."""

    def __init__(self, handler: Recorder, **smtp_options: Any) -> None:
        super().__init__(handler, hostname="127.0.0.1", port=0, server_hostname="sink.test", **smtp_options)

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class Sink:
    port: int
    recorder: Recorder


@pytest.fixture
def sink_factory() -> Iterator[Any]:
    controllers: list[LoopbackController] = []

    def start(**smtp_options: Any) -> Sink:
        recorder = Recorder()
        options = {"ready_timeout": TIMEOUT, "timeout": TIMEOUT, **smtp_options}
        if "auth" in options:
            options.pop("auth")
            options["authenticator"] = recorder.authenticate
        controller = LoopbackController(recorder, **options)
        controller.start()
        controllers.append(controller)
        return Sink(port=controller.port, recorder=recorder)

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[TestTLS]:
    test_tls = TestTLS(tmp_path / "tls")
    yield test_tls
    test_tls.cleanup()


@pytest.fixture(autouse=True)
def _no_outside_ca(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test says for itself which CA the client trusts."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)


def a_digest() -> DigestMessage:
    events = [
        {
            "type": "lead.hot",
            "timestamp": "2025-12-06T09:30:00Z",
            "data": {
                "event_id": "e1",
                "domain": "şişli-inşaat.com.tr",
                "company_name": "Şişli İnşaat <b>& Ortakları</b>",
                "from": "P3",
                "to": "P1",
                "priority": "P1",
                "score": 91,
                "lead_url": "https://hunter.example.com/#/leads/sisli.com.tr",
            },
        },
        {
            "type": "lead.provider_changed",
            "timestamp": "2025-12-05T09:30:00Z",
            "data": {
                "event_id": "e2",
                "domain": "ığdır-gıda.com.tr",
                "company_name": "Iğdır Gıda",
                "from": "Google",
                "to": "M365",
                "priority": "P2",
                "score": 74,
                "lead_url": "https://hunter.example.com/#/leads/igdir.com.tr",
            },
        },
    ]
    return render_digest(
        events,
        lang="tr",
        period_start=datetime(2025, 12, 4, tzinfo=UTC),
        period_end=datetime(2025, 12, 11, tzinfo=UTC),
        hunter_url="https://hunter.example.com/",
    )


def settings(port: int, **overrides: Any) -> SmtpSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "sender": SENDER,
        "starttls": False,
        "timeout": TIMEOUT,
    }
    values.update(overrides)
    return SmtpSettings(**values)


def normalised(text: str) -> str:
    return text.replace("\r\n", "\n")


def test_a_digest_arrives_as_multipart_alternative_with_its_turkish_subject(sink_factory: Any) -> None:
    sink = sink_factory()
    digest = a_digest()
    assert digest.subject == "Hunter: 2 değişiklik, 1 yeni sıcak müşteri (4–11 Aralık)"

    message_id = send_mail(
        settings(sink.port),
        ["satis@contoso.example", "Ayşe Yılmaz <ayse@contoso.example>"],
        digest,
        message_id_domain="hunter.contoso.example",
    )

    [received] = sink.recorder.received
    assert received.mail_from == "hunter@contoso.example"
    assert received.rcpt_tos == ["satis@contoso.example", "ayse@contoso.example"]
    assert not received.authenticated and not received.tls
    raw_headers = received.content.split(b"\r\n\r\n", 1)[0]
    assert raw_headers.isascii()  # the Turkish letters travel as RFC 2047 encoded words, not raw bytes
    assert b"=?utf-8?" in raw_headers.lower()

    mail = received.message()
    assert mail["Subject"] == digest.subject  # decodes back with ğ, ş, ı, ü intact
    assert mail["Message-ID"] == message_id
    assert message_id.startswith("<") and message_id.endswith("@hunter.contoso.example>")
    assert mail["From"].addresses[0].display_name == "Hunter Uyarıları"
    assert mail["From"].addresses[0].addr_spec == "hunter@contoso.example"
    assert [a.addr_spec for a in mail["To"].addresses] == ["satis@contoso.example", "ayse@contoso.example"]
    assert mail["To"].addresses[1].display_name == "Ayşe Yılmaz"
    sent_at = email.utils.parsedate_to_datetime(mail["Date"])
    assert abs((sent_at - datetime.now(UTC)).total_seconds()) < 120

    assert mail.get_content_type() == "multipart/alternative"
    parts = list(mail.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]  # text first: the fallback
    assert all(part.get_content_charset() == "utf-8" for part in parts)
    assert normalised(parts[0].get_content()) == digest.text
    assert normalised(parts[1].get_content()) == digest.html
    assert "Şişli İnşaat &lt;b&gt;&amp; Ortakları&lt;/b&gt;" in parts[1].get_content()


@pytest.mark.parametrize("password", [ASCII_PASSWORD, PASSWORD], ids=["ascii", "turkish"])
@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
def test_auth_with_username_and_password(
    sink_factory: Any, mechanism: str, password: str, caplog: pytest.LogCaptureFixture
) -> None:
    other = {"LOGIN": "PLAIN", "PLAIN": "LOGIN"}[mechanism]
    sink = sink_factory(auth=True, auth_require_tls=False, auth_exclude_mechanism=[other])
    caplog.set_level(logging.DEBUG, logger="hunter")

    send_mail(settings(sink.port, username=USER, password=password), ["satis@contoso.example"], a_digest())

    assert sink.recorder.logins == [(mechanism, USER, True)]
    [received] = sink.recorder.received
    assert received.authenticated
    hunter_logs = "\n".join(r.getMessage() + repr(r.__dict__) for r in caplog.records if r.name.startswith("hunter"))
    assert "sent" in hunter_logs and password not in hunter_logs


@pytest.mark.parametrize("wrong", ["wrong-Parola", "yanlış-Parola"])
def test_a_wrong_password_is_refused_and_never_shown(
    sink_factory: Any, wrong: str, caplog: pytest.LogCaptureFixture
) -> None:
    sink = sink_factory(auth=True, auth_require_tls=False)
    caplog.set_level(logging.DEBUG, logger="hunter")
    config = SmtpSettings(
        host="127.0.0.1",
        port=sink.port,
        username=USER,
        password=wrong,
        sender=SENDER,
        starttls=False,
        timeout=TIMEOUT,
    )
    assert wrong not in repr(config)

    with pytest.raises(smtplib.SMTPAuthenticationError) as caught:
        send_mail(config, ["satis@contoso.example"], a_digest())

    assert wrong not in str(caught.value)
    assert sink.recorder.received == []
    assert all(wrong not in r.getMessage() for r in caplog.records if r.name.startswith("hunter"))


def test_starttls_then_auth_with_a_certificate_from_the_test_ca(
    sink_factory: Any, tls: TestTLS, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The Office 365 path: STARTTLS required by the server, AUTH only inside TLS (aiosmtpd's default).
    sink = sink_factory(tls_context=tls.server_context(), require_starttls=True, auth=True, auth_required=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca_path))

    send_mail(
        settings(sink.port, starttls=True, username=USER, password=PASSWORD), ["satis@contoso.example"], a_digest()
    )

    [received] = sink.recorder.received
    assert received.tls and received.authenticated
    assert received.message()["Subject"] == a_digest().subject


def test_starttls_verifies_the_server_certificate(sink_factory: Any, tls: TestTLS) -> None:
    sink = sink_factory(tls_context=tls.server_context(), require_starttls=True)
    # No SSL_CERT_FILE: the client trusts only the public roots, and the test CA is not one of them.
    with pytest.raises(ssl.SSLCertVerificationError):
        send_mail(settings(sink.port, starttls=True), ["satis@contoso.example"], a_digest())
    assert sink.recorder.received == []


def test_starttls_on_a_server_without_it_fails_instead_of_sending_in_clear(sink_factory: Any) -> None:
    sink = sink_factory()  # no tls_context: STARTTLS is not offered
    with pytest.raises(smtplib.SMTPNotSupportedError):
        send_mail(
            settings(sink.port, starttls=True, username=USER, password=PASSWORD), ["a@contoso.example"], a_digest()
        )
    assert sink.recorder.received == []


@pytest.mark.parametrize(
    ("change", "to"),
    [
        ({"subject": "Hunter\r\nBcc: victim@evil.example"}, ["satis@contoso.example"]),
        ({"subject": "Hunter\nX-Injected: 1"}, ["satis@contoso.example"]),
        ({}, ["satis@contoso.example\r\nBcc: victim@evil.example"]),
        ({}, ["satis@contoso.example", "other@contoso.example\n"]),
        ({"sender": "hunter@contoso.example\rBcc: victim@evil.example"}, ["satis@contoso.example"]),
        ({}, []),
        ({}, ["not an address"]),
        ({"sender": ""}, ["satis@contoso.example"]),
    ],
)
def test_header_injection_is_refused_before_connecting(
    change: dict[str, str], to: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_connection(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("send_mail connected although the message was refused")

    monkeypatch.setattr(smtp.smtplib, "SMTP", no_connection)
    digest = a_digest()
    if "subject" in change:
        digest = DigestMessage(subject=change["subject"], text=digest.text, html=digest.html)
    config = settings(25, sender=change.get("sender", SENDER))
    with pytest.raises(ValueError):
        send_mail(config, to, digest)


def test_a_refused_connection_raises_oserror_quickly() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there now
    started = time.monotonic()
    with pytest.raises(OSError):
        send_mail(settings(port, timeout=2.0), ["satis@contoso.example"], a_digest())
    assert time.monotonic() - started < 3.0


def test_a_silent_server_times_out_within_the_timeout() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts the connection, never says a word (no 220 greeting)
        started = time.monotonic()
        with pytest.raises(OSError):
            send_mail(settings(listener.getsockname()[1], timeout=0.5), ["satis@contoso.example"], a_digest())
        assert time.monotonic() - started < 3.0
