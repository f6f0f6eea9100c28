"""Technographics: which SaaS and security vendors a company uses, from DNS the scanner already reads.

Pure: the data (``technologies.yaml``) is read once; :func:`detect` only looks at a ScanRecord's
apex TXT verifications, the domains its SPF record reaches, its DMARC report addresses, its DKIM
CNAMEs, MX hosts and nameservers. Every match is anchored — a TXT by its documented prefix, a host
on label boundaries — so a vendor's name inside an unrelated string is never evidence, and every
vendor reported carries the records that prove it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from shared.core.models import ScanRecord, Technology

MAX_EVIDENCE = 3  # records kept per vendor (the first found of each kind come first)
MAX_EVIDENCE_CHARS = 200  # a verification token is short; a hostile TXT is cut
KINDS = ("txt", "spf", "dmarc", "dkim_cname", "mx", "ns")


def _host_matches(host: str, pattern: str) -> bool:
    """``*.x`` matches ``x`` and anything under it; a plain pattern matches only itself (the rule of
    ``providers.host_matches``, kept here so that the classifier can call this module)."""
    host = host.lower().rstrip(".")
    if pattern.startswith("*."):
        base = pattern[2:]
        return host == base or host.endswith("." + base)
    return host == pattern


@dataclass(frozen=True)
class Vendor:
    name: str
    category: str
    txt: tuple[str, ...] = ()  # lower-case prefixes
    spf: tuple[str, ...] = ()
    dmarc: tuple[str, ...] = ()
    dkim_cname: tuple[str, ...] = ()
    mx: tuple[str, ...] = ()
    ns: tuple[str, ...] = ()

    def hosts(self, kind: str, host: str) -> bool:
        return any(_host_matches(host, pattern) for pattern in getattr(self, kind))


class TechnologyData:
    """``technologies.yaml``, validated and in a shape that is quick to match against."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.version = str(raw["version"])
        self.categories: tuple[str, ...] = tuple(raw["categories"])
        vendors: list[Vendor] = []
        for item in raw["technologies"]:
            unknown = set(item) - {"name", "category", *KINDS}
            if unknown:
                raise ValueError(f"technologies.yaml {item.get('name')!r}: unknown key(s) {', '.join(sorted(unknown))}")
            if item["category"] not in self.categories:
                raise ValueError(f"technologies.yaml {item['name']!r}: unknown category {item['category']!r}")
            if not any(item.get(kind) for kind in KINDS):
                raise ValueError(f"technologies.yaml {item['name']!r}: no record to match")
            for prefix in item.get("txt", []):
                if not any(mark in prefix for mark in "=:_."):  # a bare word would match free text
                    raise ValueError(f"technologies.yaml {item['name']!r}: TXT prefix {prefix!r} needs its = : _ or .")
            vendors.append(
                Vendor(
                    name=item["name"],
                    category=item["category"],
                    txt=tuple(p.lower() for p in item.get("txt", [])),
                    **{kind: tuple(p.lower() for p in item.get(kind, [])) for kind in KINDS[1:]},
                )
            )
        names = [v.name for v in vendors]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"technologies.yaml names a vendor twice: {', '.join(duplicates)}")
        self.vendors: tuple[Vendor, ...] = tuple(vendors)
        self.names: tuple[str, ...] = tuple(names)
        self.txt_prefixes: tuple[str, ...] = tuple(sorted({p for v in vendors for p in v.txt}))


@lru_cache(maxsize=1)
def technology_data() -> TechnologyData:
    text = resources.files("shared.core").joinpath("technologies.yaml").read_text(encoding="utf-8")
    return TechnologyData(yaml.safe_load(text))


def technology_names() -> tuple[str, ...]:
    """Every vendor name :func:`detect` can report (the values of the lead list's ``tech`` filter)."""
    return technology_data().names


def txt_prefixes() -> tuple[str, ...]:
    """The lower-case apex TXT prefixes worth keeping from a scan (the collector keeps those)."""
    return technology_data().txt_prefixes


def report_host(uri: str) -> str | None:
    """The host of a DMARC report URI: ``mailto:d@rua.agari.com!10m`` → ``rua.agari.com``."""
    uri = uri.strip()
    if not uri.lower().startswith("mailto:"):
        return None
    address = uri[7:].split("!", 1)[0]
    if "@" not in address:
        return None
    host = address.rsplit("@", 1)[1].strip().lower().rstrip(".")
    return host or None


def _clip(text: str) -> str:
    return text if len(text) <= MAX_EVIDENCE_CHARS else text[: MAX_EVIDENCE_CHARS - 1] + "…"


def _dkim_zone(cname: str) -> str:
    cname = cname.lower().rstrip(".")
    return cname.split("._domainkey.", 1)[1] if "._domainkey." in cname else cname


def detect(record: ScanRecord, data: TechnologyData | None = None) -> list[Technology]:
    """The vendors ``record``'s DNS names, in the data file's category order, each once with its evidence."""
    data = data or technology_data()
    found: dict[str, list[str]] = {}

    def add(vendor: Vendor, evidence: str) -> None:
        items = found.setdefault(vendor.name, [])
        evidence = _clip(evidence)
        if evidence not in items and len(items) < MAX_EVIDENCE:
            items.append(evidence)

    txts = [(t, t.lower()) for t in record.txt_verifications]
    includes = record.spf.all_includes if record.spf else []
    reports: list[tuple[str, str]] = []
    if record.dmarc is not None:
        for tag, uris in (("rua", record.dmarc.rua), ("ruf", record.dmarc.ruf)):
            for uri in uris:
                host = report_host(uri)
                if host:
                    reports.append((f"{tag}={uri}", host))
    dkim = [(s.selector, s.cname) for s in record.dkim if s.cname]
    for vendor in data.vendors:
        for text, lowered in txts:
            if vendor.txt and lowered.startswith(vendor.txt):
                add(vendor, text)
        if vendor.spf:
            for include in includes:
                if vendor.hosts("spf", include):
                    add(vendor, f"include:{include}")
        if vendor.dmarc:
            for evidence, host in reports:
                if vendor.hosts("dmarc", host):
                    add(vendor, evidence)
        if vendor.dkim_cname:
            for selector, cname in dkim:
                if vendor.hosts("dkim_cname", _dkim_zone(cname)) or vendor.hosts("dkim_cname", cname):
                    add(vendor, f"DKIM {selector}._domainkey CNAME {cname}")
        if vendor.mx:
            for mx in record.mx:
                if vendor.hosts("mx", mx.host):
                    add(vendor, f"MX {mx.host}")
        if vendor.ns:
            for ns in record.ns:
                if vendor.hosts("ns", ns):
                    add(vendor, f"NS {ns.lower().rstrip('.')}")
    order = {category: index for index, category in enumerate(data.categories)}
    vendors = [v for v in data.vendors if v.name in found]
    vendors.sort(key=lambda v: order[v.category])  # stable: the file's order inside a category
    return [Technology(name=v.name, category=v.category, evidence=found[v.name]) for v in vendors]


def by_category(technologies: list[Technology]) -> str:
    """``collaboration: Zoom, Slack; crm: Salesforce`` (categories in the order of the list)."""
    groups: dict[str, list[str]] = {}
    for tech in technologies:
        groups.setdefault(tech.category, []).append(tech.name)
    return "; ".join(f"{category}: {', '.join(names)}" for category, names in groups.items())


def joined(technologies: list[Technology] | list[dict[str, Any]]) -> str:
    """``Zoom; Salesforce``: the names as one text cell (exports, the lead row, Dynamics 365)."""
    names = [t.name if isinstance(t, Technology) else str(t.get("name", "")) for t in technologies]
    return "; ".join(name for name in names if name)
