"""Domain normalisation: messy sales input → one registrable A-label domain, or a reason."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.core.domains import (
    REASON_TEXTS,
    Domain,
    DomainErrorCode,
    InvalidDomainError,
    Parsed,
    normalize,
    parse,
    parse_many,
    reason_text,
)

# -- accepted inputs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.Acme.com.tr/iletisim?x=1", "acme.com.tr"),
        ("info@acme.com.tr", "acme.com.tr"),
        ("  ACME.COM.TR  ", "acme.com.tr"),
        ("www.acme.com.tr", "acme.com.tr"),
        ("http://acme.com.tr:8080", "acme.com.tr"),
        ("mail.acme.co.uk", "acme.co.uk"),
        ("acme.com", "acme.com"),
        ("ACME.COM.TR.", "acme.com.tr"),  # trailing root dot
        ("www.acme.com.tr/", "acme.com.tr"),
        ("mailto:Info@Acme.com", "acme.com"),
        ("http://user:secret@acme.com/path", "acme.com"),
        ("ftp://files.acme.com", "acme.com"),
        ("acme.com?utm_source=x", "acme.com"),
        ("acme.com#contact", "acme.com"),
        ('"acme.com"', "acme.com"),
        ("<acme.com>", "acme.com"),
        ("a.b.c.deep.acme.com.tr", "acme.com.tr"),
        ("xn--irketim-8pb.com.tr", "xn--irketim-8pb.com.tr"),  # already an A-label
    ],
)
def test_normalize_reduces_input_to_registrable_domain(raw: str, expected: str) -> None:
    """URLs, e-mails, www., ports, paths, case and whitespace all collapse to the registrable domain."""
    assert normalize(raw).name == expected


def test_domain_str_is_the_ascii_name() -> None:
    """str(Domain) is the A-label used for DNS and keys."""
    assert str(normalize("şirketim.com.tr")) == "xn--irketim-8pb.com.tr"


@pytest.mark.parametrize(
    "raw",
    [
        "şirketim.com.tr",
        "ŞİRKETİM.COM.TR",
        "https://www.şirketim.com.tr/hakkimizda",
        "satis@şirketim.com.tr",
        "xn--irketim-8pb.com.tr",
    ],
)
def test_turkish_idn_becomes_a_label_with_unicode_form(raw: str) -> None:
    """Turkish IDNs (also upper-case with dotted İ) give the A-label plus the U-label for display."""
    assert normalize(raw) == Domain("xn--irketim-8pb.com.tr", "şirketim.com.tr")


def test_dotted_capital_i_means_plain_i() -> None:
    """'İ' in a host can only mean 'i', not 'i' + combining dot."""
    assert normalize("İSTANBUL.COM.TR") == Domain("istanbul.com.tr", "istanbul.com.tr")


def test_dotless_i_is_a_distinct_idn() -> None:
    """'ı' (dotless i) is a different letter and stays an IDN, not folded into 'i'."""
    domain = normalize("ıstanbul.com.tr")
    assert domain.name.startswith("xn--")
    assert domain.unicode == "ıstanbul.com.tr"


def test_plain_ascii_domain_has_same_unicode_form() -> None:
    assert normalize("Acme.COM") == Domain("acme.com", "acme.com")


# -- rejected inputs -----------------------------------------------------------------------------

INVALID = [
    "nan",
    "NaN",
    "N/A",
    "-",
    "",
    "   ",
    "yok",
    "web sitesi",
    "acme .com",
    "http://",
    "@",
    "1.2.3.4",
    "http://1.2.3.4:80/index.html",
    "10.0.0.1:8080",
    "[::1]",
    "::1",
    "2001:db8::1",
    "http://[2001:db8::1]:8080/",
    "[2001:db8::1]:443",
    "com",
    "com.tr",
    "co.uk",
    "acme.invalidtld",
    "localhost",
    "acme.com:abc",
    "acme.com:99999",
    "a..b.com",
    "-acme.com",
    "acme-.com",
    "foo_bar.com",
    "acme.com,beta.com",
    "a" * 64 + ".com",
    "xn--zz.com",  # malformed punycode
]


@pytest.mark.parametrize("raw", INVALID)
def test_invalid_inputs_are_rejected_with_a_reason(raw: str) -> None:
    """Junk raises InvalidDomainError carrying the raw input and a non-empty human reason."""
    with pytest.raises(InvalidDomainError) as info:
        normalize(raw)
    assert info.value.reason.strip()
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("nan", "placeholder"),
        ("-", "placeholder"),
        ("web sitesi", "spaces"),
        ("http://", "no host"),
        ("com", "single label"),
        ("com.tr", "public suffix"),
        ("acme.invalidtld", "unknown top-level domain '.invalidtld'"),
    ],
)
def test_reason_explains_the_rejection(raw: str, fragment: str) -> None:
    """The reason says what is wrong, in words a user can act on."""
    with pytest.raises(InvalidDomainError) as info:
        normalize(raw)
    assert fragment in info.value.reason
    assert info.value.raw == raw


@pytest.mark.parametrize(
    "raw",
    ["1.2.3.4", "http://1.2.3.4:80/x", "10.0.0.1:8080", "[::1]", "http://[2001:db8::1]:8080/", "[2001:db8::1]:443"],
)
def test_ip_addresses_are_named_as_such(raw: str) -> None:
    """An IP address is rejected as an IP address, with or without scheme/port."""
    with pytest.raises(InvalidDomainError, match="IP address"):
        normalize(raw)


@pytest.mark.parametrize("raw", ["2001:db8::1", "::1"])
def test_bare_ipv6_is_named_as_ip_address(raw: str) -> None:
    """A bare IPv6 address (no brackets) should be rejected as an IP address too."""
    with pytest.raises(InvalidDomainError, match="IP address"):
        normalize(raw)


def test_protocol_relative_url() -> None:
    """'//acme.com' (as in an href) is a URL whose host is acme.com."""
    assert normalize("//acme.com").name == "acme.com"


def test_non_text_is_rejected() -> None:
    """A float NaN from a spreadsheet cell is not text and not a domain."""
    with pytest.raises(InvalidDomainError, match="not text"):
        normalize(float("nan"))  # type: ignore[arg-type]


# -- parse / parse_many --------------------------------------------------------------------------


def test_parse_returns_domain_or_error() -> None:
    ok = parse("www.acme.com")
    assert ok == Parsed("www.acme.com", Domain("acme.com", "acme.com"), None, None)
    bad = parse("nan")
    assert bad.input == "nan"
    assert bad.domain is None
    assert bad.error
    assert bad.duplicate_of is None


# -- reason codes --------------------------------------------------------------------------------


def test_every_reason_code_has_an_english_text() -> None:
    assert set(REASON_TEXTS) == set(DomainErrorCode)
    assert all(text.strip() for text in REASON_TEXTS.values())


def test_an_ip_address_is_coded_as_such() -> None:
    parsed = parse("10.0.0.1")
    assert parsed.code == "ip_address" and parsed.code is DomainErrorCode.IP_ADDRESS
    assert parsed.params == {} and parsed.error == "is an IP address, not a domain"


@pytest.mark.parametrize(
    ("raw", "code", "params", "text"),
    [
        (float("nan"), "not_text", {}, "not text"),
        ("nan", "empty", {}, "empty or placeholder value, not a domain"),
        ("web sitesi", "contains_spaces", {}, "contains spaces; a domain has none"),
        ("http://", "no_host", {}, "no host name found"),
        ("com", "single_label", {}, "a single label is not a public domain"),
        ("acme.invalidtld", "unknown_tld", {"tld": "invalidtld"}, "unknown top-level domain '.invalidtld'"),
        ("com.tr", "public_suffix", {"suffix": "com.tr"}, "'com.tr' is a public suffix, not a company domain"),
        (
            "acme.com:99999",
            "invalid_url",
            {"detail": "Port out of range 0-65535"},
            "not a valid URL (Port out of range 0-65535)",
        ),
        ("a..b.com", "invalid_host_name", {"detail": "Empty Label"}, "not a valid host name (Empty Label)"),
    ],
)
def test_a_rejection_carries_a_code_its_params_and_the_english_text(raw, code, params, text) -> None:
    with pytest.raises(InvalidDomainError) as info:
        normalize(raw)
    assert (info.value.code, info.value.params, info.value.reason) == (code, params, text)
    assert str(info.value).endswith(f": {text}")
    if isinstance(raw, str):
        parsed = parse(raw)
        assert (parsed.code, parsed.params, parsed.error) == (code, params, text)
        assert parsed.problem_item("domain") == {"field": "domain", "message": text, "code": code, "params": params}


def test_the_text_is_rendered_from_the_one_table() -> None:
    assert reason_text(DomainErrorCode.PUBLIC_SUFFIX, {"suffix": "k12.tr"}) == (
        "'k12.tr' is a public suffix, not a company domain"
    )
    assert reason_text(DomainErrorCode.INVALID_CHARACTERS) == REASON_TEXTS[DomainErrorCode.INVALID_CHARACTERS]


def test_a_domain_has_no_code() -> None:
    ok = parse("acme.com.tr")
    assert ok.code is None and ok.params is None and ok.error is None


def test_parse_many_marks_later_duplicates_with_the_first_input() -> None:
    """Inputs that collapse onto an earlier domain point at the first input that produced it."""
    items = [
        "https://www.Acme.com.tr/iletisim",
        "info@acme.com.tr",
        "beta.com",
        "nan",
        "ACME.COM.TR",
        "nan",
        "www.beta.com",
    ]
    results = list(parse_many(items))
    assert [item for item, _ in results] == items
    assert [p.domain.name if p.domain else None for _, p in results] == [
        "acme.com.tr",
        "acme.com.tr",
        "beta.com",
        None,
        "acme.com.tr",
        None,
        "beta.com",
    ]
    assert [p.duplicate_of for _, p in results] == [
        None,
        "https://www.Acme.com.tr/iletisim",
        None,
        None,
        "https://www.Acme.com.tr/iletisim",
        None,  # invalid inputs are never duplicates, even when repeated
        "beta.com",
    ]
    assert all(p.error is None for _, p in results if p.domain is not None)
    assert [p.error is not None for _, p in results] == [False, False, False, True, False, True, False]


def test_parse_many_uses_value_function_and_yields_original_items() -> None:
    """Arbitrary items (rows) are passed through; value() extracts the text."""
    rows = [{"site": "acme.com", "n": 1}, {"site": "www.acme.com", "n": 2}]
    results = list(parse_many(rows, value=lambda r: r["site"]))
    assert [item["n"] for item, _ in results] == [1, 2]
    assert results[1][1].duplicate_of == "acme.com"
    assert results[1][1].input == "www.acme.com"


def test_parse_many_idn_duplicates_across_forms() -> None:
    """The U-label and A-label of one IDN are the same domain."""
    results = list(parse_many(["şirketim.com.tr", "xn--irketim-8pb.com.tr"]))
    assert results[1][1].duplicate_of == "şirketim.com.tr"


def test_parse_many_is_lazy() -> None:
    """parse_many streams: it does not consume the whole input before yielding."""

    def endless():
        n = 0
        while True:
            n += 1
            yield f"d{n}.com"

    stream = parse_many(endless())
    first = [next(stream)[1].domain.name for _ in range(3)]
    assert first == ["d1.com", "d2.com", "d3.com"]


# -- properties ----------------------------------------------------------------------------------

_PIECES = list("abcz019.-@:/[]?#%_ şİıŞçğü。．") + ["xn--", "www.", "com", "tr", "co.uk", "http://", "ß", "\u200d"]
_texts = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(_PIECES), max_size=20).map("".join),
)
_labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
_hosts = st.builds(
    lambda labels, suffix: ".".join([*labels, suffix]),
    st.lists(_labels, min_size=1, max_size=3),
    st.sampled_from(["com", "com.tr", "co.uk", "net", "org.tr", "de", "io"]),
)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(_texts)
def test_normalize_only_raises_invalid_domain_error_and_is_idempotent(raw: str) -> None:
    """For any text: either InvalidDomainError, or a domain that normalises to itself."""
    try:
        domain = normalize(raw)
    except InvalidDomainError as exc:
        assert exc.reason
        return
    assert normalize(domain.name).name == domain.name
    assert normalize(domain.unicode).name == domain.name
    assert domain.name == domain.name.lower()
    assert domain.name.isascii()


@settings(max_examples=300)
@given(_hosts, st.sampled_from(["{}", "https://www.{}/x?y=1", "info@{}", " {} ", "http://{}:8080", "{}."]))
def test_wrappers_do_not_change_the_domain(host: str, template: str) -> None:
    """Every wrapper form of a host gives the same result as the bare host (same domain, or rejected)."""
    try:
        expected = normalize(host).name
    except InvalidDomainError:  # e.g. a generated "ab--c" label, not valid IDNA
        with pytest.raises(InvalidDomainError):
            normalize(template.format(host))
        return
    assert normalize(template.format(host)).name == expected
