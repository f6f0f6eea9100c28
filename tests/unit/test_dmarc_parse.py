"""DMARC (RFC 7489 §6.3–6.4): strict parsing of the _dmarc TXT record, never "repaired"."""

from __future__ import annotations

import pytest

from shared.core.dmarc import is_dmarc, parse, select_record

# -- is_dmarc / select_record --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v=DMARC1; p=none", True),
        ("v=DMARC1", True),
        ("V=DMARC1;p=reject", True),
        ("v = DMARC1 ; p=none", True),
        ("\tv=DMARC1\t; p=none", True),
        ("v=DMARC10; p=none", False),
        ("p=none; v=DMARC1", False),
        ("v=spf1 -all", False),
        ("", False),
    ],
)
def test_is_dmarc(text: str, expected: bool) -> None:
    """A DMARC record starts with the v=DMARC1 tag, whitespace-tolerant."""
    assert is_dmarc(text) is expected


def test_select_record_picks_the_dmarc_txt() -> None:
    assert select_record(["v=spf1 -all", "  v=DMARC1; p=none  ", "x"]) == ("v=DMARC1; p=none", None)


def test_select_record_none_when_absent() -> None:
    assert select_record(["v=spf1 -all"]) == (None, None)
    assert select_record([]) == (None, None)


def test_multiple_dmarc_records_are_invalid() -> None:
    """RFC 7489 §6.6.3: more than one record → receivers ignore them all → invalid."""
    record, error = select_record(["v=DMARC1; p=reject", "v=DMARC1; p=none"])
    assert record == "v=DMARC1; p=reject"
    assert error
    info = parse(record, error=error)
    assert info.valid is False
    assert info.error is not None and error in info.error
    assert info.policy == "reject"  # what was published is still reported


# -- valid records -------------------------------------------------------------------------------


def test_minimal_record_defaults() -> None:
    """Only v and p: sp defaults to p, pct to 100, alignment to relaxed, no report URIs."""
    info = parse("v=DMARC1; p=quarantine")
    assert info.valid is True
    assert info.error is None
    assert info.policy == "quarantine"
    assert info.subdomain_policy == "quarantine"
    assert info.pct == 100
    assert info.rua == []
    assert info.ruf == []
    assert info.adkim == "r"
    assert info.aspf == "r"
    assert info.record == "v=DMARC1; p=quarantine"


@pytest.mark.parametrize("policy", ["none", "quarantine", "reject"])
def test_each_policy(policy: str) -> None:
    info = parse(f"v=DMARC1; p={policy}")
    assert info.valid is True
    assert info.policy == policy


def test_full_record() -> None:
    info = parse(
        "v=DMARC1; p=reject; sp=none; pct=25; adkim=s; aspf=s; "
        "rua=mailto:dmarc@acme.com, mailto:agg@vendor.example; ruf=mailto:forensic@acme.com; fo=1"
    )
    assert info.valid is True
    assert info.policy == "reject"
    assert info.subdomain_policy == "none"
    assert info.pct == 25
    assert info.adkim == "s"
    assert info.aspf == "s"
    assert info.rua == ["mailto:dmarc@acme.com", "mailto:agg@vendor.example"]
    assert info.ruf == ["mailto:forensic@acme.com"]


@pytest.mark.parametrize(
    "record",
    [
        "V=DMARC1; P=Reject; SP=None",
        "v = DMARC1 ; p = reject ; sp = none",
        "\tv=DMARC1;\tp=REJECT;sp=NONE\t",
        "v=DMARC1;p=reject;sp=none",
        "v=DMARC1; p=reject; sp=none;",
        "v=DMARC1; p=reject; sp=none; ;;",
    ],
)
def test_tags_are_case_insensitive_and_whitespace_tolerant(record: str) -> None:
    """Tag names/policy values in any case, spaces/tabs around them and trailing semicolons are fine."""
    info = parse(record)
    assert info.valid is True, info.error
    assert (info.policy, info.subdomain_policy) == ("reject", "none")


@pytest.mark.parametrize(("value", "expected"), [("0", 0), ("1", 1), ("50", 50), ("100", 100), (" 75 ", 75)])
def test_pct_in_range(value: str, expected: int) -> None:
    info = parse(f"v=DMARC1; p=none; pct={value}")
    assert info.valid is True
    assert info.pct == expected


def test_rua_list_is_trimmed_and_empty_entries_dropped() -> None:
    info = parse("v=DMARC1; p=none; rua= mailto:a@x.com ,,mailto:b@y.com , ")
    assert info.rua == ["mailto:a@x.com", "mailto:b@y.com"]


def test_unknown_tags_are_allowed() -> None:
    info = parse("v=DMARC1; p=none; fo=1; rf=afrf; ri=86400; foo=bar")
    assert info.valid is True


# -- invalid records: flagged, never repaired ----------------------------------------------------


@pytest.mark.parametrize(
    ("record", "fragment"),
    [
        ("p=none; v=DMARC1", "must start with v=DMARC1"),
        ("p=reject", "must start with v=DMARC1"),
        ("v=DMARC2; p=reject", "must start with v=DMARC1"),
        ("v=DMARC1", "p is missing"),
        ("v=DMARC1; sp=reject", "p is missing"),
        ("v=DMARC1; p=", "p is missing"),
        ("v=DMARC1 p=reject", "must start with v=DMARC1"),  # missing ';'
        ("v=DMARC1; p=reject; garbage", "malformed tag 'garbage'"),
        ("v=DMARC1; p=none; p=reject", "duplicate tag p"),
        ("v=DMARC1; p=reject; RUA=mailto:a@x.com; rua=mailto:b@x.com", "duplicate tag rua"),
        ("v=DMARC1; p=reject; pct=101", "pct=101"),
        ("v=DMARC1; p=reject; pct=-1", "pct=-1"),
        ("v=DMARC1; p=reject; pct=abc", "pct=abc"),
        ("v=DMARC1; p=reject; pct=50.5", "pct=50.5"),
        ("v=DMARC1; p=reject; pct=", "pct="),
        ("v=DMARC1; p=reject; sp=bogus", "sp=bogus"),
    ],
)
def test_invalid_records_are_flagged_with_a_reason(record: str, fragment: str) -> None:
    info = parse(record)
    assert info.valid is False
    assert info.error is not None
    assert fragment in info.error
    assert info.record == record


def test_bad_policy_is_not_repaired() -> None:
    """p=bogus → no policy at all (not 'none'), and no subdomain policy derived from it."""
    info = parse("v=DMARC1; p=bogus; rua=mailto:a@x.com")
    assert info.valid is False
    assert info.policy is None
    assert info.subdomain_policy is None
    assert info.error is not None and "p=bogus" in info.error
    assert info.rua == ["mailto:a@x.com"]


def test_bad_pct_is_flagged_and_default_reported() -> None:
    info = parse("v=DMARC1; p=reject; pct=150")
    assert info.valid is False
    assert info.pct == 100
    assert info.policy == "reject"


def test_duplicate_tag_keeps_first_value() -> None:
    info = parse("v=DMARC1; p=none; p=reject")
    assert info.valid is False
    assert info.policy == "none"


def test_several_problems_are_all_reported() -> None:
    info = parse("v=DMARC1; p=bogus; pct=999; sp=x")
    assert info.valid is False
    assert info.error is not None
    for fragment in ("p=bogus", "pct=999", "sp=x"):
        assert fragment in info.error


def test_version_value_is_case_sensitive() -> None:
    """RFC 7489 §6.4: the version is the literal 'DMARC1'; the tag name 'V' may be any case."""
    assert parse("V=DMARC1; p=none").valid is True
    assert parse("v=dmarc1; p=none").valid is False


def test_bad_subdomain_policy_is_not_repaired() -> None:
    """sp=bogus must not turn into the p value: the owner did not publish that sub-domain policy."""
    info = parse("v=DMARC1; p=reject; sp=bogus")
    assert info.valid is False
    assert info.subdomain_policy is None


@pytest.mark.parametrize("value", ["+50", "5_0", "٥٠"])
def test_pct_must_be_plain_digits(value: str) -> None:
    """RFC 7489 ABNF: pct = 1*3DIGIT."""
    assert parse(f"v=DMARC1; p=none; pct={value}").valid is False


@pytest.mark.parametrize("tag", ["adkim", "aspf"])
def test_alignment_must_be_r_or_s(tag: str) -> None:
    """RFC 7489 §6.3: adkim and aspf are 'r' or 's'."""
    assert parse(f"v=DMARC1; p=none; {tag}=x").valid is False


def test_error_argument_makes_record_invalid() -> None:
    info = parse("v=DMARC1; p=reject", error="lookup problem")
    assert info.valid is False
    assert info.error == "lookup problem"
