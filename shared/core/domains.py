"""Turn whatever a user typed into one registrable domain.

Sales data is messy: cells hold URLs with paths, e-mail addresses, ``www.`` prefixes, ports,
upper case, Turkish IDNs and plain junk ("nan", "web sitesi", "-"). Every input either becomes
a :class:`Domain` — the registrable domain by the Public Suffix List (bundled snapshot, no
network) as an A-label, plus its U-label for display — or is rejected with a reason a person
can act on. This module is pure: no I/O.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar
from urllib.parse import urlsplit

import idna
from publicsuffixlist import PublicSuffixList

T = TypeVar("T")

_JUNK = {"", "-", "--", "n/a", "na", "nan", "none", "null", "yok", "?", "tbd", "test"}
_LDH_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


class InvalidDomainError(ValueError):
    """The input cannot be read as a domain. ``reason`` says why, for the user."""

    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(f"{raw!r}: {reason}")
        self.raw = raw
        self.reason = reason


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
        raise InvalidDomainError(text.lstrip("/"), f"not a valid URL ({exc})") from None
    return host


def normalize(raw: str) -> Domain:
    """Return the registrable domain in ``raw`` or raise :class:`InvalidDomainError`."""
    if not isinstance(raw, str):
        raise InvalidDomainError(str(raw), "not text")
    # Turkish dotted capital I: Python's lower() and UTS-46 would both turn it into "i" plus a
    # combining dot, a different name; in a domain it can only mean "i".
    text = unicodedata.normalize("NFC", raw).strip().strip("\"'<>").replace("İ", "i")
    if text.lower() in _JUNK:
        raise InvalidDomainError(raw, "empty or placeholder value, not a domain")
    if any(ch.isspace() for ch in text):
        raise InvalidDomainError(raw, "contains spaces; a domain has none")
    if _is_ip(text):  # before URL parsing: a bare IPv6 address looks like host:port to urlsplit
        raise InvalidDomainError(raw, "is an IP address, not a domain")
    text = text.removeprefix("//")  # protocol-relative URL
    host = _extract_host(text).rstrip(".")
    if not host:
        raise InvalidDomainError(raw, "no host name found")
    if _is_ip(host.strip("[]")):
        raise InvalidDomainError(raw, "is an IP address, not a domain")
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii").lower()
    except idna.IDNAError as exc:
        raise InvalidDomainError(raw, f"not a valid host name ({exc})") from None
    labels = ascii_host.split(".")
    if len(ascii_host) > 253 or not all(_LDH_LABEL.match(label) for label in labels):
        raise InvalidDomainError(raw, "not a valid host name (letters, digits and hyphens only)")
    if len(labels) < 2:
        raise InvalidDomainError(raw, "a single label is not a public domain")
    registrable = _psl().privatesuffix(ascii_host)
    if registrable is None:
        if _psl().publicsuffix(ascii_host) is None:
            raise InvalidDomainError(raw, f"unknown top-level domain '.{labels[-1]}'")
        raise InvalidDomainError(raw, f"'{ascii_host}' is a public suffix, not a company domain")
    try:
        unicode_name = idna.decode(registrable)
    except idna.IDNAError:
        unicode_name = registrable
    return Domain(registrable, unicode_name)


@dataclass(frozen=True, slots=True)
class Parsed:
    """One input item: either a domain or the reason it was rejected."""

    input: str
    domain: Domain | None
    error: str | None = None
    duplicate_of: str | None = None  # the first input that produced the same domain


def parse(raw: str) -> Parsed:
    try:
        return Parsed(raw, normalize(raw))
    except InvalidDomainError as exc:
        return Parsed(raw, None, exc.reason)


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
