"""The loopback DNS server used by tests and benchmarks must always come up on one port for UDP and TCP."""

from __future__ import annotations

import asyncio
import socket

import pytest

from shared import aio
from shared.demo import dnsserver


def test_a_tcp_clash_on_the_picked_port_is_retried(monkeypatch):
    """The kernel picks a free UDP port; if that number is taken for TCP, serve() picks again."""
    real_start_server = asyncio.start_server
    calls: list[int] = []

    async def clashing_once(handler, host, port):
        calls.append(port)
        if len(calls) == 1:
            raise OSError(98, "Address already in use")
        return await real_start_server(handler, host, port)

    monkeypatch.setattr(dnsserver.asyncio, "start_server", clashing_once)

    async def run() -> tuple[str, int]:
        responder = dnsserver.Responder(lambda *args: None)
        return await dnsserver.serve(responder, "127.0.0.1", 0, 0)

    host, port = aio.run(run())
    assert len(calls) >= 2 and port == calls[-1]  # (busy machines clash for real now and then)


def test_a_taken_fixed_port_is_an_error_not_a_silent_other_port():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        async def run() -> None:
            responder = dnsserver.Responder(lambda *args: None)
            await dnsserver.serve(responder, "127.0.0.1", port, 0)

        with pytest.raises(OSError):
            aio.run(run())
