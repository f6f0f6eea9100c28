"""Synthetic DNS data for the benchmark: N company domains with a realistic record mix.

Domain ``coN.com.tr`` gets a profile from N: Microsoft 365 (DKIM CNAMEs into the tenant in the old
``…onmicrosoft.com`` and the new ``<tenant>.<p>-v1.dkim.mail.microsoft`` form, discovery CNAMEs),
Google Workspace, a self-hosted server at a local host, GoDaddy shared hosting, Yandex, Mimecast in
front of M365, a domain without MX, and a few that do not exist. On top of that, what real companies
publish (:func:`zone`): SaaS senders in the SPF record (include chains through shared targets with
nested includes of their own, a per-company HubSpot include), 4–10 apex TXT records (verification
tokens of 16–100 characters), DMARC with ``rua``/``ruf`` addresses at monitoring vendors, the
senders' DKIM CNAMEs and a website address. Answers are generated from the name (seeded by N), so
100,000 domains cost no memory; the server adds the per-query delay of a real recursive resolver.

This server stands in for the internet, so it must not be what a benchmark measures. With
``--precompute N`` it builds, before it reports READY, the finished wire-format answer to every
question the scanner asks about ``co1.com.tr`` … ``coN.com.tr`` (MX, TXT, NS, A, DMARC, each DKIM
selector, the discovery CNAMEs, and the company's own names under a provider: its M365 MX host's
A/AAAA, its HubSpot include), keyed by the query's bytes after its 2-byte ID; a query then costs a
dictionary look-up and an ID patch, and is still held back ``--delay-ms`` on the event loop's timer
(no thread per query). Any other question (the shared SPF targets and MX hosts, asked once per
scanner) is answered the ordinary way. The answers are the same either way; only the server's CPU
per query changes (about 0.3 ms per scanned domain with ``--precompute``).

Run: ``python bench/synthetic_dns.py --port 0 --delay-ms 20 [--precompute N]`` (prints
``READY host port``).
"""

from __future__ import annotations

import argparse
import random
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
# Names under a provider that belong to one company: its M365 MX host and its HubSpot SPF include.
_CO_OUTSIDE = re.compile(r"^co(\d+)-com-tr\.mail\.protection\.outlook\.com$|^(\d+)\.spf01\.hubspotemail\.net$")
# The SPF records of shared include targets, nested as the real ones are (asked once per scanner: cached).
SHARED = {
    "spf.protection.outlook.com": "v=spf1 ip4:40.92.0.0/15 ip4:40.107.0.0/16 ip4:52.100.0.0/14 ip4:104.47.0.0/17 "
    "ip6:2a01:111:f400::/48 ip6:2a01:111:f403::/49 include:spfd.protection.outlook.com -all",
    "spfd.protection.outlook.com": "v=spf1 ip4:51.4.72.0/24 ip4:51.5.72.0/24 ip4:51.5.80.0/27 -all",
    "_spf.google.com": "v=spf1 include:_netblocks.google.com include:_netblocks2.google.com "
    "include:_netblocks3.google.com ~all",
    "_netblocks.google.com": "v=spf1 ip4:35.190.247.0/24 ip4:64.233.160.0/19 ip4:66.102.0.0/20 ip4:66.249.80.0/20 "
    "ip4:72.14.192.0/18 ip4:74.125.0.0/16 ip4:108.177.8.0/21 ip4:173.194.0.0/16 ip4:209.85.128.0/17 ~all",
    "_netblocks2.google.com": "v=spf1 ip6:2001:4860:4000::/36 ip6:2404:6800:4000::/36 ip6:2607:f8b0:4000::/36 ~all",
    "_netblocks3.google.com": "v=spf1 ip4:172.217.0.0/19 ip4:172.217.32.0/20 ip4:108.177.96.0/19 ~all",
    "_spf.yandex.net": "v=spf1 ip4:77.88.0.0/18 ip4:87.250.224.0/19 ip6:2a02:6b8::/32 ~all",
    "spf.natrohost.com": "v=spf1 ip4:94.73.144.0/20 ip4:94.73.160.0/20 ~all",
    "secureserver.net": "v=spf1 ip4:68.178.252.0/24 ip4:173.201.192.0/23 ip4:208.109.80.0/20 -all",
    "_netblocks.mimecast.com": "v=spf1 ip4:185.58.84.0/22 ip4:91.220.42.0/24 ip4:207.211.30.0/24 ~all",
    # SaaS senders a company adds to its SPF record
    "_spf.salesforce.com": "v=spf1 exists:%{i}._spf.mta.salesforce.com -all",
    "servers.mcsv.net": "v=spf1 ip4:205.201.128.0/20 ip4:198.2.128.0/18 ip4:148.105.8.0/21 ?all",
    "sendgrid.net": "v=spf1 ip4:167.89.0.0/17 ip4:208.117.48.0/20 ip4:50.31.32.0/19 ip4:198.37.144.0/20 ~all",
    "mail.zendesk.com": "v=spf1 include:_spf.zdsys.com ~all",
    "_spf.zdsys.com": "v=spf1 ip4:192.161.144.0/20 ip4:185.12.80.0/22 ip4:188.172.128.0/20 ~all",
    "mailgun.org": "v=spf1 include:_spf.mailgun.org include:_spf.eu.mailgun.org ~all",
    "_spf.mailgun.org": "v=spf1 ip4:209.61.151.0/24 ip4:166.78.68.0/22 ip4:198.61.254.0/23 ~all",
    "_spf.eu.mailgun.org": "v=spf1 ip4:141.193.32.0/23 ip4:159.135.140.80/29 ~all",
    "amazonses.com": "v=spf1 ip4:199.255.192.0/22 ip4:199.127.232.0/22 ip4:54.240.0.0/18 ip4:69.169.224.0/20 -all",
    "spf.brevo.com": "v=spf1 ip4:185.41.28.0/22 ip4:185.107.232.0/22 ip4:1.179.112.0/20 ~all",
    "_spf.atlassian.net": "v=spf1 include:_spf2.atlassian.net ~all",
    "_spf2.atlassian.net": "v=spf1 ip4:18.234.32.128/25 ip4:13.52.5.0/25 ip4:104.192.142.0/24 ~all",
    "spf.mtasv.net": "v=spf1 ip4:50.31.156.96/27 ip4:104.245.209.192/26 ~all",
    "_spf.docusign.net": "v=spf1 ip4:64.207.216.0/24 ip4:209.67.98.0/24 ~all",
    "_spf.hubspotemail.net": "v=spf1 ip4:3.93.157.0/24 ip4:3.210.190.0/24 ip4:143.244.80.0/20 ~all",
    "spf.mandrillapp.com": "v=spf1 ip4:198.2.128.0/18 ip4:148.105.0.0/16 ~all",
}
# (include target, weight): the SaaS senders in companies' SPF records; "hubspot" is per company.
SENDERS = [
    ("servers.mcsv.net", 6),
    ("_spf.salesforce.com", 5),
    ("sendgrid.net", 5),
    ("mail.zendesk.com", 3),
    ("hubspot", 3),
    ("mailgun.org", 2),
    ("amazonses.com", 2),
    ("spf.brevo.com", 2),
    ("_spf.atlassian.net", 2),
    ("spf.mtasv.net", 1),
    ("_spf.docusign.net", 1),
    ("spf.mandrillapp.com", 1),
]
_SENDERS = [name for name, weight in SENDERS for _ in range(weight)]
# Verification TXT records (prefix, token alphabet, token length), as the vendors publish them.
_HEX, _B64, _ALNUM = (
    "0123456789abcdef",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
    ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
)
VERIFICATIONS = [
    ("google-site-verification=", _B64, 43),
    ("atlassian-domain-verification=", _B64, 64),
    ("docusign=", _HEX, 32),
    ("facebook-domain-verification=", "abcdefghijklmnopqrstuvwxyz0123456789", 30),
    ("ZOOM_verify_", _ALNUM, 22),
    ("apple-domain-verification=", _ALNUM, 16),
    ("adobe-idp-site-verification=", _HEX, 64),
    ("stripe-verification=", _HEX, 64),
    ("knowbe4-site-verification=", _HEX, 32),
    ("onetrust-domain-verification=", _HEX, 32),
    ("miro-verification=", _HEX, 40),
    ("dropbox-domain-verification=", "abcdefghijklmnopqrstuvwxyz0123456789", 12),
    ("cisco-ci-domain-verification=", _HEX, 64),
    ("slack-domain-verification=", _ALNUM, 40),
    ("globalsign-domain-verification=", _B64, 42),
    ("_github-challenge-", _HEX, 10),  # not a verification the scanner keeps
    ("v=verifydomain ", _ALNUM, 20),  # noise
]
# DMARC aggregate/failure report hosts of monitoring vendors (the local part is per company).
REPORT_HOSTS = [
    ("rua.agari.com", "ruf.agari.com"),
    ("ag.dmarcian.com", "fr.dmarcian.com"),
    ("rua.easydmarc.us", "ruf.easydmarc.us"),
    ("inbox.ondmarc.com", None),
    ("dmarc_agg.vali.email", None),
    ("rua.dmarcanalyzer.com", "ruf.dmarcanalyzer.com"),
    ("report.uriports.com", "report.uriports.com"),
    ("rua.powerdmarc.com", "ruf.powerdmarc.com"),
    ("dmarc-reports.cloudflare.net", None),
]
DKIM_KEY = "v=DKIM1; k=rsa; p=" + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + "x" * 348 + "IDAQAB"  # 2048-bit size
WEB_HOSTS = ["94.73.150.20", "185.199.108.153", "104.21.32.1", "172.67.140.9", "5.2.84.10", "93.89.224.5"]
SHARED_PTR = {
    "52.101.68.10": "mail-db5eur03on2010.outbound.protection.outlook.com",
    "142.250.1.26": "wa-in-f26.1e100.net",
    "94.73.150.10": "mail.natrohost.com",
    "94.73.150.20": "web.natrohost.com",
    "68.178.252.10": "p3plibsmtp01.prod.phx3.secureserver.net",
    "185.58.84.10": "eu-smtp-1.mimecast.com",
    "77.88.21.249": "mx.yandex.net",
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


def _token(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def _extras(d: str, number: int, rng: random.Random) -> tuple[list[str], list[str], list[str]]:
    """A company's SaaS stack: extra SPF includes (0–3), verification TXT records (so that the apex holds
    4–10 with the SPF record and the provider's own), and DMARC report addresses."""
    senders: list[str] = []
    for _ in range(rng.choice((0, 1, 1, 2, 2, 3))):
        sender = rng.choice(_SENDERS)
        sender = f"{number}.spf01.hubspotemail.net" if sender == "hubspot" else sender
        if sender not in senders:
            senders.append(sender)
    txt = [
        prefix + _token(rng, alphabet, length)
        for prefix, alphabet, length in rng.sample(VERIFICATIONS, rng.randint(3, 8))
    ]
    reports = rng.sample(REPORT_HOSTS, rng.choice((0, 1, 1, 2)))
    rua = [f"mailto:dmarc@{d}"] + [f"mailto:{_token(rng, _HEX, 8)}@{host}" for host, _ in reports]
    ruf = [f"mailto:{_token(rng, _HEX, 8)}@{ruf}" for _, ruf in reports if ruf]
    return senders, txt, [",".join(rua), ",".join(ruf)]


def zone(d: str, profile: str) -> Zone:
    """Every record of domain ``d`` (not ``nxdomain``): (name, type) -> values, and CNAMEs.

    Besides its mail provider, a company has what real ones have: SaaS senders in its SPF record
    (include chains, some nested, one per-company HubSpot include), 4–10 apex TXT records
    (verification tokens of 16–100 characters), DMARC with report addresses at monitoring vendors,
    DKIM CNAMEs to its senders, Microsoft 365 DKIM CNAMEs in the old (``…onmicrosoft.com``) and the
    new (``<tenant>.<p>-v1.dkim.mail.microsoft``) form, and a website address."""
    number = int(_CO.search(d).group(1))  # type: ignore[union-attr]
    rng = random.Random(number)
    dashed = d.replace(".", "-")
    tenant = d.split(".")[0]
    data: dict[tuple[str, str], list] = {}
    cnames: dict[str, str] = {}
    senders, verifications, (rua, ruf) = _extras(d, number, rng)
    spf: list[str] = []
    own_txt: list[str] = []
    dmarc = f"v=DMARC1; p=none; rua={rua}"
    if profile in ("m365", "gateway"):
        if profile == "m365":
            host = f"{dashed}.mail.protection.outlook.com"
            data[(d, "MX")] = [wire.Mx(0, host)]
            data[(host, "A")] = ["52.101.68.10", "52.101.68.11"]
            data[(host, "AAAA")] = ["2a01:111:f403:c904::1"]
            spf = ["include:spf.protection.outlook.com"]
            own_txt = [f"MS=ms{number * 7919 % 100_000_000:08d}"]
        else:
            data[(d, "MX")] = [
                wire.Mx(10, "eu-smtp-inbound-1.mimecast.com"),
                wire.Mx(10, "eu-smtp-inbound-2.mimecast.com"),
            ]
            spf = ["include:_netblocks.mimecast.com", "include:spf.protection.outlook.com"]
        policy = ("quarantine", "reject", "none")[number % 3]
        dmarc = f"v=DMARC1; p={policy}; pct=100; rua={rua}" + (f"; ruf={ruf}; fo=1" if ruf else "")
        for sel in ("selector1", "selector2"):
            new_form = f"{tenant}.{'abcdefghijklmnopqrs'[number % 19]}-v1.dkim.mail.microsoft"
            zone_of = f"{tenant}.onmicrosoft.com" if number % 2 else new_form
            cnames[f"{sel}._domainkey.{d}"] = f"{sel}-{dashed}._domainkey.{zone_of}"
        cnames[f"autodiscover.{d}"] = "autodiscover.outlook.com"
        if number % 3 == 0:
            cnames[f"enterpriseregistration.{d}"] = "enterpriseregistration.windows.net"
            cnames[f"enterpriseenrollment.{d}"] = "enterpriseenrollment-s.manage.microsoft.com"
        if number % 5 == 0:
            cnames[f"lyncdiscover.{d}"] = "webdir.online.lync.com"
    elif profile == "google":
        data[(d, "MX")] = [
            wire.Mx(1, "aspmx.l.google.com"),
            wire.Mx(5, "alt1.aspmx.l.google.com"),
            wire.Mx(5, "alt2.aspmx.l.google.com"),
            wire.Mx(10, "alt3.aspmx.l.google.com"),
            wire.Mx(10, "alt4.aspmx.l.google.com"),
        ]
        spf = ["include:_spf.google.com"]
        data[(f"google._domainkey.{d}", "TXT")] = [DKIM_KEY]
    elif profile == "local":
        data[(d, "MX")] = [wire.Mx(10, f"mail.{d}")]
        data[(f"mail.{d}", "A")] = ["94.73.150.10"]
        data[(d, "NS")] = ["ns1.natrohost.com", "ns2.natrohost.com"]
        spf = ["a", "mx", "include:spf.natrohost.com"]
        data[(f"default._domainkey.{d}", "TXT")] = [DKIM_KEY]
    elif profile == "hosting":
        data[(d, "MX")] = [wire.Mx(0, "smtp.secureserver.net"), wire.Mx(10, "mailstore1.secureserver.net")]
        spf = ["include:secureserver.net"]
    elif profile == "yandex":
        data[(d, "MX")] = [wire.Mx(10, "mx.yandex.net")]
        own_txt = [f"yandex-verification: {number:08x}abcd"]
    elif profile == "nomx":
        data[(d, "A")] = ["203.0.113.5"]
        senders, verifications = [], verifications[:1]
    if profile != "nomx":
        data[(d, "A")] = [WEB_HOSTS[number % len(WEB_HOSTS)]]
        data[(f"_dmarc.{d}", "TXT")] = [dmarc]
    for sender in senders:
        if sender.endswith(".spf01.hubspotemail.net"):
            data[(sender, "TXT")] = ["v=spf1 include:_spf.hubspotemail.net ~all"]
        if sender == "sendgrid.net":
            for sel in ("s1", "s2"):
                cnames[f"{sel}._domainkey.{d}"] = f"{sel}.domainkey.u{number}.wl{number % 1000}.sendgrid.net"
        if sender == "servers.mcsv.net":
            cnames[f"k1._domainkey.{d}"] = "dkim.mcsv.net"
    if profile == "yandex" and not senders:
        spf_text = "v=spf1 redirect=_spf.yandex.net"
    elif profile == "yandex":
        spf_text = " ".join(["v=spf1 include:_spf.yandex.net", *(f"include:{s}" for s in senders), "~all"])
    else:
        spf_text = " ".join(
            ["v=spf1", *spf, *(f"include:{s}" for s in senders), "-all" if profile == "m365" else "~all"]
        )
    apex_txt = [spf_text, *own_txt, *verifications]
    if profile == "nomx":
        apex_txt = verifications
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
        if qtype == "TXT" and "._domainkey." in target:  # the provider's key at the end of the chain
            answer += _rr(target, "TXT", DKIM_KEY)
        elif qtype == "TXT" and target == "dkim.mcsv.net":
            answer += _rr(target, "TXT", DKIM_KEY)
        elif qtype == "TXT" and target.endswith(".sendgrid.net"):
            answer += _rr(target, "TXT", DKIM_KEY)
        return wire.NOERROR, answer
    exists = qname == d or any(key[0] == qname for key in data) or qname in cnames
    return (wire.NOERROR if exists else wire.NXDOMAIN), []


def lookup(qname: str, qtype: int) -> tuple[int, list]:
    type_text = wire.TYPE_NAMES.get(qtype, "")
    if qname in SHARED:
        return wire.NOERROR, (_rr(qname, "TXT", SHARED[qname]) if type_text == "TXT" else [])
    outside = _CO_OUTSIDE.match(qname)
    if outside:  # a name under a provider that belongs to one company
        number = int(outside.group(1) or outside.group(2))
        if profile_of(number) != "nxdomain":
            return answer(zone(f"co{number}.com.tr", profile_of(number)), f"co{number}.com.tr", qname, type_text)
    if qname.endswith(".in-addr.arpa"):
        address = ".".join(reversed(qname.removesuffix(".in-addr.arpa").split(".")))
        ptr = SHARED_PTR.get(address)
        return (wire.NOERROR, _rr(qname, "PTR", ptr) if type_text == "PTR" else []) if ptr else (wire.NXDOMAIN, [])
    if qname.endswith(
        (".mail.protection.outlook.com", ".google.com", ".secureserver.net", ".mimecast.com", ".yandex.net")
    ):
        return wire.NOERROR, (_rr(qname, "A", "52.101.68.10") if type_text == "A" else [])
    match = _CO.search(qname)
    if not match:
        return wire.NXDOMAIN, []
    number = int(match.group(1))
    return records(f"co{number}.com.tr", profile_of(number), qname, type_text)


def questions(d: str, records_of: Zone | None = None) -> list[tuple[str, str]]:
    """The questions the scanner asks about a domain of its own (not the shared providers'), and about
    the names of ``records_of`` outside the domain (its M365 MX host, a per-company SPF include)."""
    from shared.config import DEFAULT_DKIM_SELECTORS
    from shared.scan.collector import DISCOVERY_CNAMES

    asked = [(d, "MX"), (d, "TXT"), (d, "NS"), (d, "A"), (f"_dmarc.{d}", "TXT"), (f"mail.{d}", "A")]
    asked += [(f"mail.{d}", "AAAA")]
    asked += [(f"{selector}._domainkey.{d}", "TXT") for selector in DEFAULT_DKIM_SELECTORS]
    asked += [(f"{label}.{d}", "CNAME") for label in DISCOVERY_CNAMES]
    if records_of is not None:
        seen = set(asked)
        for name, rdtype in records_of[0]:
            if not (name == d or name.endswith("." + d)):  # e.g. its M365 MX host: A and AAAA
                for key in ((name, rdtype), *(((name, t) for t in ("A", "AAAA")) if rdtype in ("A", "AAAA") else ())):
                    if key not in seen:
                        seen.add(key)
                        asked.append(key)
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
            for qname, qtype in questions(d, records_of):
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
