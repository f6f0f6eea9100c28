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
from shared.core.results import result_json
from shared.core.sales import build_sales_summary
from shared.core.scoring import ChangeEvent, ScoreResult
from shared.http.dispatch import AppContext
from shared.http.types import HttpRequest, HttpResponse, ProblemError
from shared.scan.pipeline import Scanner
from shared.store.leads import TRANSIENT, ScanResult


def _scan(context: AppContext, domain: Domain, raw: str) -> ScanResult:
    async def run() -> ScanResult:
        scanner = Scanner(context.settings)
        try:
            return await scanner.scan_row(InputRow(raw), domain, None)
        finally:
            await scanner.close()
            context.metrics.dns_queries.inc(scanner.client.stats["queries"])
            context.metrics.dns_cache_hits.inc(scanner.client.stats["cache_hits"])

    result = aio.run(run())
    context.repository.save([result])
    from shared.services.d365_push import repush_changed

    repush_changed(context.settings, context.engine, [result])
    context.metrics.scans.labels(result.record.status.value).inc()
    _remember(context, domain, result)
    return result


def _remember(context: AppContext, domain: Domain, result: ScanResult) -> None:
    """Cache a fresh result for later /scan calls, or drop the cached one when this result is transient."""
    ttl = context.settings.cache_scan_ttl
    if ttl <= 0 or result.record.status in TRANSIENT:
        context.scan_cache.delete(domain.name)
        return
    value = {
        "record": result.record.model_dump(mode="json"),
        "score": result.score.model_dump(mode="json") if result.score else None,
        "company_name": result.company_name,
        "events": [event.model_dump(mode="json") for event in result.events],
    }
    context.scan_cache.set(domain.name, value, ttl)


def _cached(context: AppContext, domain: Domain, raw: str) -> ScanResult | None:
    """The cached result of ``domain``, if there is one and no newer scan reached the database since."""
    if context.settings.cache_scan_ttl <= 0:
        return None
    value: Any = context.scan_cache.get(domain.name)
    if value is None:
        return None
    try:
        record = ScanRecord.model_validate(value["record"])
        score = ScoreResult.model_validate(value["score"]) if value["score"] else None
        events = [ChangeEvent.model_validate(e) for e in value["events"]]
    except (ValidationError, KeyError, TypeError):  # written by another version: a miss
        return None
    # A file scan or another process without Redis may have scanned it since: the database decides.
    lead = context.repository.lead(domain.name)
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
        raise ProblemError(
            422, "Invalid domain", f"{raw!r}: {parsed.error}", errors=[{"field": field, "message": parsed.error}]
        )
    return parsed.domain


def scan_domain(request: HttpRequest, context: AppContext) -> HttpResponse:
    body = ScanRequest.model_validate(request.json())
    domain = _domain(body.domain, "domain")
    result = _cached(context, domain, body.domain)
    hit = result is not None
    if result is None:
        result = _scan(context, domain, body.domain)
    response = _answer(result, body.lang or context.settings.default_lang)
    response.headers["X-Hunter-Cache"] = "hit" if hit else "miss"
    return response


def rescan_lead(request: HttpRequest, context: AppContext) -> HttpResponse:
    domain = _domain(request.route_params["domain"], "domain")
    if context.repository.lead(domain.name) is None:
        raise ProblemError(404, "Lead not found", f"{domain.name} has not been scanned yet; POST /api/v1/scan first")
    lang = LangQuery.model_validate(request.query_params()).lang or context.settings.default_lang
    return _answer(_scan(context, domain, domain.name), lang)
