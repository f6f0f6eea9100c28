"""A small, fast DNS wire codec for the record types the scanner reads.

dnspython builds and parses every kind of DNS message, and it does so with rich immutable
objects: about 200 µs of CPU per question and answer. The scanner asks ~20 questions per
domain at hundreds of domains per second, so on two cores that cost alone caps it near 120
domains/s. This module handles just the scanner's part of RFC 1035/6891 — one question with
an EDNS0 OPT record out; header, question and the A, AAAA, CNAME, MX, NS, PTR and TXT records of
the answer section back (other types are skipped) — with plain ``bytes`` and ``str`` in
about 10 µs. It is checked against dnspython by property tests (tests/unit/test_dns_wire.py);
dnspython stays the reference and is still used for the zone data of the test server.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import NamedTuple

A, NS, CNAME, SOA, PTR, MX, TXT, AAAA, OPT = 1, 2, 5, 6, 12, 15, 16, 28, 41
TYPES = {"A": A, "NS": NS, "CNAME": CNAME, "SOA": SOA, "PTR": PTR, "MX": MX, "TXT": TXT, "AAAA": AAAA}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
FLAG_QR, FLAG_AA, FLAG_TC, FLAG_RD, FLAG_RA = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}

_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
_QTAIL = struct.Struct("!HH")
_OPT = struct.Struct("!HHIH")


class WireError(ValueError):
    """The bytes are not a DNS message this codec can read."""


class Mx(NamedTuple):
    preference: int
    exchange: str


class Record(NamedTuple):
    owner: str  # lower-case, no trailing dot
    rdtype: int
    ttl: int
    value: object  # str (A, AAAA, CNAME, NS, PTR, TXT joined), Mx, or bytes for other types


class Response(NamedTuple):
    id: int
    flags: int
    rcode: int
    qname: str  # lower-case
    qtype: int
    answers: list[Record]
    qname_as_sent: str = ""  # the question's name with the case the server echoed (0x20 checks)

    @property
    def truncated(self) -> bool:
        return bool(self.flags & FLAG_TC)


# -- names ----------------------------------------------------------------------------------


def encode_name(name: str) -> bytes:
    """``"mail.example.com"`` → length-prefixed labels ending in the root (no compression)."""
    name = name.rstrip(".")
    if not name:
        return b"\x00"
    out = bytearray()
    for label in name.split("."):
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise WireError(f"label {label!r} must be 1 to 63 bytes")
        out.append(len(raw))
        out += raw
    out.append(0)
    if len(out) > 255:
        raise WireError("name longer than 255 bytes")
    return bytes(out)


def decode_name(wire: bytes, offset: int, *, keep_case: bool = False) -> tuple[str, int]:
    """Read a possibly compressed name at ``offset`` → (name, offset after it); lower-case unless ``keep_case``."""
    labels: list[str] = []
    end = -1
    jumps = 0
    size = len(wire)
    while True:
        if offset >= size:
            raise WireError("name runs past the end of the message")
        length = wire[offset]
        if length == 0:
            offset += 1
            break
        if length & 0xC0 == 0xC0:
            if offset + 1 >= size:
                raise WireError("truncated compression pointer")
            if end < 0:
                end = offset + 2
            jumps += 1
            if jumps > 64:
                raise WireError("compression pointer loop")
            offset = ((length & 0x3F) << 8) | wire[offset + 1]
            continue
        if length & 0xC0:
            raise WireError("unsupported label type")
        offset += 1
        label = wire[offset : offset + length].decode("ascii", "replace")
        labels.append(label if keep_case else label.lower())
        offset += length
    return ".".join(labels), (end if end >= 0 else offset)


# -- queries --------------------------------------------------------------------------------


def build_query(qid: int, name: str, qtype: int, *, payload: int = 1232, rd: bool = True) -> bytes:
    """One question with an EDNS0 OPT record advertising ``payload`` bytes (RFC 6891)."""
    return query_for(qid, question(name, qtype), payload=payload, rd=rd)


def question(name: str, qtype: int) -> bytes:
    """The question section of a query for (``name``, ``qtype``, IN): the encoded name, type and class."""
    return encode_name(name) + _QTAIL.pack(qtype, 1)


def query_for(qid: int, question: bytes, *, payload: int = 1232, rd: bool = True) -> bytes:
    """:func:`build_query` from a :func:`question` already encoded (the client encodes each name once)."""
    parts = _QUERY_PARTS.get((payload, rd))
    if parts is None:  # the header after the ID, and the OPT record: the same for every query
        header = _HEADER.pack(0, FLAG_RD if rd else 0, 1, 0, 0, 1)[2:]
        parts = _QUERY_PARTS[(payload, rd)] = (header, b"\x00" + _OPT.pack(OPT, payload, 0, 0))
    return b"".join((qid.to_bytes(2, "big"), parts[0], question, parts[1]))


_QUERY_PARTS: dict[tuple[int, bool], tuple[bytes, bytes]] = {}


def parse_query(wire: bytes) -> tuple[int, int, str, int, int | None]:
    """(id, flags, qname, qtype, EDNS payload or None) of a query."""
    try:
        return _parse_query(wire)
    except struct.error as exc:
        raise WireError(f"truncated query ({exc})") from None


def _parse_query(wire: bytes) -> tuple[int, int, str, int, int | None]:
    if len(wire) < 12:
        raise WireError("shorter than a DNS header")
    qid, flags, qdcount, _, _, arcount = _HEADER.unpack_from(wire)
    if qdcount != 1:
        raise WireError("expected exactly one question")
    qname, offset = decode_name(wire, 12)
    qtype, _ = _QTAIL.unpack_from(wire, offset)
    offset += 4
    payload = None
    for _ in range(arcount):
        _, offset = decode_name(wire, offset)
        rdtype, rdclass, _, rdlen = _RR.unpack_from(wire, offset)
        offset += 10 + rdlen
        if rdtype == OPT:
            payload = rdclass
    return qid, flags, qname, qtype, payload


# -- responses ------------------------------------------------------------------------------


def encode_rdata(rdtype: int, value: object) -> bytes:
    """Record data for the types the scanner reads; ``bytes`` passes through unchanged."""
    if isinstance(value, bytes):
        return value
    if rdtype == A:
        return ipaddress.IPv4Address(value).packed  # type: ignore[arg-type]
    if rdtype == AAAA:
        return ipaddress.IPv6Address(value).packed  # type: ignore[arg-type]
    if rdtype in (CNAME, NS, PTR):
        return encode_name(str(value))
    if rdtype == MX:
        mx = value if isinstance(value, Mx) else Mx(*value)  # type: ignore[misc]
        return struct.pack("!H", mx.preference) + encode_name(mx.exchange)
    if rdtype == TXT:
        strings = [value] if isinstance(value, str) else list(value)  # type: ignore[arg-type]
        out = bytearray()
        for s in strings:
            raw = s.encode("utf-8")
            for start in range(0, max(1, len(raw)), 255):  # one character-string holds 255 bytes
                chunk = raw[start : start + 255]
                out.append(len(chunk))
                out += chunk
        return bytes(out)
    raise WireError(f"cannot encode type {rdtype}")


def build_response(
    query: bytes, rcode: int, records: list[tuple[str, int, int, bytes]], *, max_size: int = 65535
) -> bytes:
    """Answer ``query`` with ``records`` = (owner, type, ttl, rdata); sets TC when over ``max_size``."""
    qid, flags, qname, qtype, _ = parse_query(query)
    # The question goes back exactly as asked, letter case included, as authoritative servers do
    # (a resolver's 0x20 check compares it).
    question = encode_name(decode_name(query, 12, keep_case=True)[0]) + _QTAIL.pack(qtype, 1)
    body = bytearray()
    for owner, rdtype, ttl, rdata in records:
        body += encode_name(owner) + _RR.pack(rdtype, 1, ttl, len(rdata)) + rdata
    out_flags = FLAG_QR | FLAG_AA | FLAG_RA | (flags & FLAG_RD) | (rcode & 0xF)
    count = len(records)
    if 12 + len(question) + len(body) > max_size:
        out_flags |= FLAG_TC
        body, count = bytearray(), 0
    return _HEADER.pack(qid, out_flags, 1, count, 0, 0) + question + bytes(body)


def parse_response(wire: bytes) -> Response:
    """Header, question and answer records of a response; raises :class:`WireError` if malformed."""
    try:
        if len(wire) < 12:
            raise WireError("shorter than a DNS header")
        qid, flags, qdcount, ancount, _, _ = _HEADER.unpack_from(wire)
        offset = 12
        qname, qname_as_sent, qtype = "", "", 0
        for _ in range(qdcount):
            qname_as_sent, offset = decode_name(wire, offset, keep_case=True)
            qname = qname_as_sent.lower()
            qtype, _ = _QTAIL.unpack_from(wire, offset)
            offset += 4
        answers: list[Record] = []
        for _ in range(ancount):
            if qdcount == 1 and wire[offset : offset + 2] == b"\xc0\x0c":  # a pointer to the question's name
                owner, offset = qname, offset + 2
            else:
                owner, offset = decode_name(wire, offset)
            rdtype, _, ttl, rdlen = _RR.unpack_from(wire, offset)
            offset += 10
            end = offset + rdlen
            if end > len(wire):
                raise WireError("record data runs past the end of the message")
            if rdtype == A and rdlen == 4:
                value: object = ".".join(map(str, wire[offset:end]))
            elif rdtype == AAAA and rdlen == 16:
                value = str(ipaddress.IPv6Address(wire[offset:end]))
            elif rdtype in (CNAME, NS, PTR):
                value = decode_name(wire, offset)[0]
            elif rdtype == MX:
                value = Mx(struct.unpack_from("!H", wire, offset)[0], decode_name(wire, offset + 2)[0])
            elif rdtype == TXT:
                parts = []
                pos = offset
                while pos < end:
                    length = wire[pos]
                    if pos + 1 + length > end:
                        raise WireError("TXT string runs past its record")
                    parts.append(wire[pos + 1 : pos + 1 + length])
                    pos += 1 + length
                value = b"".join(parts).decode("utf-8", "replace")
            else:
                value = wire[offset:end]
            answers.append(Record(owner, rdtype, ttl, value))
            offset = end
        return Response(qid, flags, flags & 0xF, qname, qtype, answers, qname_as_sent)
    except struct.error as exc:
        raise WireError(f"truncated message ({exc})") from None
