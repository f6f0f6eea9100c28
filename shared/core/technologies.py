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
        self.txt_rules: tuple[tuple[str, int], ...] = tuple((p, i) for i, v in enumerate(vendors) for p in v.txt)
        # Per host kind: exact names and "*." bases -> vendor indexes, so that a host costs one lookup
        # per label instead of one comparison per pattern (the scan's hot path).
        self.exact: dict[str, dict[str, list[int]]] = {kind: {} for kind in KINDS[1:]}
        self.wild: dict[str, dict[str, list[int]]] = {kind: {} for kind in KINDS[1:]}
        for index, vendor in enumerate(vendors):
            for kind in KINDS[1:]:
                for pattern in getattr(vendor, kind):
                    table, key = (self.wild, pattern[2:]) if pattern.startswith("*.") else (self.exact, pattern)
                    table[kind].setdefault(key, []).append(index)

    def host_vendors(self, kind: str, host: str) -> list[int]:
        """The indexes of the vendors whose ``kind`` patterns match ``host``, by the rule of
        ``providers.host_matches``: ``*.x`` is ``x`` or anything under it, a plain name only itself."""
        host = host.lower().rstrip(".")
        found = list(self.exact[kind].get(host, ()))
        wild = self.wild[kind]
        if wild:
            suffix = host
            while suffix:
                found.extend(wild.get(suffix, ()))
                dot = suffix.find(".")
                suffix = suffix[dot + 1 :] if dot >= 0 else ""
        return found


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
    found: dict[int, list[str]] = {}

    def add(indexes: list[int] | tuple[int, ...], evidence: str) -> None:
        if not indexes:  # most hosts name no vendor
            return
        for index in dict.fromkeys(indexes):
            items = found.setdefault(index, [])
            clipped = _clip(evidence)
            if clipped not in items and len(items) < MAX_EVIDENCE:
                items.append(clipped)

    prefixes = data.txt_prefixes
    for text in record.txt_verifications:
        lowered = text[:64].lower()
        if lowered.startswith(prefixes):
            add([i for prefix, i in data.txt_rules if lowered.startswith(prefix)], text)
    for include in record.spf.all_includes if record.spf else ():
        add(data.host_vendors("spf", include), f"include:{include}")
    if record.dmarc is not None:
        for tag, uris in (("rua", record.dmarc.rua), ("ruf", record.dmarc.ruf)):
            for uri in uris:
                host = report_host(uri)
                if host:
                    add(data.host_vendors("dmarc", host), f"{tag}={uri}")
    for selector in record.dkim:
        if selector.cname:
            zone = _dkim_zone(selector.cname)
            matched = data.host_vendors("dkim_cname", zone)
            if zone != selector.cname.lower().rstrip("."):
                matched += data.host_vendors("dkim_cname", selector.cname)
            add(matched, f"DKIM {selector.selector}._domainkey CNAME {selector.cname}")
    for mx in record.mx:
        add(data.host_vendors("mx", mx.host), f"MX {mx.host}")
    for ns in record.ns:
        add(data.host_vendors("ns", ns), f"NS {ns.lower().rstrip('.')}")
    order = {category: index for index, category in enumerate(data.categories)}
    ranked = sorted(found, key=lambda i: (order[data.vendors[i].category], i))  # the file's order in a category
    return [Technology(name=data.vendors[i].name, category=data.vendors[i].category, evidence=found[i]) for i in ranked]


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
