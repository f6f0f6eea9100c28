"""Turn whatever a user typed into one registrable domain.

Sales data is messy: cells hold URLs with paths, e-mail addresses, ``www.`` prefixes, ports,
upper case, Turkish IDNs and plain junk ("nan", "web sitesi", "-"). Every input either becomes
a :class:`Domain` — the registrable domain by the Public Suffix List (bundled snapshot, no
network) as an A-label, plus its U-label for display — or is rejected with a reason a person
can act on. This module is pure: no I/O.

A rejection crosses layers as a stable :class:`DomainErrorCode` plus the values of its
placeholders (``params``); the English text is rendered from the one table :data:`REASON_TEXTS`.
Callers never parse the text: the web app keeps its own Turkish and English wording per code.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import TypeVar
from urllib.parse import urlsplit

import idna
from publicsuffixlist import PublicSuffixList

T = TypeVar("T")

_JUNK = {"", "-", "--", "n/a", "na", "nan", "none", "null", "yok", "?", "tbd", "test"}
_LDH_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


class DomainErrorCode(StrEnum):
    """Why an input is not a domain: stable codes that APIs answer and clients translate."""

    INVALID_URL = "invalid_url"
    NOT_TEXT = "not_text"
    EMPTY = "empty"
    CONTAINS_SPACES = "contains_spaces"
    IP_ADDRESS = "ip_address"
    NO_HOST = "no_host"
    INVALID_HOST_NAME = "invalid_host_name"
    INVALID_CHARACTERS = "invalid_characters"
    SINGLE_LABEL = "single_label"
    UNKNOWN_TLD = "unknown_tld"
    PUBLIC_SUFFIX = "public_suffix"


# The English text of each code, the one place it is written; {name} placeholders take ``params``.
REASON_TEXTS: dict[DomainErrorCode, str] = {
    DomainErrorCode.INVALID_URL: "not a valid URL ({detail})",
    DomainErrorCode.NOT_TEXT: "not text",
    DomainErrorCode.EMPTY: "empty or placeholder value, not a domain",
    DomainErrorCode.CONTAINS_SPACES: "contains spaces; a domain has none",
    DomainErrorCode.IP_ADDRESS: "is an IP address, not a domain",
    DomainErrorCode.NO_HOST: "no host name found",
    DomainErrorCode.INVALID_HOST_NAME: "not a valid host name ({detail})",
    DomainErrorCode.INVALID_CHARACTERS: "not a valid host name (letters, digits and hyphens only)",
    DomainErrorCode.SINGLE_LABEL: "a single label is not a public domain",
    DomainErrorCode.UNKNOWN_TLD: "unknown top-level domain '.{tld}'",
    DomainErrorCode.PUBLIC_SUFFIX: "'{suffix}' is a public suffix, not a company domain",
}


class _Params(dict[str, str]):
    def __missing__(self, name: str) -> str:  # a placeholder without a value stays as written (as in the web app)
        return "{" + name + "}"


def reason_text(code: DomainErrorCode, params: Mapping[str, str] | None = None) -> str:
    """The English text of ``code`` with its placeholders filled from ``params``."""
    return REASON_TEXTS[code].format_map(_Params(params or {}))


class InvalidDomainError(ValueError):
    """The input cannot be read as a domain: ``code`` says why (``params`` fill its text),
    ``reason`` is that text in English, for the user."""

    def __init__(self, raw: str, code: DomainErrorCode, params: Mapping[str, str] | None = None) -> None:
        self.raw = raw
        self.code = DomainErrorCode(code)
        self.params: dict[str, str] = dict(params or {})
        self.reason = reason_text(self.code, self.params)
        super().__init__(f"{raw!r}: {self.reason}")


@dataclass(frozen=True, slots=True)
class Domain:
    """A registrable domain. ``name`` is the ASCII (A-label) form used for DNS and keys."""

    name: str
    unicode: str

    def __str__(self) -> str:
        return self.name


@lru_cache(maxsize=1)
def _psl() -> PublicSuffixList:
    # ICANN section only: a company registers under an ICANN suffix; private entries such as
    # "blogspot.com" would turn hosting customers into "registrable domains" of their own.
    return PublicSuffixList(only_icann=True, accept_unknown=False)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _extract_host(text: str) -> str:
    """Pull the host out of a URL, an e-mail address or a bare host[:port]/path."""
    if text.lower().startswith("mailto:"):
        text = text[7:]
    if "@" in text and not _SCHEME.match(text):
        text = text.rsplit("@", 1)[1]
    if not _SCHEME.match(text):
        text = "//" + text
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        parts.port  # noqa: B018 — raises ValueError on a non-numeric port
    except ValueError as exc:
        raise InvalidDomainError(text.lstrip("/"), DomainErrorCode.INVALID_URL, {"detail": str(exc)}) from None
    return host


def normalize(raw: str) -> Domain:
    """Return the registrable domain in ``raw`` or raise :class:`InvalidDomainError`."""
    if not isinstance(raw, str):
        raise InvalidDomainError(str(raw), DomainErrorCode.NOT_TEXT)
    # Turkish dotted capital I: Python's lower() and UTS-46 would both turn it into "i" plus a
    # combining dot, a different name; in a domain it can only mean "i".
    text = unicodedata.normalize("NFC", raw).strip().strip("\"'<>").replace("İ", "i")
    if text.lower() in _JUNK:
        raise InvalidDomainError(raw, DomainErrorCode.EMPTY)
    if any(ch.isspace() for ch in text):
        raise InvalidDomainError(raw, DomainErrorCode.CONTAINS_SPACES)
    if _is_ip(text):  # before URL parsing: a bare IPv6 address looks like host:port to urlsplit
        raise InvalidDomainError(raw, DomainErrorCode.IP_ADDRESS)
    text = text.removeprefix("//")  # protocol-relative URL
    host = _extract_host(text).rstrip(".")
    if not host:
        raise InvalidDomainError(raw, DomainErrorCode.NO_HOST)
    if _is_ip(host.strip("[]")):
        raise InvalidDomainError(raw, DomainErrorCode.IP_ADDRESS)
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii").lower()
    except idna.IDNAError as exc:
        raise InvalidDomainError(raw, DomainErrorCode.INVALID_HOST_NAME, {"detail": str(exc)}) from None
    labels = ascii_host.split(".")
    if len(ascii_host) > 253 or not all(_LDH_LABEL.match(label) for label in labels):
        raise InvalidDomainError(raw, DomainErrorCode.INVALID_CHARACTERS)
    if len(labels) < 2:
        raise InvalidDomainError(raw, DomainErrorCode.SINGLE_LABEL)
    registrable = _psl().privatesuffix(ascii_host)
    if registrable is None:
        if _psl().publicsuffix(ascii_host) is None:
            raise InvalidDomainError(raw, DomainErrorCode.UNKNOWN_TLD, {"tld": labels[-1]})
        raise InvalidDomainError(raw, DomainErrorCode.PUBLIC_SUFFIX, {"suffix": ascii_host})
    try:
        unicode_name = idna.decode(registrable)
    except idna.IDNAError:
        unicode_name = registrable
    return Domain(registrable, unicode_name)


@dataclass(frozen=True, slots=True)
class Parsed:
    """One input item: either a domain or the reason it was rejected.

    ``error`` is the English text of the rejection; ``code`` and ``params`` are what it was made
    from (what an API answers, so that clients word it themselves)."""

    input: str
    domain: Domain | None
    error: str | None = None
    duplicate_of: str | None = None  # the first input that produced the same domain
    code: DomainErrorCode | None = None
    params: dict[str, str] | None = None

    def problem_item(self, field: str) -> dict[str, object]:
        """The rejection as an RFC 7807 ``errors`` entry: field, English message, code, params."""
        code = self.code.value if self.code is not None else None
        return {"field": field, "message": self.error, "code": code, "params": dict(self.params or {})}


def parse(raw: str) -> Parsed:
    try:
        return Parsed(raw, normalize(raw))
    except InvalidDomainError as exc:
        return Parsed(raw, None, exc.reason, code=exc.code, params=exc.params)


def parse_many(items: Iterable[T], value: Callable[[T], str] = str) -> Iterator[tuple[T, Parsed]]:
    """Parse a stream of inputs, marking later inputs that collapse onto an earlier domain.

    ``value`` extracts the text from an item (rows of a file, say). Streaming — a set of seen
    names, not a list of items — so that 100,000-line files stay small.
    """
    seen: dict[str, str] = {}
    for item in items:
        raw = value(item)
        parsed = parse(raw)
        if parsed.domain is not None:
            first = seen.get(parsed.domain.name)
            if first is None:
                seen[parsed.domain.name] = raw
            else:
                parsed = Parsed(raw, parsed.domain, None, duplicate_of=first)
        yield item, parsed
