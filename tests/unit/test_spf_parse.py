"""SPF (RFC 7208): record parsing and the include/redirect walk over an in-memory DNS."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from shared.core.models import SpfInfo
from shared.core.spf import MAX_LOOKUPS, SpfSyntaxError, analyse, is_spf, parse, select_record

Zone = Mapping[str, list[str] | str]


class FakeDns:
    """A dict-backed ``fetch``: a list is the name's TXT strings, a str starting "error" a failure,
    a missing name a void lookup (NXDOMAIN / no data)."""

    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        self.calls: list[str] = []

    async def __call__(self, name: str) -> tuple[list[str], str]:
        self.calls.append(name)
        value = self.zone.get(name)
        if value is None:
            return [], "void"
        if isinstance(value, str):
            return [], value
        return list(value), "ok" if value else "void"


def run(record: str, zone: Zone | None = None, error: str | None = None) -> SpfInfo:
    return asyncio.run(analyse(record, FakeDns(zone or {}), error=error))


def includes(*names: str) -> str:
    return " ".join(f"include:{n}" for n in names)


# -- is_spf / select_record ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v=spf1", True),
        ("v=spf1 -all", True),
        ("V=SPF1 -ALL", True),
        ("v=Spf1 include:x.com ~all", True),
        ("v=spf10 -all", False),
        ("v=spf1-all", False),
        ("v=spf2.0/pra -all", False),
        ("spf1 -all", False),
        ("google-site-verification=abc", False),
        ("", False),
    ],
)
def test_is_spf(text: str, expected: bool) -> None:
    """Exactly 'v=spf1' (any case) followed by a space or the end."""
    assert is_spf(text) is expected


def test_select_record_ignores_other_txt() -> None:
    txts = ["google-site-verification=abc", "v=spf10 +all", "  v=spf1 include:_spf.google.com ~all  ", "MS=ms1"]
    assert select_record(txts) == ("v=spf1 include:_spf.google.com ~all", None)


def test_select_record_none_when_absent() -> None:
    assert select_record(["v=spf10 -all", "hello"]) == (None, None)
    assert select_record([]) == (None, None)


def test_select_record_multiple_is_permerror() -> None:
    """Two v=spf1 records (in any case) → permerror (RFC 7208 §4.5)."""
    record, error = select_record(["v=spf1 -all", "V=SPF1 ~all"])
    assert record == "v=spf1 -all"
    assert error is not None and error.startswith("permerror")


def test_multiple_records_error_is_passed_through_analyse() -> None:
    """analyse() with the select_record error reports it and does not walk the tree."""
    record, error = select_record(["v=spf1 include:a.com -all", "v=spf1 -all"])
    dns = FakeDns({"a.com": ["v=spf1 -all"]})
    info = asyncio.run(analyse(record, dns, error=error))
    assert info.valid is False
    assert info.error == error
    assert dns.calls == []
    assert info.all == "-all"


# -- parse ---------------------------------------------------------------------------------------


def test_parse_mechanisms_and_qualifiers() -> None:
    """Terms are kept in order with their qualifiers; includes, lookups and all are extracted."""
    parsed = parse(
        "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx:mail.acme.com ?ptr ~exists:%{i}.x.acme.com "
        "include:_spf.Google.com. -all exp=explain.acme.com"
    )
    assert parsed.mechanisms == [
        "ip4:192.0.2.0/24",
        "ip6:2001:db8::/32",
        "a",
        "mx:mail.acme.com",
        "?ptr",
        "~exists:%{i}.x.acme.com",
        "include:_spf.Google.com.",
        "-all",
    ]
    assert parsed.includes == ["_spf.google.com"]  # lower-cased, no trailing dot
    assert parsed.lookups == 5  # a, mx, ptr, exists, include; ip4/ip6/all/exp cost nothing
    assert parsed.all == "-all"
    assert parsed.redirect is None


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ("v=spf1 -all", "-all"),
        ("v=spf1 ~all", "~all"),
        ("v=spf1 ?all", "?all"),
        ("v=spf1 +all", "+all"),
        ("v=spf1 all", "+all"),  # no qualifier means '+'
        ("V=SPF1 MX -ALL", "-all"),
        ("v=spf1 mx", None),
    ],
)
def test_all_qualifier(record: str, expected: str | None) -> None:
    assert parse(record).all == expected
    assert run(record).all == expected


def test_parse_is_case_insensitive() -> None:
    parsed = parse("V=SPF1 INCLUDE:Spf.Protection.Outlook.com REDIRECT=Other.COM")
    assert parsed.includes == ["spf.protection.outlook.com"]
    assert parsed.redirect == "other.com"
    assert parsed.lookups == 2


def test_unknown_modifiers_are_ignored() -> None:
    parsed = parse("v=spf1 foo=bar exp=x.acme.com -all")
    assert parsed.mechanisms == ["-all"]
    assert parsed.lookups == 0


@pytest.mark.parametrize(
    ("record", "named"),
    [
        ("v=spf1 foo -all", "foo"),
        ("v=spf1 include -all", "include"),
        ("v=spf1 include: -all", "include"),
        ("v=spf1 exists -all", "exists"),
        ("v=spf1 ip4 -all", "ip4"),
        ("v=spf1 -redirect=x.com", "-redirect=x.com"),
        ("v=spf1 ~exp=x.com -all", "~exp=x.com"),
        ("v=spf1 all:x.com", "all"),
        ("v=spf1 redirect=a.com redirect=b.com", "redirect"),
        ("v=spf1 !all", "!all"),
    ],
)
def test_syntax_errors_are_permerror_naming_the_term(record: str, named: str) -> None:
    """A syntax error raises in parse() and is a permerror naming the term in analyse()."""
    with pytest.raises(SpfSyntaxError) as info:
        parse(record)
    assert named in str(info.value)
    result = run(record)
    assert result.valid is False
    assert result.error is not None
    assert result.error.startswith("permerror")
    assert named in result.error


def test_redirect_without_domain_is_a_syntax_error() -> None:
    """RFC 7208 §6.1: redirect needs a domain-spec."""
    with pytest.raises(SpfSyntaxError, match="redirect"):
        parse("v=spf1 redirect=")


def test_parse_rejects_non_spf() -> None:
    with pytest.raises(SpfSyntaxError):
        parse("v=spf10 -all")
    info = run("v=spf10 -all")
    assert info.valid is False
    assert info.error is not None and info.error.startswith("permerror")


# -- walking includes and redirects --------------------------------------------------------------


def test_includes_are_followed_recursively() -> None:
    """Every reached domain is listed in order, lookups are summed over the tree."""
    zone = {
        "spf.protection.outlook.com": ["v=spf1 ip4:40.92.0.0/15 include:spfa.protection.outlook.com -all"],
        "spfa.protection.outlook.com": ["v=spf1 ip4:40.92.0.0/15 -all"],
        "_spf.google.com": ["v=spf1 include:_netblocks.google.com ~all"],
        "_netblocks.google.com": ["v=spf1 ip4:35.190.247.0/24 ~all"],
    }
    info = run("v=spf1 mx include:spf.protection.outlook.com include:_spf.google.com -all", zone)
    assert info.valid is True
    assert info.error is None
    assert info.includes == ["spf.protection.outlook.com", "_spf.google.com"]
    assert info.all_includes == [
        "spf.protection.outlook.com",
        "spfa.protection.outlook.com",
        "_spf.google.com",
        "_netblocks.google.com",
    ]
    assert info.lookups == 5  # mx + 2 includes at the top, 1 each below
    assert info.all == "-all"  # the top record's all, not the includes'
    assert info.mechanisms[0] == "mx"
    assert info.over_lookup_limit is False


def test_diamond_includes_are_not_a_loop() -> None:
    """Two includes that both include the same domain are fine; the shared one is listed once."""
    zone = {"a.com": ["v=spf1 include:c.com"], "b.com": ["v=spf1 include:c.com"], "c.com": ["v=spf1 -all"]}
    info = run("v=spf1 include:a.com include:b.com -all", zone)
    assert info.valid is True
    assert info.all_includes == ["a.com", "c.com", "b.com"]
    assert info.lookups == 4


def test_redirect_is_followed_and_all_comes_from_target() -> None:
    info = run(
        "v=spf1 redirect=_spf.acme.com",
        {"_spf.acme.com": ["v=spf1 include:mx.acme.net ~all"], "mx.acme.net": ["v=spf1 a -all"]},
    )
    assert info.valid is True
    assert info.redirect == "_spf.acme.com"
    assert info.all == "~all"  # from the redirect target, not its include
    assert info.all_includes == ["_spf.acme.com", "mx.acme.net"]
    assert info.lookups == 3


def test_redirect_chain_takes_all_from_final_target() -> None:
    zone = {"r.com": ["v=spf1 redirect=s.com"], "s.com": ["v=spf1 ?all"]}
    info = run("v=spf1 redirect=r.com", zone)
    assert info.all == "?all"
    assert info.all_includes == ["r.com", "s.com"]


def test_redirect_target_without_all_gives_none() -> None:
    info = run("v=spf1 redirect=r.com", {"r.com": ["v=spf1 ip4:192.0.2.1"]})
    assert info.valid is True
    assert info.all is None


def test_redirect_all_not_overwritten_by_nested_include_redirect() -> None:
    """The top record's all comes from ITS redirect target, not from a redirect deeper in an include."""
    zone = {
        "r.com": ["v=spf1 include:i.com -all"],
        "i.com": ["v=spf1 redirect=j.com"],
        "j.com": ["v=spf1 +all"],
    }
    info = run("v=spf1 redirect=r.com", zone)
    assert info.valid is True
    assert info.all == "-all"


def test_redirect_is_ignored_when_all_is_present() -> None:
    """RFC 7208 §6.1: redirect= is ignored when the record has an 'all' mechanism."""
    zone = {"r.com": ["v=spf1 +all"]}
    dns = FakeDns(zone)
    info = asyncio.run(analyse("v=spf1 a -all redirect=r.com", dns))
    assert info.valid is True
    assert info.all == "-all"
    assert dns.calls == []
    assert info.all_includes == []


# -- RFC 7208 limits and errors ------------------------------------------------------------------


def _flat_zone(count: int) -> dict[str, list[str]]:
    return {f"i{n}.example": ["v=spf1 ip4:192.0.2.1 -all"] for n in range(count)}


def test_exactly_ten_lookups_is_fine() -> None:
    names = [f"i{n}.example" for n in range(10)]
    info = run(f"v=spf1 {includes(*names)} -all", _flat_zone(10))
    assert info.lookups == MAX_LOOKUPS == 10
    assert info.valid is True
    assert info.over_lookup_limit is False


def test_eleven_lookups_is_permerror() -> None:
    names = [f"i{n}.example" for n in range(11)]
    info = run(f"v=spf1 {includes(*names)} -all", _flat_zone(11))
    assert info.lookups == 11
    assert info.valid is False
    assert info.over_lookup_limit is True
    assert info.error is not None and info.error.startswith("permerror")
    assert "11" in info.error


def test_lookups_in_nested_includes_count_towards_the_limit() -> None:
    """Top has 2 lookups; each include adds more below: 2 + 4 + 5 = 11 > 10."""
    zone = {
        "a.com": ["v=spf1 a mx ptr exists:x.a.com -all"],
        "b.com": ["v=spf1 a mx a:x.b.com mx:y.b.com a:z.b.com -all"],
    }
    info = run("v=spf1 include:a.com include:b.com -all", zone)
    assert info.lookups == 11
    assert info.over_lookup_limit is True
    assert info.valid is False


def test_nested_lookups_exactly_ten_is_fine() -> None:
    zone = {"a.com": ["v=spf1 a mx ptr exists:x.a.com -all"], "b.com": ["v=spf1 a mx a:x.b.com mx:y.b.com -all"]}
    info = run("v=spf1 include:a.com include:b.com -all", zone)
    assert info.lookups == 10
    assert info.valid is True
    assert info.over_lookup_limit is False


def test_redirect_counts_as_a_lookup() -> None:
    names = [f"i{n}.example" for n in range(10)]
    zone = {**_flat_zone(10), "r.example": ["v=spf1 -all"]}
    info = run(f"v=spf1 {includes(*names)} redirect=r.example", zone)
    assert info.lookups == 11
    assert info.over_lookup_limit is True
    assert info.valid is False


def test_include_of_void_name_is_permerror_and_counted() -> None:
    """An include whose name has no TXT at all is a void lookup and a permerror."""
    info = run("v=spf1 include:gone.example -all", {})
    assert info.valid is False
    assert info.void_lookups == 1
    assert info.error is not None and info.error.startswith("permerror")
    assert "gone.example" in info.error


def test_more_than_two_void_lookups_is_permerror() -> None:
    """Three void lookups exceed the limit of two, even when the fetch still yields records."""

    async def fetch(name: str) -> tuple[list[str], str]:
        return ["v=spf1 ?all"], "void"

    info = asyncio.run(analyse("v=spf1 include:a.com include:b.com include:c.com -all", fetch))
    assert info.void_lookups == 3
    assert info.valid is False
    assert info.error is not None and info.error.startswith("permerror")
    assert "void" in info.error


def test_two_void_lookups_are_within_the_limit() -> None:
    async def fetch(name: str) -> tuple[list[str], str]:
        return ["v=spf1 ?all"], "void"

    info = asyncio.run(analyse("v=spf1 include:a.com include:b.com -all", fetch))
    assert info.void_lookups == 2
    assert info.valid is True


@pytest.mark.parametrize(
    "zone",
    [
        {"a.com": ["v=spf1 include:a.com -all"]},  # includes itself
        {"a.com": ["v=spf1 include:b.com"], "b.com": ["v=spf1 include:a.com"]},  # a → b → a
        {"a.com": ["v=spf1 redirect=b.com"], "b.com": ["v=spf1 redirect=a.com"]},  # redirect loop
    ],
)
def test_include_loop_is_permerror(zone: Zone) -> None:
    info = run("v=spf1 include:a.com -all", zone)
    assert info.valid is False
    assert info.error is not None and info.error.startswith("permerror")
    assert "loop" in info.error


def test_included_domain_without_spf_is_permerror() -> None:
    """The name exists (has TXT) but none of it is SPF."""
    info = run("v=spf1 include:x.com -all", {"x.com": ["google-site-verification=abc", "v=spf10 -all"]})
    assert info.valid is False
    assert info.void_lookups == 0
    assert info.error == "permerror: x.com has no SPF record"


def test_redirect_target_without_spf_is_permerror() -> None:
    info = run("v=spf1 redirect=x.com", {"x.com": ["hello"]})
    assert info.valid is False
    assert info.error is not None and info.error.startswith("permerror") and "x.com" in info.error


def test_included_domain_with_multiple_records_is_permerror() -> None:
    info = run("v=spf1 include:x.com -all", {"x.com": ["v=spf1 -all", "v=spf1 ~all"]})
    assert info.valid is False
    assert info.error is not None and info.error.startswith("permerror")
    assert "more than one" in info.error


def test_syntax_error_in_included_record_is_permerror_naming_term() -> None:
    info = run("v=spf1 include:x.com -all", {"x.com": ["v=spf1 bogus -all"]})
    assert info.valid is False
    assert info.error is not None and info.error.startswith("permerror")
    assert "x.com" in info.error and "bogus" in info.error


def test_fetch_error_is_temperror() -> None:
    info = run("v=spf1 include:x.com -all", {"x.com": "error: timeout"})
    assert info.valid is False
    assert info.error is not None and info.error.startswith("temperror")
    assert "x.com" in info.error and "timeout" in info.error
    assert info.void_lookups == 0


def test_fetch_error_reason_without_colon_is_kept() -> None:
    """The collector's fetch reports failures as 'error <outcome>' (no colon)."""
    info = run("v=spf1 include:x.com -all", {"x.com": "error timeout"})
    assert info.error == "temperror: could not fetch SPF of x.com (timeout)"


def test_temperror_deep_in_the_tree() -> None:
    zone = {"a.com": ["v=spf1 include:b.com -all"], "b.com": "error: servfail"}
    info = run("v=spf1 include:a.com -all", zone)
    assert info.error is not None and info.error.startswith("temperror") and "b.com" in info.error


def test_first_error_stops_the_walk() -> None:
    """After a permerror nothing more is fetched."""
    dns = FakeDns({"a.com": ["v=spf1 foo"], "b.com": ["v=spf1 -all"]})
    info = asyncio.run(analyse("v=spf1 include:a.com include:b.com -all", dns))
    assert info.valid is False
    assert dns.calls == ["a.com"]


def test_result_keeps_the_original_record() -> None:
    record = "V=SPF1 Include:X.com -ALL"
    info = run(record, {"x.com": ["v=spf1 -all"]})
    assert info.record == record
    assert info.valid is True
    assert info.includes == ["x.com"]
    assert info.mechanisms == ["include:X.com", "-all"]  # names lower-cased, values kept
