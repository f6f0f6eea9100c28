"""What the hosting enrichment of a scan means: the hosting company and a one-line summary.

Pure: the scan layer (:mod:`shared.scan.hosting`) asks the PTR records and reads the IP database;
this module only looks at the answers. A company is named when an address's reverse DNS falls
under a known host's names (``providers.yaml``: the hosting platforms, ``local_hosts`` and
``hosting_networks``) or when the IP database's AS organisation carries one of the words
``hosting_networks`` lists for it. For the classifier this is supporting evidence only: it can
name the host of a company's own mail server, never change what the MX says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from shared.core.models import HostedAddress, HostingInfo


@dataclass(frozen=True)
class Network:
    name: str
    as_org: re.Pattern[str] | None
    local: bool  # a hosting company (a local host or a hosting platform), not a cloud or a CDN


class Networks:
    """The networks of ``providers.yaml``, indexed: a PTR name is matched with one dictionary look-up
    per label (``*.natrohost.com`` matches ``natrohost.com`` and anything under it, a plain pattern
    only itself), an AS organisation by each network's whole-word expression, in file order."""

    def __init__(self) -> None:
        self.items: list[Network] = []
        self._wildcard: dict[str, Network] = {}
        self._exact: dict[str, Network] = {}

    def add(self, network: Network, ptr_patterns: list[str]) -> None:
        self.items.append(network)
        for pattern in ptr_patterns:
            if pattern.startswith("*."):
                self._wildcard.setdefault(pattern[2:], network)
            else:
                self._exact.setdefault(pattern, network)

    def by_ptr(self, name: str) -> Network | None:
        found = self._exact.get(name)
        if found is not None:
            return found
        labels = name.split(".")
        for start in range(len(labels) - 1):  # the most specific suffix first; never a bare TLD
            found = self._wildcard.get(".".join(labels[start:]))
            if found is not None:
                return found
        return None

    def by_org(self, org: str) -> Network | None:
        lowered = org.lower()
        return next((n for n in self.items if n.as_org is not None and n.as_org.search(lowered)), None)


def build_networks(raw: dict[str, Any]) -> Networks:
    """The networks the parsed ``providers.yaml`` describes: hosting platforms and local hosts by their
    host names, then ``hosting_networks`` (clouds, CDNs, hosts known by their AS organisation)."""
    nets = Networks()
    for item in raw["providers"]["Hosting"]["mx"]:
        nets.add(Network(item["name"], None, True), [item["pattern"]])
    for item in raw["local_hosts"]:
        nets.add(Network(item["name"], None, True), list(item["patterns"]))
    for item in raw.get("hosting_networks", []):
        words = item.get("as_org", [])
        pattern = (
            re.compile(r"(?<![a-z0-9])(?:" + "|".join(re.escape(w.lower()) for w in words) + r")(?![a-z0-9])")
            if words
            else None
        )
        nets.add(Network(item["name"], pattern, bool(item.get("hosting", False))), list(item.get("ptr", [])))
    return nets


def network_of(address: HostedAddress, nets: Networks) -> tuple[Network, str] | None:
    """The network an address belongs to and the evidence: its PTR name first, then its AS organisation."""
    if address.ptr:
        found = nets.by_ptr(address.ptr)
        if found is not None:
            return found, f"PTR {address.ptr}"
    if address.org:
        found = nets.by_org(address.org)
        if found is not None:
            return found, f"AS{address.asn} {address.org}" if address.asn else f"AS organisation {address.org}"
    return None


def _where(address: HostedAddress, name: str | None) -> str | None:
    label = name or address.org or (_registrable_hint(address.ptr) if address.ptr else None)
    if label is None:
        return None
    details = [f"AS{address.asn}" if address.asn else None, address.country]
    inside = ", ".join(d for d in details if d)
    return f"{label} ({inside})" if inside else label


def _registrable_hint(ptr: str) -> str:
    """The registrable-looking end of a PTR name (``srv1.natrohost.com`` → ``natrohost.com``): a readable hint."""
    labels = ptr.split(".")
    country_second_level = len(labels) > 2 and len(labels[-1]) == 2 and len(labels[-2]) <= 3  # x.com.tr
    return ".".join(labels[-3:] if country_second_level else labels[-2:])


@dataclass(frozen=True)
class HostingVerdict:
    info: HostingInfo  # with company and summary filled in
    company: str | None  # the hosting company of the mail servers
    local: bool  # that company is a hosting company (supporting evidence for Local / Hosting)
    evidence: str | None  # "MX address 203.0.113.10 PTR mx1.natrohost.com"


def describe(hosting: HostingInfo, nets: Networks) -> HostingVerdict:
    """Name the network of each address and the mail servers' host, and write the one-line summary
    (English; the web app has its own words)."""
    named = [(a, network_of(a, nets)) for a in hosting.addresses]
    addresses = [a.model_copy(update={"network": found[0].name}) if found else a for a, found in named]
    mail, mail_net = next(((a, f) for a, f in named if a.role == "mx"), (None, None))
    web, web_net = next(((a, f) for a, f in named if a.role == "apex"), (None, None))
    parts = []
    mail_where = _where(mail, mail_net[0].name if mail_net else None) if mail else None
    if mail_where:
        parts.append(f"mail hosted by {mail_where}")
    web_where = _where(web, web_net[0].name if web_net else None) if web else None
    if web_where:
        parts.append(f"website at {web_where}")
    company = mail_net[0].name if mail_net else None
    info = hosting.model_copy(update={"addresses": addresses, "company": company, "summary": "; ".join(parts) or None})
    evidence = f"MX address {mail.ip} {mail_net[1]}" if mail and mail_net else None
    return HostingVerdict(info, company, bool(mail_net and mail_net[0].local), evidence)
