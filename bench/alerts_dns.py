"""The alerts benchmark's DNS world, precomputed: ``firma0.com.tr`` … leads on Google Workspace, of
which a chosen set moves to Microsoft 365 when the server gets ``SIGHUP``.

Every company has MX, an SPF record with an include chain (the provider's and Mailchimp's),
DMARC with two report addresses and two verification TXT records. Both worlds are precomputed
as finished wire answers (:class:`bench.synthetic_dns.PrecomputedResponder`), so the server
answers ~15,000 questions a second on one core and the benchmark measures Hunter, not the
stand-in for the internet (the plain master-file server, ``shared.demo.dnsserver``, managed
about 1,000 and was the bottleneck).

Run: ``python bench/alerts_dns.py --leads 10000 --changed 500 --port 0 --delay-ms 20``
(prints ``READY host port``; ``SIGHUP`` switches to the changed world and prints ``RELOADED``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.synthetic_dns import PrecomputedResponder, Zone, _rr
from shared.demo.dnsserver import main
from shared.dns import wire

SHARED = {
    "_spf.google.com": "v=spf1 include:_netblocks.google.com ~all",
    "_netblocks.google.com": "v=spf1 ip4:35.190.247.0/24 ip4:64.233.160.0/19 ~all",
    "spf.protection.outlook.com": "v=spf1 ip4:40.92.0.0/15 ip4:40.107.0.0/16 -all",
    "servers.mcsv.net": "v=spf1 ip4:205.201.128.0/20 ~all",
}


def moved_set(leads: int, changed: int) -> set[int]:
    """Which leads move to Microsoft 365: ``changed`` of them, spread evenly."""
    return set(sorted(range(0, leads, max(1, leads // max(changed, 1))))[:changed])


def zone(n: int, moved: bool) -> Zone:
    d = f"firma{n}.com.tr"
    data: dict[tuple[str, str], list] = {}
    if moved:
        data[(d, "MX")] = [wire.Mx(0, f"firma{n}-com-tr.mail.protection.outlook.com")]
        spf = "v=spf1 include:spf.protection.outlook.com include:servers.mcsv.net -all"
    else:
        data[(d, "MX")] = [wire.Mx(1, "aspmx.l.google.com"), wire.Mx(5, "alt1.aspmx.l.google.com")]
        spf = "v=spf1 include:_spf.google.com include:servers.mcsv.net ~all"
    data[(d, "TXT")] = [
        spf,
        f"google-site-verification=token-{n:06d}-abcdefghijklmnopqrstuvwxyz",
        f"atlassian-domain-verification=q{n:06d}XyZ",
    ]
    data[(f"_dmarc.{d}", "TXT")] = [
        f"v=DMARC1; p=quarantine; pct=100; rua=mailto:dmarc@{d},mailto:x@rua.example.net"
    ]
    data[(d, "NS")] = ["ns1.example-dns.net", "ns2.example-dns.net"]
    return data, {}


def fallback(qname: str, qtype: int) -> tuple[int, list]:
    """Names shared by every company (SPF includes, the providers' MX hosts)."""
    type_text = wire.TYPE_NAMES.get(qtype, "")
    if qname in SHARED:
        return wire.NOERROR, (_rr(qname, "TXT", SHARED[qname]) if type_text == "TXT" else [])
    if qname.endswith((".google.com", ".mail.protection.outlook.com")):
        return wire.NOERROR, (_rr(qname, "A", "142.250.1.26") if type_text == "A" else [])
    return wire.NXDOMAIN, []


def responder(leads: int, changed: int) -> PrecomputedResponder:
    moved = moved_set(leads, changed)
    result = PrecomputedResponder(fallback=fallback)
    result.add_world("before", ((f"firma{n}.com.tr", zone(n, False)) for n in range(leads)))
    result.add_world("after", ((f"firma{n}.com.tr", zone(n, n in moved)) for n in range(leads)))
    result.switch("before")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--leads", type=int, required=True)
    parser.add_argument("--changed", type=int, required=True)
    known, rest = parser.parse_known_args()
    main(
        rest,
        lookup_factory=lambda: responder(known.leads, known.changed),
        on_reload=lambda r: r.switch("after"),  # type: ignore[attr-defined]
    )
