"""The fast DNS wire codec, checked against dnspython as the reference implementation."""

from __future__ import annotations

import ipaddress
import struct

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.dns import wire

# -- strategies ----------------------------------------------------------------------------------

_label = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,14}[A-Za-z0-9])?", fullmatch=True)
_names = st.lists(_label, min_size=1, max_size=4).map(".".join)
_TYPES = ["A", "AAAA", "CNAME", "NS", "PTR", "MX", "TXT"]


def _chunks(raw: bytes, sizes: list[int]) -> list[bytes]:
    """Split ``raw`` into character-strings of at most 255 bytes, at sizes drawn by hypothesis."""
    out, pos = [], 0
    for size in sizes:
        if pos >= len(raw):
            break
        out.append(raw[pos : pos + size])
        pos += size
    while pos < len(raw):
        out.append(raw[pos : pos + 255])
        pos += 255
    return out or [b""]


_txt_rdata = st.builds(
    lambda text, sizes: _chunks(text.encode("utf-8"), sizes),
    st.one_of(st.text(max_size=40), st.text(min_size=256, max_size=700)),
    st.lists(st.integers(1, 255), max_size=5),
)


@st.composite
def _rdata(draw: st.DrawFn, rdtype: str) -> dns.rdata.Rdata:
    IN = dns.rdataclass.IN
    kind = dns.rdatatype.from_text(rdtype)
    if rdtype == "A":
        return dns.rdata.from_text(IN, kind, str(draw(st.ip_addresses(v=4))))
    if rdtype == "AAAA":
        return dns.rdata.from_text(IN, kind, str(draw(st.ip_addresses(v=6))))
    if rdtype in ("CNAME", "NS", "PTR"):
        return dns.rdata.from_text(IN, kind, draw(_names) + ".")
    if rdtype == "MX":
        return dns.rdata.from_text(IN, kind, f"{draw(st.integers(0, 65535))} {draw(_names)}.")
    strings = draw(_txt_rdata)
    return dns.rdata.get_rdata_class(IN, kind)(IN, kind, strings)


@st.composite
def _rrsets(draw: st.DrawFn, qname: str) -> list[dns.rrset.RRset]:
    owners = [qname, *draw(st.lists(_names, max_size=2))]
    out = []
    for _ in range(draw(st.integers(0, 5))):
        rdtype = draw(st.sampled_from(_TYPES))
        rdatas = draw(st.lists(_rdata(rdtype), min_size=1, max_size=3))
        owner = draw(st.sampled_from(owners))
        out.append(dns.rrset.from_rdata(owner + ".", draw(st.integers(0, 2**31 - 1)), *rdatas))
    return out


def _expected_value(rdata: dns.rdata.Rdata) -> object:
    """What parse_response should give for one rdata: lower-case names without the dot, joined TXT."""
    kind = rdata.rdtype
    if kind == dns.rdatatype.A:
        return rdata.address
    if kind == dns.rdatatype.AAAA:
        return str(ipaddress.IPv6Address(rdata.address))
    if kind in (dns.rdatatype.CNAME, dns.rdatatype.NS, dns.rdatatype.PTR):
        return rdata.target.to_text(omit_final_dot=True).lower()
    if kind == dns.rdatatype.MX:
        return wire.Mx(rdata.preference, rdata.exchange.to_text(omit_final_dot=True).lower())
    if kind == dns.rdatatype.TXT:
        return b"".join(rdata.strings).decode("utf-8", "replace")
    raise AssertionError(kind)


def _expected_records(message: dns.message.Message) -> list[tuple[str, int, int, object]]:
    return [
        (rrset.name.to_text(omit_final_dot=True).lower(), int(rrset.rdtype), rrset.ttl, _expected_value(rd))
        for rrset in message.answer
        for rd in rrset
    ]


def _response(qid: int, qname: str, qtype: str, rcode: int, rrsets: list[dns.rrset.RRset]) -> dns.message.Message:
    query = dns.message.make_query(qname, qtype, id=qid)
    response = dns.message.make_response(query)
    response.set_rcode(rcode)
    for rrset in rrsets:
        response.answer.append(rrset)
    return response


# -- parse_response vs dnspython -----------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    qid=st.integers(0, 65535),
    qname=_names,
    qtype=st.sampled_from(_TYPES),
    rcode=st.sampled_from([0, 1, 2, 3, 4, 5]),
    data=st.data(),
)
def test_parse_response_matches_dnspython(qid: int, qname: str, qtype: str, rcode: int, data: st.DataObject) -> None:
    """Random compressed responses built by dnspython parse to the same header, question and answers."""
    rrsets = data.draw(_rrsets(qname))
    message = _response(qid, qname, qtype, rcode, rrsets)
    parsed = wire.parse_response(message.to_wire())  # dnspython compresses names
    assert parsed.id == qid
    assert parsed.rcode == rcode
    assert parsed.qname == qname.lower()
    assert parsed.qtype == wire.TYPES[qtype]
    assert parsed.flags & wire.FLAG_QR
    assert not parsed.truncated
    # dnspython shuffles the rdata inside an RRset on output (round-robin), so compare as multisets
    got = [(r.owner, r.rdtype, r.ttl, r.value) for r in parsed.answers]
    assert sorted(got, key=repr) == sorted(_expected_records(message), key=repr)


def test_long_txt_is_joined_across_strings() -> None:
    """A 600-byte TXT (3 character-strings) and a multi-string TXT come back as one string each."""
    long_text = "v=DKIM1; k=rsa; p=" + "A" * 582
    message = _response(
        7,
        "selector1._domainkey.acme.com",
        "TXT",
        0,
        [
            dns.rrset.from_rdata(
                "selector1._domainkey.acme.com.",
                300,
                dns.rdata.from_text("IN", "TXT", " ".join(f'"{long_text[i : i + 255]}"' for i in range(0, 600, 255))),
                dns.rdata.from_text("IN", "TXT", '"v=spf1 " "include:_spf.google.com" " ~all"'),
            )
        ],
    )
    parsed = wire.parse_response(message.to_wire())
    assert sorted(r.value for r in parsed.answers) == sorted([long_text, "v=spf1 include:_spf.google.com ~all"])


def test_mixed_case_names_are_lower_cased() -> None:
    message = _response(
        1,
        "Mail.Example.COM",
        "MX",
        0,
        [dns.rrset.from_text("MAIL.example.com.", 60, "IN", "MX", "10 MX1.Example.Com.", "20 mx1.EXAMPLE.com.")],
    )
    parsed = wire.parse_response(message.to_wire())
    assert parsed.qname == "mail.example.com"
    assert sorted((r.owner, r.value) for r in parsed.answers) == [
        ("mail.example.com", wire.Mx(10, "mx1.example.com")),
        ("mail.example.com", wire.Mx(20, "mx1.example.com")),
    ]


def test_other_types_keep_raw_rdata() -> None:
    """Types the scanner does not decode (SOA here) are returned as their raw rdata bytes."""
    message = _response(
        1,
        "acme.com",
        "SOA",
        0,
        [dns.rrset.from_text("acme.com.", 60, "IN", "SOA", "ns1.acme.com. h.acme.com. 1 2 3 4 5")],
    )
    parsed = wire.parse_response(message.to_wire())
    assert len(parsed.answers) == 1
    assert parsed.answers[0].rdtype == wire.SOA
    assert isinstance(parsed.answers[0].value, bytes)


# -- build_query ---------------------------------------------------------------------------------


@settings(max_examples=200)
@given(qid=st.integers(0, 65535), name=_names, qtype=st.sampled_from(_TYPES))
def test_build_query_is_read_by_dnspython(qid: int, name: str, qtype: str) -> None:
    """One question, RD set, EDNS0 with a 1232-byte payload."""
    message = dns.message.from_wire(wire.build_query(qid, name, wire.TYPES[qtype]))
    assert message.id == qid
    assert len(message.question) == 1
    question = message.question[0]
    assert question.name == dns.name.from_text(name)
    assert question.rdtype == dns.rdatatype.from_text(qtype)
    assert question.rdclass == dns.rdataclass.IN
    assert message.flags & dns.flags.RD
    assert not message.flags & dns.flags.QR
    assert message.edns == 0
    assert message.payload == 1232
    assert wire.parse_query(wire.build_query(qid, name, wire.TYPES[qtype])) == (
        qid,
        wire.FLAG_RD,
        name.lower(),
        wire.TYPES[qtype],
        1232,
    )


def test_build_query_options() -> None:
    message = dns.message.from_wire(wire.build_query(9, "acme.com", wire.A, payload=4096, rd=False))
    assert not message.flags & dns.flags.RD
    assert message.payload == 4096


@pytest.mark.parametrize("name", ["a" * 64 + ".com", "a..com", ".".join(["abcdefghi"] * 30)])
def test_encode_name_rejects_bad_names(name: str) -> None:
    with pytest.raises(wire.WireError):
        wire.encode_name(name)


def test_encode_name_root_and_trailing_dot() -> None:
    assert wire.encode_name("") == b"\x00"
    assert wire.encode_name("acme.com.") == wire.encode_name("acme.com") == b"\x04acme\x03com\x00"


# -- build_response ------------------------------------------------------------------------------

_values = {
    "A": st.ip_addresses(v=4).map(str),
    "AAAA": st.ip_addresses(v=6).map(str),
    "CNAME": _names.map(str.lower),
    "NS": _names.map(str.lower),
    "PTR": _names.map(str.lower),
    "MX": st.builds(wire.Mx, st.integers(0, 65535), _names.map(str.lower)),
    "TXT": st.text(alphabet=st.characters(codec="ascii", min_codepoint=32), max_size=600),
}


@st.composite
def _records(draw: st.DrawFn, qname: str) -> list[tuple[str, str, int, object]]:
    out: list[tuple[str, str, int, object]] = []
    for _ in range(draw(st.integers(0, 6))):
        rdtype = draw(st.sampled_from(_TYPES))
        owner = draw(st.sampled_from([qname.lower(), "other.example"]))
        if rdtype == "CNAME" and any(o == owner and t == "CNAME" for o, t, _, _ in out):
            continue  # a CNAME is a singleton per owner; dnspython keeps only the last
        out.append((owner, rdtype, draw(st.integers(0, 2**31 - 1)), draw(_values[rdtype])))
    return out


@settings(max_examples=200, deadline=None)
@given(qid=st.integers(0, 65535), qname=_names, rcode=st.sampled_from([0, 2, 3, 5]), data=st.data())
def test_build_response_is_read_by_dnspython(qid: int, qname: str, rcode: int, data: st.DataObject) -> None:
    """dnspython reads back exactly the records given; our own parser agrees."""
    records = data.draw(_records(qname))
    query = wire.build_query(qid, qname, wire.MX)
    out = wire.build_response(
        query, rcode, [(o, wire.TYPES[t], ttl, wire.encode_rdata(wire.TYPES[t], v)) for o, t, ttl, v in records]
    )
    message = dns.message.from_wire(out)
    assert message.id == qid
    assert message.rcode() == rcode
    assert message.flags & dns.flags.QR
    assert message.flags & dns.flags.RD  # copied from the query
    assert not message.flags & dns.flags.TC
    assert message.question[0].name == dns.name.from_text(qname)
    assert message.question[0].rdtype == dns.rdatatype.MX

    got = sorted(
        (rrset.name.to_text(omit_final_dot=True), dns.rdatatype.to_text(rrset.rdtype), repr(_expected_value(rd)))
        for rrset in message.answer
        for rd in rrset
    )
    # dnspython merges equal rdata of one RRset, so compare sets of distinct records
    want = sorted({(o, t, repr(v)) for o, t, _, v in records})
    assert sorted(set(got)) == want

    parsed = wire.parse_response(out)
    assert [(r.owner, wire.TYPE_NAMES[r.rdtype], r.ttl, r.value) for r in parsed.answers] == records


def test_build_response_without_rd() -> None:
    out = wire.build_response(wire.build_query(1, "acme.com", wire.A, rd=False), 0, [])
    assert not dns.message.from_wire(out).flags & dns.flags.RD


def _big_records(count: int) -> list[tuple[str, int, int, bytes]]:
    return [("acme.com", wire.TXT, 60, wire.encode_rdata(wire.TXT, "x" * 200)) for _ in range(count)]


def test_truncation_sets_tc_and_drops_answers() -> None:
    """Over max_size: TC is set, the answer section is empty, the question is kept."""
    query = wire.build_query(5, "acme.com", wire.TXT)
    full = wire.build_response(query, 0, _big_records(10))
    out = wire.build_response(query, 0, _big_records(10), max_size=512)
    assert len(full) > 512
    assert len(out) <= 512
    message = dns.message.from_wire(out)
    assert message.flags & dns.flags.TC
    assert message.answer == []
    assert message.question[0].name == dns.name.from_text("acme.com")
    parsed = wire.parse_response(out)
    assert parsed.truncated
    assert parsed.answers == []


def test_truncation_boundary_is_inclusive() -> None:
    """A response of exactly max_size bytes fits; one byte less truncates."""
    query = wire.build_query(5, "acme.com", wire.TXT)
    size = len(wire.build_response(query, 0, _big_records(3)))
    assert not wire.parse_response(wire.build_response(query, 0, _big_records(3), max_size=size)).truncated
    assert wire.parse_response(wire.build_response(query, 0, _big_records(3), max_size=size - 1)).truncated


def test_encode_rdata_txt_splits_long_strings() -> None:
    """A TXT value over 255 bytes becomes several character-strings that dnspython reads back."""
    text = "k" * 600
    raw = wire.encode_rdata(wire.TXT, text)
    assert raw[0] == 255 and raw[256] == 255 and raw[512] == 90
    rdata = dns.rdata.from_wire("IN", "TXT", raw, 0, len(raw))
    assert b"".join(rdata.strings).decode() == text
    assert wire.encode_rdata(wire.TXT, ["a", "b"]) == b"\x01a\x01b"
    assert wire.encode_rdata(wire.TXT, "") == b"\x00"


# -- malformed input -----------------------------------------------------------------------------

_HEADER_1Q = struct.pack("!HHHHHH", 1, 0x8180, 1, 0, 0, 0)
_HEADER_1A = struct.pack("!HHHHHH", 1, 0x8180, 0, 1, 0, 0)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "empty"),
        (b"\x00" * 11, "shorter than a header"),
        (_HEADER_1Q, "question missing"),
        (_HEADER_1Q + b"\x04acme\x03com", "name not terminated"),
        (_HEADER_1Q + b"\x04acme\x03com\x00\x00", "question type cut short"),
        (_HEADER_1Q + b"\xc0\x0c\x00\x01\x00\x01", "pointer to itself"),
        (_HEADER_1Q + b"\xc0\x0e\xc0\x0c\x00\x01\x00\x01", "two pointers in a loop"),
        (_HEADER_1Q + b"\xc0\xff\x00\x01\x00\x01", "pointer past the end"),
        (_HEADER_1Q + b"\xff\xff\x00\x01\x00\x01", "pointer far past the end"),
        (_HEADER_1Q + b"\xc0", "pointer cut short"),
        (_HEADER_1Q + b"\x40abc\x00\x00\x01\x00\x01", "extended label type"),
        (_HEADER_1A + b"\x00" + struct.pack("!HHIH", 1, 1, 60, 4) + b"\x01\x02", "rdata past the end"),
        (_HEADER_1A + b"\x00" + struct.pack("!HHI", 1, 1, 60), "record header cut short"),
        (_HEADER_1A + b"\x00" + struct.pack("!HHIH", 15, 1, 60, 1) + b"\x00", "MX rdata too short"),
        (_HEADER_1A + b"\x00" + struct.pack("!HHIH", 5, 1, 60, 2) + b"\xc0\x17", "CNAME pointing at itself"),
    ],
)
def test_malformed_messages_raise_wire_error(data: bytes, why: str) -> None:
    with pytest.raises(wire.WireError):
        wire.parse_response(data)


def test_pointer_loop_is_named() -> None:
    with pytest.raises(wire.WireError, match="loop"):
        wire.parse_response(_HEADER_1Q + b"\xc0\x0c\x00\x01\x00\x01")


def test_txt_string_overrunning_rdata_is_malformed() -> None:
    """rdlen 3 but the character-string claims 5 bytes: the record is malformed."""
    rr = b"\x00" + struct.pack("!HHIH", wire.TXT, 1, 0, 3) + b"\x05abc"
    with pytest.raises(wire.WireError):
        wire.parse_response(_HEADER_1A + rr + b"XY")


@settings(max_examples=100, deadline=None)
@given(qname=_names, data=st.data())
def test_every_truncation_of_a_valid_response_raises_wire_error(qname: str, data: st.DataObject) -> None:
    """Cutting a real (compressed, EDNS-free) response short anywhere is always detected."""
    rrsets = data.draw(_rrsets(qname))
    whole = _response(1, qname, "A", 0, rrsets).to_wire()
    wire.parse_response(whole)
    for cut in range(len(whole)):
        with pytest.raises(wire.WireError):
            wire.parse_response(whole[:cut])


@settings(max_examples=1000, deadline=None)
@given(st.one_of(st.binary(max_size=80), st.binary(max_size=40).map(lambda b: _HEADER_1A + b)))
def test_random_bytes_give_response_or_wire_error(data: bytes) -> None:
    """Fuzz: anything else (IndexError, struct.error, UnicodeError...) is a bug."""
    try:
        result = wire.parse_response(data)
    except wire.WireError:
        return
    assert isinstance(result, wire.Response)


@settings(max_examples=300, deadline=None)
@given(qname=_names, data=st.data())
def test_mutated_responses_give_response_or_wire_error(qname: str, data: st.DataObject) -> None:
    """Fuzz around real messages: flip a few bytes of a valid response."""
    whole = bytearray(_response(1, qname, "MX", 0, data.draw(_rrsets(qname))).to_wire())
    for _ in range(data.draw(st.integers(1, 4))):
        whole[data.draw(st.integers(0, len(whole) - 1))] = data.draw(st.integers(0, 255))
    try:
        wire.parse_response(bytes(whole))
    except wire.WireError:
        pass


def test_truncated_query_raises_wire_error() -> None:
    query = wire.build_query(1, "acme.com", wire.TXT)
    for cut in range(len(query)):
        with pytest.raises(wire.WireError):
            wire.parse_query(query[:cut])
