"""The bounded scan pipeline: inputs → normalise → collect → classify → score → persist.

One producer feeds a bounded queue from a (possibly huge) input stream; ``scan_concurrency``
workers scan domains concurrently on one shared DNS client; one writer persists results in
batches on a dedicated thread, so the event loop never waits on the database. Memory stays
flat whatever the input size: only in-flight domains and one batch are held.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from shared.config import Settings
from shared.core.domains import Domain, parse, parse_many
from shared.core.inputs import InputRow
from shared.core.models import ScanRecord, ScanStatus
from shared.core.providers import classify
from shared.core.results import ScanResult
from shared.core.scoring import score_record
from shared.dns.client import DnsClient
from shared.integrations.tenant_recon import TenantReconClient, m365_possible
from shared.redis.cache import RedisCache, cache_for
from shared.redis.connection import connection_for
from shared.redis.limits import AsyncLimiter, buckets_for
from shared.scan.collector import Collector
from shared.scan.hosting import enricher_for
from shared.scan.sharding import shard_of
from shared.scan.whois import WhoisClient

_DONE = object()


class ResultSink(Protocol):
    """Where a pipeline writes its batches: the after-scan step (:class:`shared.services.after_scan.AfterScan`)
    in every product path; a bare :class:`~shared.store.leads.LeadStore` in tests and benches."""

    def save(self, results: Sequence[ScanResult]) -> object: ...


@dataclass
class RunSummary:
    total: int = 0  # input rows
    scanned: int = 0
    invalid: int = 0
    duplicates: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    dns_queries: int = 0
    dns_cache_hits: int = 0

    @property
    def rate(self) -> float:
        return self.scanned / self.elapsed if self.elapsed else 0.0


class Scanner:
    """Scans domains with one DNS client; usable for one domain or a whole stream.

    Create inside the event loop that will use it. With ``redis_url`` set, DNS answers and WHOIS
    answers are shared through Redis and the DNS and WHOIS rates are limits for all workers
    together (:mod:`shared.redis.cache`, :mod:`shared.redis.limits`); without it, in process.
    """

    def __init__(self, settings: Settings, client: DnsClient | None = None) -> None:
        self.settings = settings
        self.client = client or _dns_client(settings)
        self.collector = Collector(
            self.client,
            dkim_selectors=settings.dkim_selectors,
            domain_budget=settings.dns_domain_budget,
            whois_enabled=False,  # asked here, beside the collection, through the shared cache and limit
            hosting=enricher_for(settings.hosting_addresses, settings.ip_db_path),
        )
        self.whois = _whois_client(settings) if settings.whois_enabled else None
        self.recon = _recon_client(settings) if settings.tenant_recon_enabled else None

    async def close(self) -> None:
        await self.client.close()
        if self.whois is not None:
            await self.whois.close()
        if self.recon is not None:
            await self.recon.close()

    async def scan_row_text(self, text: str, company: str | None = None) -> ScanResult:
        """Normalise and scan one input (a domain, URL or e-mail address)."""
        parsed = parse(text)
        return await self.scan_row(InputRow(text, company), parsed.domain, parsed.error)

    async def scan_row(self, row: InputRow, parsed_domain: Domain | None, error: str | None) -> ScanResult:
        if parsed_domain is None:
            record = ScanRecord(input=row.value, domain=None, status=ScanStatus.INVALID, error=error)
            return ScanResult(record, None, row.company)
        if self.whois is None:
            record = await self.collector.collect(parsed_domain, row.value)
        else:
            started = time.monotonic()
            record, whois = await asyncio.gather(
                self.collector.collect(parsed_domain, row.value), self.whois.lookup(parsed_domain.name)
            )
            record.whois = whois
            record.duration_ms = round((time.monotonic() - started) * 1000, 1)
        record = classify(record)
        if self.recon is not None and m365_possible(record.provider, record.m365.evidence, record.m365.tenant_domain):
            record.tenant_recon = await self.recon.recon(parsed_domain.name)  # never raises: errors are codes
        return ScanResult(record, score_record(record), row.company)


def _dns_client(settings: Settings) -> DnsClient:
    """The DNS client the settings describe; with Redis, its rate and (behind its own) its cache are shared."""
    limiter = shared_cache = None
    if settings.redis_url:
        if settings.dns_qps > 0:
            limiter = AsyncLimiter(buckets_for(settings), "dns", settings.dns_qps)
        if settings.cache_dns_ttl > 0:
            shared_cache = RedisCache(connection_for(settings), "dns")  # no memory fallback: the client has one
    return DnsClient(
        settings.dns_nameservers,
        timeout=settings.dns_timeout,
        attempts=settings.dns_attempts,
        concurrency=settings.dns_concurrency,
        qps=settings.dns_qps,
        cache_size=settings.dns_cache_size,
        max_ttl=settings.cache_dns_ttl,
        limiter=limiter,
        shared_cache=shared_cache,
    )


def dns_client_for(settings: Settings) -> DnsClient:
    """The scanner's DNS client for other askers (the e-mail tools): same servers, limits and shared cache."""
    return _dns_client(settings)


def _recon_client(settings: Settings) -> TenantReconClient:
    limiter = None
    if settings.tenant_recon_qps > 0:
        limiter = AsyncLimiter(buckets_for(settings), "tenant-recon", settings.tenant_recon_qps, max_batch=1)
    return TenantReconClient(
        base_url=settings.tenant_recon_url,
        timeout=settings.tenant_recon_timeout,
        cache=cache_for(settings, "tenant-recon"),
        cache_ttl=settings.tenant_recon_cache_ttl,
        limiter=limiter,
    )


def _whois_client(settings: Settings) -> WhoisClient:
    limiter = None
    if settings.whois_qps > 0:  # one turn at a time: a batch would be refused as a whole
        limiter = AsyncLimiter(buckets_for(settings), "whois", settings.whois_qps, max_batch=1)
    return WhoisClient(
        server=settings.whois_server,
        timeout=settings.whois_timeout,
        cache=cache_for(settings, "whois"),
        cache_ttl=settings.cache_whois_ttl,
        limiter=limiter,
    )


async def run_pipeline(
    rows: Iterable[InputRow],
    settings: Settings,
    store: ResultSink | None,
    on_result: Callable[[ScanResult], None] | None = None,
    *,
    scanner: Scanner | None = None,
    shard: tuple[int, int] | None = None,
) -> RunSummary:
    """Scan every row; call ``on_result`` for each (after it is saved) in completion order.

    With ``shard=(k, n)`` only the rows whose domain (or, for invalid rows, text) hashes to
    ``k`` of ``n`` are taken: n processes given the same input split it exactly.
    """
    summary = RunSummary()
    own_scanner = scanner is None
    scanner = scanner or Scanner(settings)
    work: asyncio.Queue = asyncio.Queue(maxsize=settings.scan_concurrency * 2)
    done: asyncio.Queue = asyncio.Queue(maxsize=settings.write_batch_size * 4)
    started = time.monotonic()

    async def produce() -> None:
        for row, parsed in parse_many(rows, lambda r: r.value):
            if shard is not None and shard_of(parsed.domain.name if parsed.domain else row.value, shard[1]) != shard[0]:
                continue
            summary.total += 1
            if parsed.duplicate_of is not None:
                summary.duplicates += 1
                continue
            await work.put((row, parsed))
        for _ in range(workers_count):
            await work.put(_DONE)

    async def work_loop() -> None:
        while (item := await work.get()) is not _DONE:
            row, parsed = item
            await done.put(await scanner.scan_row(row, parsed.domain, parsed.error))
        await done.put(_DONE)

    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hunter-writer")
    loop = asyncio.get_running_loop()

    async def write_loop() -> None:
        finished = 0
        batch: list[ScanResult] = []
        while finished < workers_count:
            try:
                item = await asyncio.wait_for(done.get(), timeout=0.25) if batch else await done.get()
            except TimeoutError:
                item = None
            if item is _DONE:
                finished += 1
            elif item is not None:
                batch.append(item)
            if batch and (item is None or len(batch) >= settings.write_batch_size or finished == workers_count):
                await flush(batch)
                batch = []
        if batch:
            await flush(batch)

    async def flush(batch: list[ScanResult]) -> None:
        if store is not None:
            await loop.run_in_executor(executor, store.save, batch)
        for result in batch:
            record = result.record
            if record.status is ScanStatus.INVALID:
                summary.invalid += 1
            else:
                summary.scanned += 1
                if record.duration_ms is not None:
                    summary.latencies_ms.append(record.duration_ms)
            summary.by_status[record.status.value] = summary.by_status.get(record.status.value, 0) + 1
            if on_result is not None:
                on_result(result)

    workers_count = settings.scan_concurrency
    try:
        await asyncio.gather(produce(), write_loop(), *(work_loop() for _ in range(workers_count)))
    finally:
        executor.shutdown(wait=True)
        summary.dns_queries = scanner.client.stats["queries"]
        summary.dns_cache_hits = scanner.client.stats["cache_hits"]
        if own_scanner:
            await scanner.close()
    summary.elapsed = time.monotonic() - started
    return summary
