"""Classify a domain's mail provider, gateway and hosting company from its evidence.

Pure: the data (``providers.yaml``) is read once, the functions only look at a ScanRecord.
Naive MX matching is wrong often enough to matter to sales, so the rules are:

1. the first MX host (by preference) that is not a security gateway names the mailbox when it
   matches a known provider, hosting platform or local host; an MX under the company's own
   domain means the company runs its own server (``Local``);
2. when the MX names only a gateway (Mimecast, Proofpoint, ...) or an unknown relay, the
   provider comes from the weighted evidence of SPF includes, discovery CNAMEs, DKIM CNAMEs
   and verification TXT records — and ``Unknown`` when that is too thin;
3. every conclusion carries the evidence it rests on.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from shared.core.hosting import build_networks
from shared.core.hosting import describe as describe_hosting
from shared.core.models import M365Info, ScanRecord, TenantSize
from shared.core.technologies import detect as detect_technologies

PROVIDERS = ("M365", "Google", "Yandex", "Zoho", "Amazon", "SendGrid", "Mailgun", "Hosting", "Local", "Unknown")


def host_matches(host: str, pattern: str) -> bool:
    """``*.x`` matches ``x`` and anything under it; a plain pattern matches only itself."""
    host = host.lower().rstrip(".")
    if pattern.startswith("*."):
        base = pattern[2:]
        return host == base or host.endswith("." + base)
    return host == pattern


class HostIndex:
    """Host patterns → values, matched exactly like :func:`host_matches` but with one dictionary look-up
    per label of the host instead of one comparison per pattern (classification is on the scan's hot
    path). :meth:`first` answers the value of the first matching pattern in the order given, :meth:`all`
    every matching value; answers are remembered per host (the same MX and SPF hosts recur)."""

    MEMO = 20_000

    def __init__(self, entries: list[tuple[str, Any]]) -> None:
        self.values = [value for _, value in entries]
        self.exact: dict[str, list[int]] = {}
        self.wild: dict[str, list[int]] = {}
        for order, (pattern, _) in enumerate(entries):
            table, key = (self.wild, pattern[2:]) if pattern.startswith("*.") else (self.exact, pattern)
            table.setdefault(key, []).append(order)
        self._memo: dict[str, tuple[int, ...]] = {}

    def _orders(self, host: str) -> tuple[int, ...]:
        found = self._memo.get(host)
        if found is None:
            name = host.lower().rstrip(".")
            orders = list(self.exact.get(name, ()))
            suffix = name
            while suffix:  # "*.x" is x itself or anything under it
                orders.extend(self.wild.get(suffix, ()))
                dot = suffix.find(".")
                suffix = suffix[dot + 1 :] if dot >= 0 else ""
            found = tuple(sorted(set(orders)))
            if len(self._memo) >= self.MEMO:
                self._memo.clear()
            self._memo[host] = found
        return found

    def first(self, host: str) -> Any:
        orders = self._orders(host)
        return self.values[orders[0]] if orders else None

    def all(self, host: str) -> set[Any]:
        return {self.values[order] for order in self._orders(host)}


@dataclass(frozen=True)
class _Named:
    name: str
    patterns: tuple[str, ...]

    def match(self, host: str) -> bool:
        return any(host_matches(host, p) for p in self.patterns)


class ProviderData:
    """``providers.yaml`` in a shape that is quick to match against."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.version = str(raw["version"])
        self.providers: dict[str, dict[str, Any]] = raw["providers"]
        self.hosting = [_Named(item["name"], (item["pattern"],)) for item in self.providers["Hosting"]["mx"]]
        self.local_hosts = [_Named(i["name"], tuple(i["patterns"])) for i in raw["local_hosts"]]
        self.gateways = [_Named(i["name"], tuple(i["patterns"])) for i in raw["gateways"]]
        self.weights: dict[str, int] = raw["evidence_weights"]
        self.min_weight: int = raw["min_weight"]
        self.tenant_size: dict[str, Any] = raw["tenant_size"]
        self.networks = build_networks(raw)  # hosting enrichment: who runs an address (shared/core/hosting.py)
        # The same rules as indexes (see HostIndex): what an MX host is, and which providers a host names.
        mx_entries: list[tuple[str, tuple[str, str | None]]] = [
            (p, ("Hosting", h.name)) for h in self.hosting for p in h.patterns
        ]
        mx_entries += [
            (p, (name, None)) for name, spec in self.providers.items() if name != "Hosting" for p in spec.get("mx", [])
        ]
        mx_entries += [(p, ("Local", h.name)) for h in self.local_hosts for p in h.patterns]
        self._mx_index = HostIndex(mx_entries)
        self._gateway_index = HostIndex([(p, g.name) for g in self.gateways for p in g.patterns])
        self._local_index = HostIndex([(p, h.name) for h in self.local_hosts for p in h.patterns])
        self.spf_index = HostIndex([(p, name) for name, spec in self.providers.items() for p in spec.get("spf", [])])
        self.dkim_index = HostIndex(
            [(p, name) for name, spec in self.providers.items() for p in spec.get("dkim_cname", [])]
        )

    def mx_provider(self, host: str) -> tuple[str, str | None] | None:
        """(provider, hosting company name) for an MX host, or None when unknown: the hosting platforms
        first, then the providers, then the local hosts."""
        return self._mx_index.first(host)  # type: ignore[no-any-return]

    def gateway(self, host: str) -> str | None:
        return self._gateway_index.first(host)  # type: ignore[no-any-return]

    def local_host(self, host: str) -> str | None:
        return self._local_index.first(host)  # type: ignore[no-any-return]


@lru_cache(maxsize=1)
def provider_data() -> ProviderData:
    text = resources.files("shared.core").joinpath("providers.yaml").read_text(encoding="utf-8")
    return ProviderData(yaml.safe_load(text))


def _evidence(record: ScanRecord, data: ProviderData) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Weighted non-MX evidence per provider, with a human sentence for each piece."""
    weight: dict[str, int] = defaultdict(int)
    texts: dict[str, list[str]] = defaultdict(list)

    def add(provider: str, kind: str, text: str) -> None:
        weight[provider] += data.weights[kind]
        texts[provider].append(text)

    includes = record.spf.all_includes if record.spf else []
    dkim_found = {s.selector: s for s in record.dkim}
    spf_names = [(include, data.spf_index.all(include)) for include in includes]
    dkim_names = [(s, data.dkim_index.all(_cname_zone(s.cname))) for s in dkim_found.values() if s.cname]
    verifications = [(txt, txt.lower()) for txt in record.txt_verifications]
    for provider, spec in data.providers.items():
        for include, names in spf_names:
            if provider in names:
                add(provider, "spf", f"SPF include:{include}")
        for label, targets in spec.get("cname", {}).items():
            target = record.cnames.get(label)
            if target and any(host_matches(target, p) for p in targets):
                add(provider, "cname", f"{label}.{record.domain} CNAME {target}")
        for selector, names in dkim_names:
            if provider in names:
                add(provider, "dkim_cname", f"DKIM {selector.selector} CNAME {selector.cname}")
        for name in spec.get("dkim_selector_key", []):
            if name in dkim_found and dkim_found[name].has_key:
                add(provider, "dkim_selector_key", f"DKIM key at selector '{name}'")
        prefixes = tuple(spec.get("txt", ()))
        if prefixes:
            for txt, lowered in verifications:
                if lowered.startswith(prefixes):
                    add(provider, "txt", f"TXT {txt.split('=')[0].split(':')[0]} verification")
    return weight, texts


def _cname_zone(cname: str) -> str:
    """``selector1-x._domainkey.contoso.onmicrosoft.com`` → ``contoso.onmicrosoft.com``."""
    return cname.split("._domainkey.", 1)[1] if "._domainkey." in cname else cname


_NEW_DKIM_ZONE = re.compile(r"^(?P<prefix>[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\.[a-z]-v1\.dkim\.mail\.microsoft$")


def tenant_from_dkim_cname(cname: str) -> str | None:
    """The tenant's initial domain a Microsoft 365 DKIM CNAME names, in either form:

    * ``selector1-contoso-com._domainkey.contoso.onmicrosoft.com`` (tenants before 2024);
    * ``selector1-contoso-com._domainkey.contoso.n-v1.dkim.mail.microsoft`` (created or re-keyed since
      2024: ``<initial-domain prefix>.<one-letter partition>-v1.dkim.mail.microsoft``).
    Both give ``contoso.onmicrosoft.com``."""
    zone = _cname_zone(cname.lower().rstrip("."))
    if host_matches(zone, "*.onmicrosoft.com") and zone != "onmicrosoft.com":
        return zone
    found = _NEW_DKIM_ZONE.match(zone)
    return f"{found['prefix']}.onmicrosoft.com" if found else None


def _tenant_domain(record: ScanRecord) -> tuple[str | None, str | None]:
    """(tenant initial domain, the DKIM CNAME it was read from)."""
    for selector in record.dkim:
        if selector.cname:
            tenant = tenant_from_dkim_cname(selector.cname)
            if tenant:
                return tenant, selector.cname
    return None, None


def _tenant_size(record: ScanRecord, provider: str | None, data: ProviderData) -> TenantSize | None:
    spec = data.tenant_size["signals"]
    points = 0
    evidence: list[str] = []

    def hit(key: str, **fmt: object) -> None:
        nonlocal points
        points += spec[key]["points"]
        evidence.append(spec[key]["text"].format(**fmt))

    for label in ("enterpriseenrollment", "enterpriseregistration", "lyncdiscover"):
        if label in record.cnames:
            hit(label)
    if record.gateway:
        hit("gateway", gateway=record.gateway)
    if record.dmarc and record.dmarc.valid and record.dmarc.policy in ("quarantine", "reject") and record.dmarc.rua:
        hit("dmarc_enforced_reporting")
    senders = len(record.spf.includes) if record.spf else 0
    if senders >= spec["many_senders"]["min"]:
        hit("many_senders", n=senders)
    bands = data.tenant_size["bands"]
    if points >= bands["large"]:
        return TenantSize(band="large", confidence="low", evidence=evidence)
    if points >= bands["medium"]:
        return TenantSize(band="medium", confidence="low", evidence=evidence)
    if provider == "Hosting" and points == 0:
        return TenantSize(
            band="small",
            confidence="low",
            evidence=[spec["shared_hosting"]["text"].format(host=record.local_provider or "shared")],
        )
    return None  # not enough public evidence: say nothing rather than guess


def classify(record: ScanRecord, data: ProviderData | None = None) -> ScanRecord:
    """Return a copy of ``record`` with provider, gateway, hosting, M365, size and technologies set."""
    data = data or provider_data()
    weight, texts = _evidence(record, data)
    tenant, tenant_cname = _tenant_domain(record)
    m365 = M365Info(evidence=list(texts.get("M365", [])), tenant_domain=tenant)
    if tenant and not any(tenant_cname in text for text in m365.evidence):
        m365.evidence.append(f"tenant {tenant} from the DKIM CNAME {tenant_cname}")
    for host in record.mx:
        if host.host and data.mx_provider(host.host) == ("M365", None):
            m365.evidence.insert(0, f"MX {host.host}")
    update: dict[str, Any] = {
        "m365": m365,
        "provider": None,
        "gateway": None,
        "local_provider": None,
        "provider_evidence": [],
        "technologies": detect_technologies(record),  # TXT and DMARC name vendors even without mail
    }
    verdict = describe_hosting(record.hosting, data.networks) if record.hosting is not None else None
    if verdict is not None:
        update["hosting"] = verdict.info
    if not record.can_receive_mail:
        return record.model_copy(update=update)

    gateway = None
    mailbox_host = None
    for host in record.mx:
        name = data.gateway(host.host)
        if name:
            gateway = gateway or name
        elif mailbox_host is None:
            mailbox_host = host.host
    update["gateway"] = gateway
    evidence: list[str] = []
    if gateway:
        evidence.append(f"MX points at the {gateway} security gateway")

    provider: str | None = None
    local: str | None = None
    if mailbox_host is not None:
        matched = data.mx_provider(mailbox_host)
        if matched is not None:
            provider, local = matched
            evidence.append(f"MX {mailbox_host} belongs to {local or provider}")
        elif record.domain and host_matches(mailbox_host, "*." + record.domain):
            provider = "Local"
            local = next(filter(None, (data.local_host(ns) for ns in record.ns)), None)
            evidence.append(f"MX {mailbox_host} is the company's own mail server")
            if local:
                evidence.append(f"nameservers are at {local}")
    if provider is None:
        candidates = {p: w for p, w in weight.items() if p not in ("Hosting", "Local")}
        best = max(candidates.items(), key=lambda item: item[1], default=(None, 0))
        if best[0] is not None and best[1] >= data.min_weight:
            provider = best[0]
            evidence.append(f"{provider} identified behind the MX by: " + ", ".join(texts[provider]))
        else:
            provider = "Unknown"
            if mailbox_host:
                evidence.append(f"MX {mailbox_host} matches no known provider")
    if provider not in ("Unknown",) and provider in texts and not evidence[-1].startswith(provider):
        evidence.extend(texts[provider])
    if verdict is not None and verdict.local and verdict.evidence and provider in ("Local", "Hosting"):
        # Supporting evidence only: it may name the host of the company's own server, or agree with the MX.
        if local is None and provider == "Local":
            local = verdict.company
            evidence.append(f"{verdict.evidence} names the host {local}")
        elif local == verdict.company:
            evidence.append(f"{verdict.evidence} confirms {local}")
    update.update(provider=provider, local_provider=local, provider_evidence=evidence)
    classified = record.model_copy(update=update)
    classified.tenant_size = _tenant_size(classified, provider, data)
    return classified
