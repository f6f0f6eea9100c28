"""WHOIS through python-whois's parser, asked of a stand-in WHOIS server on loopback."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from shared import aio
from shared.config import Settings
from shared.core.models import ScanStatus
from shared.scan.pipeline import Scanner
from shared.scan.whois import lookup
from tests.integration.zones import RECORDS

TR_ANSWER = """\
** Domain Name: m365.com.tr
Transfer Status: The domain is LOCKED to transfer.

** Registrant:
   M365 Bilişim A.Ş.

** Registrar:
NIC Handle\t\t: tyh14
Organization Name\t: Turkticaret.Net Yazılım Hizmetleri San. ve Tic. A.Ş.

** Additional Info:
Created on..............: 2003-Sep-15.
Expires on..............: 2027-Sep-14.
"""

ANSWER = """\
   Domain Name: M365.COM
   Registry Domain ID: 2336799_DOMAIN_COM-VRSN
   Registrar WHOIS Server: whois.example-registrar.com
   Updated Date: 2025-08-14T07:01:44Z
   Creation Date: 2003-09-15T04:00:00Z
   Registry Expiry Date: 2027-01-10T04:00:00Z
   Registrar: Example Registrar, LLC
   Name Server: NS1.NATROHOST.COM
"""


class WhoisStandIn:
    """A TCP server on 127.0.0.1 speaking the WHOIS protocol (RFC 3912): one line in, text out."""

    def __init__(self, answer: str | None) -> None:
        self.answer = answer
        self.queries: list[str] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self.queries.append(conn.recv(1024).decode().strip())
                if self.answer is None:  # a server that never answers
                    conn.recv(1024)
                    continue
                conn.sendall(self.answer.encode())

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def whois_server() -> Iterator[WhoisStandIn]:
    server = WhoisStandIn(ANSWER)
    yield server
    server.close()


def test_lookup_parses_registration_data(whois_server: WhoisStandIn):
    info = aio.run(lookup("m365.com", server=f"127.0.0.1:{whois_server.port}", timeout=3))
    assert info.error is None
    assert info.registrar == "Example Registrar, LLC"
    assert info.created == datetime(2003, 9, 15, 4, 0, tzinfo=UTC)
    assert info.expires == datetime(2027, 1, 10, 4, 0, tzinfo=UTC)
    assert whois_server.queries == ["m365.com"]


def test_turkish_registry_answer():
    server = WhoisStandIn(TR_ANSWER)
    try:
        info = aio.run(lookup("m365.com.tr", server=f"127.0.0.1:{server.port}", timeout=3))
    finally:
        server.close()
    assert info.registrar == "Turkticaret.Net Yazılım Hizmetleri San. ve Tic. A.Ş."
    assert (info.created.date().isoformat(), info.expires.date().isoformat()) == ("2003-09-15", "2027-09-14")


def test_silent_whois_server_times_out_without_failing_the_scan(dns_server_factory):
    silent = WhoisStandIn(None)
    dns = dns_server_factory(RECORDS)
    settings = Settings(
        dns_nameservers=[dns.address],
        dns_timeout=0.3,
        whois_enabled=True,
        whois_server=f"127.0.0.1:{silent.port}",
        whois_timeout=0.5,
    )

    async def run():
        scanner = Scanner(settings)
        try:
            return (await scanner.scan_row_text("m365.com.tr")).record
        finally:
            await scanner.close()

    try:
        record = aio.run(run())
    finally:
        silent.close()
    assert record.status is ScanStatus.OK and record.provider == "M365"
    assert record.whois is not None and "did not answer" in record.whois.error
    assert record.whois.registrar is None


def test_refused_connection_is_reported():
    info = aio.run(lookup("m365.com.tr", server="127.0.0.1:1", timeout=2))
    assert info.error and info.registrar is None


def test_stuck_whois_threads_never_take_the_default_pool(monkeypatch):
    """python-whois blocks a thread per lookup: stuck servers hold at most WHOIS_THREADS threads of
    WHOIS's own pool, further lookups are skipped at once, and the default pool (lease renewal, the
    store) stays free."""
    import asyncio
    import threading
    import time

    from shared.scan import whois as whois_module

    release = threading.Event()
    entered = []

    def stuck(domain: str, timeout: float) -> str:
        entered.append(domain)
        release.wait(10)  # a server that never finishes its answer
        return ""

    monkeypatch.setattr(whois_module, "_library_lookup", stuck)

    async def run() -> tuple[list, float]:
        lookups = [whois_module.lookup(f"d{i}.com.tr", server=None, timeout=0.3) for i in range(20)]
        infos = await asyncio.gather(*lookups)
        started = time.monotonic()
        await asyncio.gather(*(asyncio.to_thread(lambda: 1) for _ in range(50)))  # the default pool answers
        return infos, time.monotonic() - started

    try:
        infos, default_pool_wait = aio.run(run())
        assert len(entered) == whois_module.WHOIS_THREADS  # never more threads than the bound
        assert all(info.error for info in infos)
        assert sum("skipped" in info.error for info in infos) == 20 - whois_module.WHOIS_THREADS
        assert default_pool_wait < 5  # not queued behind the stuck lookups (which would take 10 s)
    finally:
        release.set()
    deadline = time.monotonic() + 5
    while whois_module._slots._value < whois_module.WHOIS_THREADS and time.monotonic() < deadline:
        time.sleep(0.02)
    assert whois_module._slots._value == whois_module.WHOIS_THREADS  # every slot came back
