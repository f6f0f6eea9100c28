"""Collect every DNS signal of one domain concurrently.

All first-round questions (MX, apex TXT, DMARC, NS, the DKIM selectors any provider may use) leave
at once; each chain continues as soon as its own answer arrives (MX → addresses of the MX hosts →
with hosting enrichment on, the PTR of a few of them and of the apex address, asked beside the MX
chain; SPF → includes; MX + apex TXT → the provider-specific questions — Microsoft 365's selectors
and discovery CNAMEs, Google's and Zoho's selectors — when that provider is possible), so a domain
costs about as many round trips as its deepest chain (normally two or three), not the number of
questions.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from shared.core import dmarc, spf
from shared.core.domains import Domain
from shared.core.models import DkimSelector, DmarcInfo, HostingInfo, MxHost, ScanRecord, ScanStatus, SpfInfo
from shared.core.providers import provider_data
from shared.core.technologies import txt_prefixes
from shared.dns.client import Answer, DnsClient, Outcome
from shared.scan import whois as whois_lookup
from shared.scan.hosting import HostingEnricher

DISCOVERY_CNAMES = ("autodiscover", "enterpriseregistration", "enterpriseenrollment", "lyncdiscover")
# Questions only one mailbox provider answers: its DKIM selectors (and, for Microsoft 365, the
# discovery CNAMEs above). They are asked once the MX and apex TXT show that provider is possible
# (see possible_providers); every other selector is asked of every domain.
PROVIDER_SELECTORS = {"selector1": "M365", "selector2": "M365", "google": "Google", "zmail": "Zoho"}
VERIFICATION_PREFIXES = (
    "ms=",
    "google-site-verification=",
    "yandex-verification:",
    "yandex-verification=",
    "zoho-verification=",
    "atlassian-domain-verification=",
    "docusign=",
    "facebook-domain-verification=",
    "apple-domain-verification=",
)
# What the scan keeps of the apex TXT: the texts the classifier and the technographics read (the
# prefixes above and every prefix in shared/core/technologies.yaml), at most so many, each cut to
# so many characters — a zone with thousands of TXT records or a 64 KB string stays a small record.
KEPT_TXT_PREFIXES = tuple(sorted({*VERIFICATION_PREFIXES, *txt_prefixes()}))
MAX_KEPT_TXT = 32
MAX_KEPT_TXT_CHARS = 255
MAX_MX_HOSTS = 5  # addresses are looked up for the first few exchangers only

_STATUS_BY_OUTCOME = {
    Outcome.NXDOMAIN: ScanStatus.NXDOMAIN,
    Outcome.TIMEOUT: ScanStatus.TIMEOUT,
    Outcome.SERVFAIL: ScanStatus.SERVFAIL,
    Outcome.ERROR: ScanStatus.ERROR,
    Outcome.NODATA: ScanStatus.NO_MX,
}


class Collector:
    """Holds the client and the settings that shape a collection."""

    def __init__(
        self,
        client: DnsClient,
        *,
        dkim_selectors: list[str],
        domain_budget: float,
        whois_enabled: bool = False,
        whois_server: str | None = None,
        whois_timeout: float = 5.0,
        hosting: HostingEnricher | None = None,
    ) -> None:
        self.client = client
        self.hosting = hosting  # PTR and IP-database enrichment of the MX and apex addresses, or None
        self.dkim_selectors = dkim_selectors
        self.domain_budget = domain_budget
        self.whois_enabled = whois_enabled
        self.whois_server = whois_server
        self.whois_timeout = whois_timeout

    async def collect(self, domain: Domain, raw_input: str | None = None) -> ScanRecord:
        started = time.monotonic()
        deadline = started + self.domain_budget
        name = domain.name
        query = self.client.query

        mx_task = self._mx(name, deadline) if self.hosting is None else self._mx_and_hosting(name, deadline)
        txt_task = self._apex_txt(name, deadline)
        dmarc_task = query(f"_dmarc.{name}", "TXT", deadline=deadline)
        ns_task = query(name, "NS", deadline=deadline)
        always = [s for s in self.dkim_selectors if s not in PROVIDER_SELECTORS]
        dkim_tasks = [query(f"{s}._domainkey.{name}", "TXT", deadline=deadline) for s in always]
        whois_task = (
            whois_lookup.lookup(name, server=self.whois_server, timeout=self.whois_timeout)
            if self.whois_enabled
            else _done(None)
        )
        provider_task = self._provider_questions(name, deadline)
        (
            mx_result,
            (spf_info, verifications),
            dmarc_answer,
            ns_answer,
            whois,
            by_provider,
            *dkim_answers,
        ) = await asyncio.gather(mx_task, txt_task, dmarc_task, ns_task, whois_task, provider_task, *dkim_tasks)
        status, error, mx = mx_result[:3]
        hosting = mx_result[3] if len(mx_result) > 3 else None
        answered, cnames = by_provider
        answered.update(zip(always, dkim_answers, strict=True))
        dkim = [_dkim(s, answered[s]) for s in self.dkim_selectors if s in answered]
        # Validated, not model_construct: pydantic-core validates a record in ~5 us, while model_construct
        # runs in Python and inspects each default_factory's signature per call (~160 us).
        return ScanRecord(
            input=raw_input if raw_input is not None else domain.unicode,
            domain=name,
            domain_unicode=domain.unicode,
            status=status,
            error=error,
            mx=mx,
            spf=spf_info,
            dmarc=_dmarc(dmarc_answer),
            dkim=[selector for selector in dkim if selector is not None],
            txt_verifications=verifications,
            cnames=cnames,
            ns=sorted(ns_answer.records),
            whois=whois,
            hosting=hosting,
            scanned_at=datetime.now(UTC),
            duration_ms=round((time.monotonic() - started) * 1000, 1),
        )

    async def _provider_questions(self, name: str, deadline: float) -> tuple[dict[str, Answer], dict[str, str]]:
        """The provider-specific questions (:data:`PROVIDER_SELECTORS`, the discovery CNAMEs) the MX and
        apex TXT answers leave open → (DKIM answers by selector, discovery CNAME targets by label).

        The MX and TXT questions here are the ones :meth:`_mx` and :meth:`_apex_txt` ask: the client
        asks each once (in-flight de-duplication). These questions leave in the second round, beside
        the MX hosts' addresses and the SPF includes, so a domain still costs two or three round trips.
        """
        query = self.client.query
        # Both are in flight already (asked by _mx and _apex_txt): awaited one after the other, no tasks.
        mx = await query(name, "MX", deadline=deadline)
        txt = await query(name, "TXT", deadline=deadline)
        possible = possible_providers(mx, txt.texts())
        selectors = [
            s
            for s in self.dkim_selectors
            if s in PROVIDER_SELECTORS and (possible is None or PROVIDER_SELECTORS[s] in possible)
        ]
        labels = DISCOVERY_CNAMES if possible is None or "M365" in possible else ()
        answers = await asyncio.gather(
            *(query(f"{s}._domainkey.{name}", "TXT", deadline=deadline) for s in selectors),
            *(query(f"{label}.{name}", "CNAME", deadline=deadline) for label in labels),
        )
        dkim, found = answers[: len(selectors)], answers[len(selectors) :]
        cnames = {label: answer.cnames[0] for label, answer in zip(labels, found, strict=True) if answer.cnames}
        return dict(zip(selectors, dkim, strict=True)), cnames

    async def _mx(self, name: str, deadline: float) -> tuple[ScanStatus, str | None, list[MxHost]]:
        answer = await self.client.query(name, "MX", deadline=deadline)
        if not answer.ok:
            status = _STATUS_BY_OUTCOME[answer.outcome]
            detail = answer.detail if answer.outcome.is_failure else None
            return status, detail, []
        exchanges = [r for r in answer.records if r.exchange not in ("", ".")]
        if not exchanges and answer.records:  # RFC 7505 null MX ("0 ."): no mail, and no host to list
            return ScanStatus.NULL_MX, None, []
        hosts = sorted(
            (MxHost(preference=r.preference, host=r.exchange) for r in exchanges),
            key=lambda h: (h.preference, h.host),
        )
        asked = [(h.host, rdtype) for h in hosts[:MAX_MX_HOSTS] for rdtype in ("A", "AAAA")]
        # A big provider's MX hosts are in the cache after the first domain: taken as they are, no task.
        results = [self.client.cached(host, rdtype) for host, rdtype in asked]
        missing = [i for i, found in enumerate(results) if found is None]
        if missing:
            fetched = await asyncio.gather(*(self.client.query(*asked[i], deadline=deadline) for i in missing))
            for i, found in zip(missing, fetched, strict=True):
                results[i] = found
        for index, host in enumerate(hosts[:MAX_MX_HOSTS]):
            for answer in results[2 * index : 2 * index + 2]:
                host.addresses.extend(answer.records)
        return ScanStatus.OK, None, hosts

    async def _mx_and_hosting(
        self, name: str, deadline: float
    ) -> tuple[ScanStatus, str | None, list[MxHost], HostingInfo | None]:
        """The MX chain and the apex A question side by side, then one round of PTR questions."""
        assert self.hosting is not None
        (status, error, hosts), apex = await asyncio.gather(
            self._mx(name, deadline), self.client.query(name, "A", deadline=deadline)
        )
        hosting = await self.hosting.enrich(self.client, name, hosts, apex, deadline)
        return status, error, hosts, hosting

    async def _apex_txt(self, name: str, deadline: float) -> tuple[SpfInfo | None, list[str]]:
        answer = await self.client.query(name, "TXT", deadline=deadline)
        texts = answer.texts()
        verifications = kept_txt(texts)
        record, error = spf.select_record(texts)
        if record is None:
            return None, verifications

        async def fetch(target: str) -> tuple[list[str], str]:
            result = await self.client.query(target, "TXT", deadline=deadline)
            if result.outcome.is_failure:
                return [], f"error {result.outcome.value}"
            return result.texts(), "ok" if result.ok else "void"

        return await spf.analyse(record, fetch, error=error), verifications


def possible_providers(mx: Answer, texts: list[str]) -> frozenset[str] | None:
    """The mailbox providers whose own questions are worth asking, or None for every provider.

    None unless the MX answer names known providers for every host that is not a security gateway:
    an unknown relay, the company's own server, a gateway alone, no MX, a null MX or a failed MX
    question leave any provider possible. Otherwise the providers those MX hosts name, plus any the
    apex TXT names by a verification record (``MS=ms…``, ``google-site-verification=``…) or an SPF
    include or redirect (``spf.protection.outlook.com``…). A name that does not exist (NXDOMAIN) has
    no names under it either (RFC 8020): no provider.
    """
    if mx.outcome is Outcome.NXDOMAIN:
        return frozenset()
    if not mx.ok:
        return None
    data = provider_data()
    named: set[str] = set()
    for record in mx.records:
        host = record.exchange
        if host in ("", ".") or data.gateway(host):
            continue
        found = data.mx_provider(host)
        if found is None:
            return None
        named.add(found[0])
    if not named:
        return None
    for text in texts:
        lowered = text.strip().lower()
        for provider, spec in data.providers.items():
            if lowered.startswith(tuple(spec.get("txt", ()))):
                named.add(provider)
        if spf.is_spf(lowered):
            for term in lowered.split()[1:]:
                term = term.lstrip("+-~?")
                if term.startswith(("include:", "redirect=")):
                    named.update(data.spf_index.all(term[8:] if term.startswith("include:") else term[9:]))
    return frozenset(named)


def kept_txt(texts: list[str]) -> list[str]:
    """The apex TXT texts worth keeping: those starting with a known verification prefix, bounded."""
    kept: list[str] = []
    for text in texts:
        text = text.strip()
        if text[:64].lower().startswith(KEPT_TXT_PREFIXES):
            kept.append(text[:MAX_KEPT_TXT_CHARS])
            if len(kept) >= MAX_KEPT_TXT:
                break
    return kept


def _done(value: object) -> asyncio.Future:
    """A finished future: gather takes it as it is (a coroutine would cost a task)."""
    future = asyncio.get_running_loop().create_future()
    future.set_result(value)
    return future


def _dmarc(answer: Answer) -> DmarcInfo | None:
    record, error = dmarc.select_record(answer.texts())
    return dmarc.parse(record, error=error) if record is not None else None


def _dkim(selector: str, answer: Answer) -> DkimSelector | None:
    if not (answer.ok or answer.cnames):
        return None
    texts = " ".join(answer.texts()).replace(" ", "").lower()
    has_key = "p=" in texts and "p=;" not in texts and not texts.endswith("p=")
    return DkimSelector(selector=selector, cname=answer.cnames[0] if answer.cnames else None, has_key=has_key)
