"""A small authoritative DNS server for tests, benchmarks and the offline demo.

It serves records written in master-file syntax with absolute names (all of them in one
root zone, so one server can hold every test domain), over UDP and TCP, and behaves like
the recursive resolver the scanner normally talks to:

* CNAME chains are followed inside the data and returned whole, like a recursive answer;
* answers larger than the client's EDNS payload are truncated (TC) so the client retries
  over TCP;
* ``!drop NAME`` lines make the server swallow questions at or under NAME (a timeout),
  ``!servfail NAME`` lines make it answer SERVFAIL;
* ``--delay-ms`` holds every answer back, like the round trip to a real resolver.

Run it as a process: ``python -m shared.demo.dnsserver --records FILE --port 0``; it
prints ``READY <host> <port>`` on stdout once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.zone

from shared import aio
from shared.dns import wire

WireRecord = tuple[str, int, int, bytes]  # owner, type, ttl, rdata
Lookup = Callable[[str, int], tuple[int, list[WireRecord]]]


class RecordSet:
    """Records parsed from master-file text, plus the names that drop or fail."""

    def __init__(self, text: str) -> None:
        self.drop: list[dns.name.Name] = []
        self.servfail: list[dns.name.Name] = []
        lines = []
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith("!"):
                directive, _, name = stripped[1:].partition(" ")
                target = {"drop": self.drop, "servfail": self.servfail}.get(directive.lower())
                if target is None:
                    raise ValueError(f"unknown directive {stripped!r}")
                target.append(dns.name.from_text(name.strip()))
            else:
                lines.append(line)
        body = "\n".join(lines)
        self.zone = dns.zone.from_text("$TTL 300\n" + body, origin=dns.name.root, relativize=False, check_origin=False)

    def special(self, qname: str) -> str | None:
        name = dns.name.from_text(qname or ".")
        if any(name.is_subdomain(n) for n in self.drop):
            return "drop"
        if any(name.is_subdomain(n) for n in self.servfail):
            return "servfail"
        return None

    def lookup(self, qname: str, qtype: int) -> tuple[int, list[WireRecord]]:
        """Answer like a recursive resolver would: follow CNAMEs, NXDOMAIN vs NODATA."""
        answer: list[WireRecord] = []
        name = dns.name.from_text(qname or ".")
        for _ in range(10):
            node = self.zone.get_node(name)
            if node is None:
                if self._has_descendant(name):
                    return wire.NOERROR, answer  # empty non-terminal: NODATA
                return wire.NXDOMAIN, answer
            rdataset = node.get_rdataset(dns.rdataclass.IN, qtype)
            if rdataset is not None:
                answer.extend(_records(name, rdataset))
                return wire.NOERROR, answer
            cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
            if cname is None or qtype == wire.CNAME:
                return wire.NOERROR, answer
            answer.extend(_records(name, cname))
            name = cname[0].target
        return wire.SERVFAIL, answer

    def _has_descendant(self, name: dns.name.Name) -> bool:
        return any(n != name and n.is_subdomain(name) for n in self.zone.nodes)


def _records(name: dns.name.Name, rdataset: object) -> list[WireRecord]:
    owner = name.to_text(omit_final_dot=True)
    return [(owner, rdataset.rdtype, rdataset.ttl, rdata.to_wire()) for rdata in rdataset]  # type: ignore[attr-defined]


class Responder:
    """Turns query bytes into answer bytes; caches finished answers (ID patched per query)."""

    def __init__(self, lookup: Lookup, special: Callable[[str], str | None] | None = None) -> None:
        self.lookup = lookup
        self.special = special or (lambda name: None)
        self._cache: dict[tuple[str, int, int], bytes | None] = {}
        self.queries = 0

    def reload(self, lookup: Lookup, special: Callable[[str], str | None] | None = None) -> None:
        self.lookup = lookup
        self.special = special or (lambda name: None)
        self._cache = {}

    def respond(self, data: bytes, *, tcp: bool) -> bytes | None:
        self.queries += 1
        try:
            _, _, qname, qtype, payload = wire.parse_query(data)
        except (wire.WireError, IndexError, ValueError):
            return None
        limit = 65535 if tcp else max(512, payload or 512)
        key = (qname, qtype, limit)
        if key in self._cache:
            cached = self._cache[key]
        else:
            cached = self._build(data, qname, qtype, limit)
            if len(self._cache) < 200_000:
                self._cache[key] = cached
        if cached is None:
            return None
        # This query's ID and its question as asked (letter case included: resolvers check it, 0x20).
        end = 12 + len(wire.encode_name(qname)) + 4
        return data[:2] + cached[2:12] + data[12:end] + cached[end:]

    def _build(self, query: bytes, qname: str, qtype: int, limit: int) -> bytes | None:
        special = self.special(qname)
        if special == "drop":
            return None
        if special == "servfail":
            return wire.build_response(query, wire.SERVFAIL, [])
        rcode, records = self.lookup(qname, qtype)
        return wire.build_response(query, rcode, records, max_size=limit)


class _UdpServer(asyncio.DatagramProtocol):
    def __init__(self, responder: Responder, delay: float) -> None:
        self.responder = responder
        self.delay = delay
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        answer = self.responder.respond(data, tcp=False)
        if answer is None or self.transport is None:
            return
        if self.delay:
            asyncio.get_running_loop().call_later(self.delay, self.transport.sendto, answer, addr)
        else:
            self.transport.sendto(answer, addr)


async def serve(responder: Responder, host: str, port: int, delay: float) -> tuple[str, int]:
    """Listen on UDP and TCP (same port); return the bound address.

    With ``port=0`` the kernel picks a free UDP port, but the same number may be taken for TCP
    (another test's listener or an ephemeral client port), so a clash is retried with a new pick."""
    loop = asyncio.get_running_loop()

    async def handle_tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                size = int.from_bytes(await reader.readexactly(2), "big")
                answer = responder.respond(await reader.readexactly(size), tcp=True)
                if answer is None:
                    continue
                if delay:
                    await asyncio.sleep(delay)
                writer.write(len(answer).to_bytes(2, "big") + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    for attempt in range(50):
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _UdpServer(responder, delay), local_addr=(host, port)
        )
        bound = transport.get_extra_info("sockname")[:2]
        try:
            await asyncio.start_server(handle_tcp, bound[0], bound[1])
        except OSError:
            transport.close()
            if port != 0 or attempt == 49:
                raise
            continue
        transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        return bound[0], bound[1]
    raise AssertionError("unreachable")


def main(
    argv: list[str] | None = None,
    lookup_factory: Callable[[], Responder] | None = None,
    on_reload: Callable[[Responder], None] | None = None,
) -> None:
    """Serve until SIGTERM. SIGHUP reloads the records file, or calls ``on_reload`` with the responder
    of a ``lookup_factory`` (a benchmark's world switch)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=Path, help="master-file records (absolute names)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="hold every answer back this long")
    args = parser.parse_args(argv)
    if lookup_factory is not None:
        responder = lookup_factory()
    else:
        records = RecordSet(args.records.read_text(encoding="utf-8"))
        responder = Responder(records.lookup, records.special)

    def reload() -> None:
        """SIGHUP: read the records file again (a changed DNS world, as between two scans of a lead)."""
        if on_reload is not None:
            on_reload(responder)
        else:
            records = RecordSet(args.records.read_text(encoding="utf-8"))
            responder.reload(records.lookup, records.special)
        print("RELOADED", flush=True)

    async def run() -> None:
        host, port = await serve(responder, args.host, args.port, args.delay_ms / 1000)
        print(f"READY {host} {port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if lookup_factory is None or on_reload is not None:
            loop.add_signal_handler(signal.SIGHUP, reload)
        await stop.wait()
        print(f"queries {responder.queries}", file=sys.stderr, flush=True)

    aio.run(run())


if __name__ == "__main__":
    main()
