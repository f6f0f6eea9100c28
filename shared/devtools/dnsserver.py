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

Run it as a process: ``python -m shared.devtools.dnsserver --records FILE --port 0``; it
prints ``READY <host> <port>`` on stdout once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

Lookup = Callable[[dns.name.Name, int], tuple[int, list[dns.rrset.RRset]]]


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

    def special(self, qname: dns.name.Name) -> str | None:
        if any(qname.is_subdomain(n) for n in self.drop):
            return "drop"
        if any(qname.is_subdomain(n) for n in self.servfail):
            return "servfail"
        return None

    def lookup(self, qname: dns.name.Name, qtype: int) -> tuple[int, list[dns.rrset.RRset]]:
        """Answer like a recursive resolver would: follow CNAMEs, NXDOMAIN vs NODATA."""
        answer: list[dns.rrset.RRset] = []
        name = qname
        for _ in range(10):
            node = self.zone.get_node(name)
            if node is None:
                if self._has_descendant(name):
                    return dns.rcode.NOERROR, answer  # empty non-terminal: NODATA
                return dns.rcode.NXDOMAIN, answer
            rdataset = node.get_rdataset(dns.rdataclass.IN, qtype)
            if rdataset is not None:
                answer.append(_rrset(name, rdataset))
                return dns.rcode.NOERROR, answer
            cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
            if cname is None or qtype == dns.rdatatype.CNAME:
                return dns.rcode.NOERROR, answer
            answer.append(_rrset(name, cname))
            name = cname[0].target
        return dns.rcode.SERVFAIL, answer

    def _has_descendant(self, name: dns.name.Name) -> bool:
        return any(n != name and n.is_subdomain(name) for n in self.zone.nodes)


def _rrset(name: dns.name.Name, rdataset: object) -> dns.rrset.RRset:
    rrset = dns.rrset.RRset(name, dns.rdataclass.IN, rdataset.rdtype)  # type: ignore[attr-defined]
    rrset.update(rdataset)  # type: ignore[arg-type]
    return rrset


class Responder:
    """Turns query bytes into answer bytes; caches finished answers (ID patched per query)."""

    def __init__(self, lookup: Lookup, special: Callable[[dns.name.Name], str | None] | None = None) -> None:
        self.lookup = lookup
        self.special = special or (lambda name: None)
        self._cache: dict[tuple[dns.name.Name, int, bool], bytes | None] = {}
        self.queries = 0

    def respond(self, wire: bytes, *, tcp: bool) -> bytes | None:
        self.queries += 1
        try:
            query = dns.message.from_wire(wire)
            question = query.question[0]
        except Exception:
            return None
        key = (question.name, question.rdtype, tcp or query.payload > 1232)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._build(query, question.name, question.rdtype, tcp)
            if len(self._cache) < 200_000:
                self._cache[key] = cached
        if cached is None:
            return None
        return wire[:2] + cached[2:]

    def _build(self, query: dns.message.Message, qname: dns.name.Name, qtype: int, tcp: bool) -> bytes | None:
        special = self.special(qname)
        if special == "drop":
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA | dns.flags.AA
        if special == "servfail":
            response.set_rcode(dns.rcode.SERVFAIL)
            return response.to_wire()
        rcode, rrsets = self.lookup(qname, qtype)
        response.set_rcode(rcode)
        response.answer.extend(rrsets)
        limit = 65535 if tcp else max(512, query.payload if query.edns >= 0 else 512)
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            response.answer.clear()
            response.flags |= dns.flags.TC
            return response.to_wire()


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
    """Listen on UDP and TCP (same port); return the bound address."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: _UdpServer(responder, delay), local_addr=(host, port))
    sock = transport.get_extra_info("socket")
    import socket as _socket

    sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_RCVBUF, 8 << 20)
    bound = transport.get_extra_info("sockname")[:2]

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

    await asyncio.start_server(handle_tcp, bound[0], bound[1])
    return bound[0], bound[1]


def main(argv: list[str] | None = None, lookup_factory: Callable[[], Responder] | None = None) -> None:
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

    async def run() -> None:
        host, port = await serve(responder, args.host, args.port, args.delay_ms / 1000)
        print(f"READY {host} {port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        print(f"queries {responder.queries}", file=sys.stderr, flush=True)

    asyncio.run(run())


if __name__ == "__main__":
    main()
