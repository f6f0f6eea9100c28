"""Sending one e-mail (the change-alert digest) over SMTP with STARTTLS and optional AUTH.

Works with the relays Hunter is deployed against:

* **Office 365** — ``smtp.office365.com``, port 587, ``starttls=True``, ``username``/``password`` of a
  mailbox with SMTP AUTH enabled; ``sender`` must be that mailbox (or one it may send as).
* **Azure Communication Services** — ``smtp.azurecomm.net``, port 587, ``starttls=True``; the
  username is the ACS SMTP username (or ``<resource>.<app id>.<tenant id>``), the password the Entra
  app's client secret; ``sender`` must be a verified MailFrom address of the connected domain.
* Any other relay that speaks SMTP on submission: a local relay can use ``starttls=False``.

TLS always verifies the server certificate and host name: the client context is
``shared.integrations.identity.ssl_context()`` (which honours ``SSL_CERT_FILE`` /
``REQUESTS_CA_BUNDLE``), falling back to ``ssl.create_default_context()``. A server that does not
offer STARTTLS when ``starttls`` is on is an error, never a silent clear-text send.

Headers are built from checked values: an address, the sender or the subject holding a line break
(CR, LF or another control character) is refused with ValueError before any connection is made.
The password is never logged (nor shown by ``repr(settings)``); smtplib's debug output, which
would print the AUTH exchange, stays off.
"""

from __future__ import annotations

import base64
import logging
import re
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, getaddresses, make_msgid

from shared.core.digest import DigestMessage
from shared.integrations import identity

log = logging.getLogger("hunter.integrations.smtp")

# CR and LF above all (header injection), and every other C0 control, DEL and the Unicode line breaks.
_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a repr, a log line or an error
    sender: str = ""  # "hunter@contoso.com" or "Hunter <hunter@contoso.com>"
    starttls: bool = True
    timeout: float = 30.0  # seconds, for the connection and every command


def _check_header(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} is empty")
    if _LINE_BREAKS.search(value):
        raise ValueError(f"{what} contains a line break or control character")
    return value


def _mailbox(value: object, what: str) -> str:
    """The envelope address of ``value`` (``Name <a@b>`` or ``a@b``), after the header check."""
    text = _check_header(value, what)
    parsed = getaddresses([text])
    address = parsed[0][1] if len(parsed) == 1 else ""
    if not address or "@" not in address or any(ch.isspace() for ch in address) or address.startswith("@"):
        raise ValueError(f"{what} is not an e-mail address")
    return address


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    """AUTH with the strongest mechanism both sides know. smtplib encodes credentials as ASCII, so a
    password with Turkish letters (``Şifre``) would die in ``UnicodeEncodeError``; such credentials go as
    UTF-8 (RFC 4616) through AUTH PLAIN, or LOGIN when PLAIN is not offered."""
    if username.isascii() and password.isascii():
        smtp.login(username, password)
        return
    smtp.ehlo_or_helo_if_needed()
    if not smtp.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server.")
    offered = (smtp.esmtp_features.get("auth") or "").upper().split()

    def b64(text: str) -> str:
        return base64.b64encode(text.encode("utf-8")).decode("ascii")

    if "PLAIN" in offered:
        code, response = smtp.docmd("AUTH", "PLAIN " + b64(f"\0{username}\0{password}"))
    elif "LOGIN" in offered:
        code, response = smtp.docmd("AUTH", "LOGIN " + b64(username))
        if code == 334:
            code, response = smtp.docmd(b64(password))
    else:
        raise smtplib.SMTPException(
            "no AUTH mechanism for UTF-8 credentials (the server offers neither PLAIN nor LOGIN)"
        )
    if code not in (235, 503):  # 503: already authenticated
        raise smtplib.SMTPAuthenticationError(code, response)


def tls_context() -> ssl.SSLContext:
    """The verifying client context for STARTTLS: Hunter's (honours ``SSL_CERT_FILE``) or Python's default."""
    context = identity.ssl_context()
    return context if isinstance(context, ssl.SSLContext) else ssl.create_default_context()


def build_message(
    settings: SmtpSettings, to: list[str], message: DigestMessage, *, message_id_domain: str = "hunter.local"
) -> tuple[EmailMessage, str, list[str]]:
    """The ``multipart/alternative`` message (text, then HTML), its envelope sender and recipients.

    Raises ValueError for an empty or multi-line address, sender, subject or Message-ID domain."""
    if isinstance(to, str) or not to:
        raise ValueError("the message needs a list of one or more recipients")
    sender = _mailbox(settings.sender, "the sender")
    recipients = [_mailbox(address, "a recipient address") for address in to]
    subject = _check_header(message.subject, "the subject")
    domain = _check_header(message_id_domain, "the Message-ID domain")
    if any(ch.isspace() or ch in "<>@" for ch in domain):
        raise ValueError("the Message-ID domain is not a host name")

    email = EmailMessage(policy=SMTP_POLICY)
    email["From"] = settings.sender
    email["To"] = ", ".join(to)
    email["Subject"] = subject  # non-ASCII is RFC 2047 encoded-words in UTF-8 by the policy
    email["Date"] = formatdate(usegmt=True)
    message_id = make_msgid(domain=domain)
    email["Message-ID"] = message_id
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to a robot
    # Quoted-printable keeps both parts 7-bit clean for any relay, with or without 8BITMIME.
    email.set_content(message.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    email.add_alternative(message.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return email, sender, recipients


def send_mail(
    settings: SmtpSettings, to: list[str], message: DigestMessage, *, message_id_domain: str = "hunter.local"
) -> str:
    """Send ``message`` to ``to`` through the relay of ``settings``; returns the Message-ID (``<…@domain>``).

    Office 365 (``smtp.office365.com:587``, STARTTLS, mailbox AUTH) and Azure Communication Services
    (``smtp.azurecomm.net:587``, STARTTLS, Entra app AUTH) both work with the defaults plus a username,
    password and sender. Connects with ``smtplib.SMTP(host, port, timeout=settings.timeout)``, does
    STARTTLS when ``settings.starttls`` (verifying, ``SSL_CERT_FILE`` honoured), logs in when a username
    is given, sends and quits.

    Raises ValueError (before connecting) for a CR/LF in an address, the sender or the subject;
    ``OSError`` for a refused or timed-out connection or a TLS failure; ``smtplib.SMTPException`` (an
    ``OSError`` too) for a refusal by the server: no STARTTLS offered, wrong credentials, a rejected
    recipient."""
    email, sender, recipients = build_message(settings, to, message, message_id_domain=message_id_domain)
    host = _check_header(settings.host, "the SMTP host")
    message_id = str(email["Message-ID"])
    if settings.username and not settings.starttls and host.lower() not in _LOOPBACK:
        log.warning(
            "smtp: signing in to %s:%s without STARTTLS: the password crosses the network in clear", host, settings.port
        )

    smtp = smtplib.SMTP(host, settings.port, timeout=settings.timeout)
    try:
        smtp.ehlo()
        if settings.starttls:
            smtp.starttls(context=tls_context())  # SMTPNotSupportedError when the server does not offer it
            smtp.ehlo()
        if settings.username:
            _login(smtp, settings.username, settings.password or "")
        refused = smtp.send_message(email, from_addr=sender, to_addrs=recipients)
    except BaseException:
        smtp.close()
        raise
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError) as exc:  # the message is already accepted: not a failure
        log.info("smtp: QUIT to %s:%s failed after sending (%s)", host, settings.port, type(exc).__name__)
        smtp.close()
    log.info(
        "smtp: sent %s to %d recipient(s) via %s:%s",
        message_id,
        len(recipients) - len(refused),
        host,
        settings.port,
        extra={"refused_recipients": len(refused)} if refused else None,
    )
    return message_id
