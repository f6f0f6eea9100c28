"""SPF (RFC 7208): parse a record and walk its include/redirect tree within the RFC limits.

Hunter does not evaluate SPF against a sending IP; it wants what the record *says*: which
services may send for the domain (``include:`` targets reveal Microsoft 365, Google, SendGrid…),
how strict the ``all`` is, and whether the record would break at a receiver (more than ten
DNS-querying terms, more than two void lookups, loops, syntax errors → permerror).

Libraries such as pyspf evaluate records with their own synchronous DNS; the scanner needs the
walk on its shared async client, so the small grammar is implemented here.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import lru_cache

from shared.core.models import SpfInfo

MAX_LOOKUPS = 10  # RFC 7208 §4.6.4
MAX_VOID_LOOKUPS = 2

_MECHANISMS = {"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"}
_LOOKUP_TERMS = {"include", "a", "mx", "ptr", "exists", "redirect"}
_TERM = re.compile(r"^([+\-~?]?)([a-z][a-z0-9_.\-]*)(?:([:=])(.*))?$", re.IGNORECASE)


class SpfSyntaxError(ValueError):
    pass


@dataclass
class ParsedSpf:
    mechanisms: list[str] = field(default_factory=list)  # normalised terms, in order
    includes: list[str] = field(default_factory=list)
    redirect: str | None = None
    all: str | None = None
    lookups: int = 0  # DNS-querying terms in this record alone


def is_spf(text: str) -> bool:
    """RFC 7208 §4.5: the record starts with exactly ``v=spf1`` followed by a space or its end."""
    lowered = text.lower()
    return lowered == "v=spf1" or lowered.startswith("v=spf1 ")


def parse(record: str) -> ParsedSpf:
    """Parse one SPF record; raise :class:`SpfSyntaxError` naming the bad term."""
    if not is_spf(record):
        raise SpfSyntaxError("record does not start with v=spf1")
    parsed = ParsedSpf()
    for term in record.split()[1:]:
        match = _TERM.match(term)
        if not match:
            raise SpfSyntaxError(f"malformed term {term!r}")
        qualifier, name, sep, value = match.groups()
        name = name.lower()
        if sep == "=":  # modifier
            if qualifier:
                raise SpfSyntaxError(f"modifier with a qualifier {term!r}")
            if name == "redirect":
                if not value:
                    raise SpfSyntaxError("redirect= needs a domain")
                if parsed.redirect is not None:
                    raise SpfSyntaxError("more than one redirect= modifier")
                parsed.redirect = value.lower().rstrip(".")
                parsed.lookups += 1
            continue  # exp= and unknown modifiers are allowed and ignored
        if name not in _MECHANISMS:
            raise SpfSyntaxError(f"unknown mechanism {name!r}")
        if name in {"include", "exists"} and not value:
            raise SpfSyntaxError(f"{name} needs a domain")
        if name in {"ip4", "ip6"} and not value:
            raise SpfSyntaxError(f"{name} needs an address")
        if name == "all" and sep:
            raise SpfSyntaxError("all takes no argument")
        if name in _LOOKUP_TERMS:
            parsed.lookups += 1
        if name == "include":
            parsed.includes.append(value.lower().rstrip("."))
        if name == "all":
            parsed.all = (qualifier or "+") + "all"
        parsed.mechanisms.append(f"{qualifier}{name}" + (f"{sep}{value}" if sep else ""))
    return parsed


@lru_cache(maxsize=4096)
def _parse_shared(record: str) -> ParsedSpf:
    """:func:`parse` remembered, for the records an include reaches: the same few providers'
    records (``spf.protection.outlook.com``, ``_spf.google.com``…) recur in every domain's walk. The
    walk only reads what it returns; a syntax error is raised again each time (not cached)."""
    return parse(record)


def select_record(txts: list[str]) -> tuple[str | None, str | None]:
    """Pick the SPF record among a name's TXT strings → (record, error)."""
    records = [t for t in txts if is_spf(t.strip())]
    if not records:
        return None, None
    if len(records) > 1:
        return records[0].strip(), "permerror: more than one v=spf1 record"
    return records[0].strip(), None


# fetch(name) -> (list of TXT strings, outcome) where outcome is "ok", "void" or "error: ..."
Fetch = Callable[[str], Awaitable[tuple[list[str], str]]]


async def analyse(record: str, fetch: Fetch, *, error: str | None = None) -> SpfInfo:
    """Parse ``record`` and walk its includes/redirect with ``fetch``, counting RFC 7208 limits."""
    state = _Walk(fetch)
    try:
        top = parse(record)
    except SpfSyntaxError as exc:
        return SpfInfo(record=record, valid=False, error=f"permerror: {exc}")
    state.lookups = top.lookups
    if error is None:
        error = await state.walk(top, path=(), on_redirect_chain=True)
    over = state.lookups > MAX_LOOKUPS
    if error is None and over:
        error = f"permerror: {state.lookups} DNS-querying terms, the limit is {MAX_LOOKUPS}"
    if error is None and state.voids > MAX_VOID_LOOKUPS:
        error = f"permerror: {state.voids} void lookups, the limit is {MAX_VOID_LOOKUPS}"
    all_qualifier = top.all
    if all_qualifier is None and top.redirect is not None:
        all_qualifier = state.redirect_all
    return SpfInfo(
        record=record,
        valid=error is None,
        error=error,
        all=all_qualifier,
        mechanisms=top.mechanisms,
        includes=top.includes,
        redirect=top.redirect,
        lookups=state.lookups,
        void_lookups=state.voids,
        over_lookup_limit=over,
        all_includes=state.reached,
    )


class _Walk:
    def __init__(self, fetch: Fetch) -> None:
        self.fetch = fetch
        self.lookups = 0
        self.voids = 0
        self.reached: list[str] = []
        self.redirect_all: str | None = None

    async def walk(self, parsed: ParsedSpf, path: tuple[str, ...], on_redirect_chain: bool = False) -> str | None:
        """Follow includes and the redirect; ``on_redirect_chain`` marks records whose ``all`` is the top's."""
        targets = [(t, False) for t in parsed.includes]
        if parsed.redirect is not None and parsed.all is None:  # redirect is ignored when all exists
            targets.append((parsed.redirect, True))
        for target, is_redirect in targets:
            if self.lookups > MAX_LOOKUPS:
                return None  # already over the limit; the caller reports it
            if target in path:
                return f"permerror: include loop through {target}"
            if target not in self.reached:
                self.reached.append(target)
            txts, outcome = await self.fetch(target)
            if outcome.startswith("error"):
                reason = outcome.removeprefix("error").strip(" :") or "lookup failed"
                return f"temperror: could not fetch SPF of {target} ({reason})"
            record, multi = select_record(txts)
            if outcome == "void":
                self.voids += 1
            if record is None:
                return f"permerror: {target} has no SPF record"
            if multi:
                return f"permerror: {target} has more than one SPF record"
            try:
                child = _parse_shared(record)
            except SpfSyntaxError as exc:
                return f"permerror: in {target}: {exc}"
            self.lookups += child.lookups
            child_on_chain = on_redirect_chain and is_redirect
            if child_on_chain:
                self.redirect_all = child.all
            error = await self.walk(child, path + (target,), child_on_chain)
            if error:
                return error
        return None
