"""Synthetic DNS data for the benchmark: N company domains with a realistic record mix.

Domain ``coN.com.tr`` gets a profile from N: Microsoft 365 (with DKIM CNAMEs into the tenant,
autodiscover, DMARC), Google Workspace, a self-hosted server at a local host, GoDaddy shared
hosting, Yandex, Mimecast in front of M365, a domain without MX, and a few that do not exist.
Answers are generated from the name, so 100,000 domains cost no memory; the server adds the
per-query delay of a real recursive resolver.

This server stands in for the internet, so it must not be what a benchmark measures. With
``--precompute N`` it builds, before it reports READY, the finished wire-format answer to every
question the scanner asks about ``co1.com.tr`` … ``coN.com.tr`` (MX, TXT, NS, DMARC, each DKIM
selector, the discovery CNAMEs), keyed by the query's bytes after its 2-byte ID; a query then
costs a dictionary look-up and an ID patch, and is still held back ``--delay-ms`` on the event
loop's timer (no thread per query). Any other question is answered the ordinary way. The answers
are the same either way; only the server's CPU per query changes (about 60 MB and 5 s of
start-up for 10,000 domains).

Run: ``python bench/synthetic_dns.py --port 0 --delay-ms 20 [--precompute N]`` (prints
``READY host port``).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from shared.demo.dnsserver import Responder, main
from shared.dns import wire

PROFILES = [  # (profile, weight out of 100)
    ("m365", 40),
    ("google", 18),
    ("local", 14),
    ("hosting", 10),
    ("yandex", 5),
    ("gateway", 5),
    ("nomx", 5),
    ("nxdomain", 3),
]
_TABLE = [name for name, weight in PROFILES for _ in range(weight)]
_CO = re.compile(r"(?:^|\.)co(\d+)\.com\.tr$")
SHARED = {
    "spf.protection.outlook.com": "v=spf1 ip4:40.92.0.0/15 ip4:40.107.0.0/16 include:spfd.protection.outlook.com -all",
    "spfd.protection.outlook.com": "v=spf1 ip4:51.4.72.0/24 -all",
    "_spf.google.com": "v=spf1 include:_netblocks.google.com ~all",
    "_netblocks.google.com": "v=spf1 ip4:35.190.247.0/24 ~all",
    "_spf.yandex.net": "v=spf1 ip4:77.88.0.0/18 ~all",
    "spf.natrohost.com": "v=spf1 ip4:94.73.144.0/20 ~all",
    "secureserver.net": "v=spf1 ip4:68.178.252.0/24 -all",
    "_netblocks.mimecast.com": "v=spf1 ip4:185.58.84.0/22 ~all",
}


def profile_of(number: int) -> str:
    return _TABLE[(number * 7919) % len(_TABLE)]


def _rr(name: str, rdtype: str, *values: object) -> list[tuple[str, int, int, bytes]]:
    code = wire.TYPES[rdtype]
    return [(name, code, 300, wire.encode_rdata(code, v)) for v in values]


def records(d: str, profile: str, qname: str, qtype: str) -> tuple[int, list]:
    """The answer for (qname, qtype) under domain ``d`` with the given profile."""
    if profile == "nxdomain":
        return wire.NXDOMAIN, []
    return answer(zone(d, profile), d, qname, qtype)


Zone = tuple[dict[tuple[str, str], list], dict[str, str]]


def zone(d: str, profile: str) -> Zone:
    """Every record of domain ``d`` (not ``nxdomain``): (name, type) -> values, and CNAMEs."""
    dashed = d.replace(".", "-")
    tenant = d.split(".")[0]
    data: dict[tuple[str, str], list] = {}
    cnames: dict[str, str] = {}
    apex_txt: list[str] = []
    if profile in ("m365", "gateway"):
        if profile == "m365":
            data[(d, "MX")] = [wire.Mx(10, f"{dashed}.mail.protection.outlook.com")]
            apex_txt = ["v=spf1 include:spf.protection.outlook.com -all", f"MS=ms{len(d) * 7919}"]
        else:
            data[(d, "MX")] = [
                wire.Mx(10, "eu-smtp-inbound-1.mimecast.com"),
                wire.Mx(10, "eu-smtp-inbound-2.mimecast.com"),
            ]
            apex_txt = ["v=spf1 include:_netblocks.mimecast.com include:spf.protection.outlook.com -all"]
        data[(f"_dmarc.{d}", "TXT")] = [f"v=DMARC1; p=quarantine; pct=100; rua=mailto:dmarc@{d}"]
        for sel in ("selector1", "selector2"):
            cnames[f"{sel}._domainkey.{d}"] = f"{sel}-{dashed}._domainkey.{tenant}.onmicrosoft.com"
        cnames[f"autodiscover.{d}"] = "autodiscover.outlook.com"
    elif profile == "google":
        data[(d, "MX")] = [
            wire.Mx(1, "aspmx.l.google.com"),
            wire.Mx(5, "alt1.aspmx.l.google.com"),
            wire.Mx(10, "alt2.aspmx.l.google.com"),
        ]
        apex_txt = ["v=spf1 include:_spf.google.com ~all", "google-site-verification=abc123"]
        data[(f"google._domainkey.{d}", "TXT")] = ["v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]
        data[(f"_dmarc.{d}", "TXT")] = ["v=DMARC1; p=none"]
    elif profile == "local":
        data[(d, "MX")] = [wire.Mx(10, f"mail.{d}")]
        data[(f"mail.{d}", "A")] = ["94.73.150.10"]
        data[(d, "NS")] = ["ns1.natrohost.com", "ns2.natrohost.com"]
        apex_txt = ["v=spf1 a mx include:spf.natrohost.com ~all"]
        data[(f"default._domainkey.{d}", "TXT")] = ["v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC"]
    elif profile == "hosting":
        data[(d, "MX")] = [wire.Mx(0, "smtp.secureserver.net"), wire.Mx(10, "mailstore1.secureserver.net")]
        apex_txt = ["v=spf1 include:secureserver.net -all"]
    elif profile == "yandex":
        data[(d, "MX")] = [wire.Mx(10, "mx.yandex.net")]
        apex_txt = ["v=spf1 redirect=_spf.yandex.net", "yandex-verification: 1234abcd"]
    elif profile == "nomx":
        data[(d, "A")] = ["203.0.113.5"]
    if apex_txt:
        data[(d, "TXT")] = apex_txt
    data.setdefault((d, "NS"), ["ns1.example-dns.net", "ns2.example-dns.net"])
    return data, cnames


def answer(records_of: Zone, d: str, qname: str, qtype: str) -> tuple[int, list]:
    data, cnames = records_of
    found = data.get((qname, qtype))
    if found is not None:
        return wire.NOERROR, _rr(qname, qtype, *found)
    target = cnames.get(qname)
    if target is not None:
        answer = _rr(qname, "CNAME", target)
        if qtype == "TXT" and target.endswith("onmicrosoft.com"):
            answer += _rr(target, "TXT", "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOC")
        return wire.NOERROR, answer
    exists = qname == d or any(key[0] == qname for key in data) or qname in cnames
    return (wire.NOERROR if exists else wire.NXDOMAIN), []


def lookup(qname: str, qtype: int) -> tuple[int, list]:
    type_text = wire.TYPE_NAMES.get(qtype, "")
    if qname in SHARED:
        return wire.NOERROR, (_rr(qname, "TXT", SHARED[qname]) if type_text == "TXT" else [])
    if qname.endswith(
        (".mail.protection.outlook.com", ".google.com", ".secureserver.net", ".mimecast.com", ".yandex.net")
    ):
        return wire.NOERROR, (_rr(qname, "A", "52.101.68.10") if type_text == "A" else [])
    match = _CO.search(qname)
    if not match:
        return wire.NXDOMAIN, []
    number = int(match.group(1))
    return records(f"co{number}.com.tr", profile_of(number), qname, type_text)


def questions(d: str) -> list[tuple[str, str]]:
    """The questions the scanner asks about a domain of its own (not the shared providers')."""
    from shared.config import DEFAULT_DKIM_SELECTORS
    from shared.scan.collector import DISCOVERY_CNAMES

    asked = [(d, "MX"), (d, "TXT"), (d, "NS"), (f"_dmarc.{d}", "TXT"), (f"mail.{d}", "A"), (f"mail.{d}", "AAAA")]
    asked += [(f"{selector}._domainkey.{d}", "TXT") for selector in DEFAULT_DKIM_SELECTORS]
    asked += [(f"{label}.{d}", "CNAME") for label in DISCOVERY_CNAMES]
    return asked


class PrecomputedResponder(Responder):
    """Answers precomputed questions from bytes (ID patched); everything else as :class:`Responder`.

    ``worlds`` are named sets of precomputed answers; :meth:`switch` makes another one current
    (the alerts benchmark changes the world between two scans of the same leads this way)."""

    def __init__(self, domains: int = 0, fallback=lookup) -> None:  # type: ignore[no-untyped-def]
        super().__init__(fallback)
        self.worlds: dict[str, dict[bytes, bytes]] = {}
        self._wire: dict[bytes, bytes] = {}
        if domains:
            self.add_world("default", ((f"co{n}.com.tr", _zone_or_none(n)) for n in range(1, domains + 1)))
            self.switch("default")

    def add_world(self, name: str, zones) -> None:  # type: ignore[no-untyped-def]
        """Precompute every question the scanner asks about each ``(domain, zone or None)``."""
        answers: dict[bytes, bytes] = {}
        for d, records_of in zones:
            for qname, qtype in questions(d):
                query = wire.build_query(0, qname, wire.TYPES[qtype])  # as the scanner's client asks
                rcode, found = (wire.NXDOMAIN, []) if records_of is None else answer(records_of, d, qname, qtype)
                answers[query[2:]] = wire.build_response(query, rcode, found, max_size=1232)[2:]
        self.worlds[name] = answers

    def switch(self, name: str) -> None:
        self._wire = self.worlds[name]

    def respond(self, data: bytes, *, tcp: bool) -> bytes | None:
        if not tcp:
            # Keyed without the letter case the scanner randomises (0x20; label lengths are < "A").
            found = self._wire.get(data[2:].lower())
            if found is not None:
                self.queries += 1
                end = _question_end(data)
                return data[:2] + found[:10] + data[12:end] + found[end - 2 :]  # ID and question as asked
        return super().respond(data, tcp=tcp)


def _zone_or_none(number: int) -> Zone | None:
    profile = profile_of(number)
    return None if profile == "nxdomain" else zone(f"co{number}.com.tr", profile)


def _question_end(query: bytes) -> int:
    """The offset just past the one question (its uncompressed name, type and class)."""
    offset = 12
    while query[offset]:
        offset += query[offset] + 1
    return offset + 1 + 4


if __name__ == "__main__":
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--precompute", type=int, default=0, help="precompute answers for co1 … coN")
    known, rest = parser.parse_known_args()
    if known.precompute:
        main(rest, lookup_factory=lambda: PrecomputedResponder(known.precompute))
    else:
        main(rest, lookup_factory=lambda: Responder(lookup))
