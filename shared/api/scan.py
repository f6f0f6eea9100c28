"""POST /v1/scan and POST /v1/leads/{domain}/rescan: scan now, store, answer with the lead.

``/v1/scan`` of a domain scanned within ``cache_scan_ttl`` answers from the scan cache (Redis
when configured, shared by every instance; ``X-Hunter-Cache: hit``), unless the database holds
a newer scan of it. ``/rescan`` always scans and replaces the cached result. Transient failures
(timeouts, SERVFAIL) are never cached: asking again is the cure for them.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from shared import aio
from shared.api.models import LangQuery, ScanRequest
from shared.core.domains import Domain, parse
from shared.core.inputs import InputRow
from shared.core.models import ScanRecord
from shared.core.results import TRANSIENT, ScanResult, result_json
from shared.core.sales import build_sales_summary
from shared.core.scoring import ChangeEvent, ScoreResult
from shared.http.types import HttpRequest, HttpResponse, ProblemError
from shared.runtime import Runtime
from shared.scan.pipeline import Scanner
from shared.services.after_scan import AfterScan


def _scan(runtime: Runtime, domain: Domain, raw: str) -> ScanResult:
    async def run() -> ScanResult:
        scanner = Scanner(runtime.settings)
        try:
            return await scanner.scan_row(InputRow(raw), domain, None)
        finally:
            await scanner.close()
            runtime.metrics.dns_queries.inc(scanner.client.stats["queries"])
            runtime.metrics.dns_cache_hits.inc(scanner.client.stats["cache_hits"])

    result = aio.run(run())
    AfterScan(runtime).save([result])
    _remember(runtime, domain, result)
    return result


def _remember(runtime: Runtime, domain: Domain, result: ScanResult) -> None:
    """Cache a fresh result for later /scan calls, or drop the cached one when this result is transient."""
    ttl = runtime.settings.cache_scan_ttl
    if ttl <= 0 or result.record.status in TRANSIENT:
        runtime.scan_cache.delete(domain.name)
        return
    value = {
        "record": result.record.model_dump(mode="json"),
        "score": result.score.model_dump(mode="json") if result.score else None,
        "company_name": result.company_name,
        "events": [event.model_dump(mode="json") for event in result.events],
    }
    runtime.scan_cache.set(domain.name, value, ttl)


def _cached(runtime: Runtime, domain: Domain, raw: str) -> ScanResult | None:
    """The cached result of ``domain``, if there is one and no newer scan reached the database since."""
    if runtime.settings.cache_scan_ttl <= 0:
        return None
    value: Any = runtime.scan_cache.get(domain.name)
    if value is None:
        return None
    try:
        record = ScanRecord.model_validate(value["record"])
        score = ScoreResult.model_validate(value["score"]) if value["score"] else None
        events = [ChangeEvent.model_validate(e) for e in value["events"]]
    except (ValidationError, KeyError, TypeError):  # written by another version: a miss
        return None
    # A file scan or another process without Redis may have scanned it since: the database decides.
    lead = runtime.leads.lead(domain.name)
    if lead is None or record.scanned_at is None or lead.scanned_at > record.scanned_at:
        return None
    record.input = raw
    return ScanResult(record, score, value.get("company_name"), events)


def _answer(result: ScanResult, lang: str) -> HttpResponse:
    body = result_json(result)
    body["sales_summary"] = (
        build_sales_summary(result.record, result.score, lang=lang).model_dump(mode="json") if result.score else None
    )
    return HttpResponse.json(body)


def _domain(raw: str, field: str) -> Domain:
    parsed = parse(raw)
    if parsed.domain is None:
        raise ProblemError(422, "Invalid domain", f"{raw!r}: {parsed.error}", errors=[parsed.problem_item(field)])
    return parsed.domain


def scan_domain(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    body = ScanRequest.model_validate(request.json())
    domain = _domain(body.domain, "domain")
    result = _cached(runtime, domain, body.domain)
    hit = result is not None
    if result is None:
        result = _scan(runtime, domain, body.domain)
    response = _answer(result, body.lang or runtime.settings.default_lang)
    response.headers["X-Hunter-Cache"] = "hit" if hit else "miss"
    return response


def rescan_lead(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    domain = _domain(request.route_params["domain"], "domain")
    if runtime.leads.lead(domain.name) is None:
        raise ProblemError(404, "Lead not found", f"{domain.name} has not been scanned yet; POST /api/v1/scan first")
    lang = LangQuery.model_validate(request.query_params()).lang or runtime.settings.default_lang
    return _answer(_scan(runtime, domain, domain.name), lang)
