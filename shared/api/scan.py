"""POST /v1/scan and POST /v1/leads/{domain}/rescan: scan now, store, answer with the lead."""

from __future__ import annotations

from shared import aio
from shared.api.models import LangQuery, ScanRequest
from shared.domains import Domain, parse
from shared.http.app import AppContext
from shared.http.types import HttpRequest, HttpResponse, ProblemError
from shared.inputs import InputRow
from shared.pipeline import Scanner
from shared.report import result_json
from shared.sales import build_sales_summary
from shared.store.repository import ScanResult


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
    context.metrics.scans.labels(result.record.status.value).inc()
    return result


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
    result = _scan(context, _domain(body.domain, "domain"), body.domain)
    return _answer(result, body.lang or context.settings.default_lang)


def rescan_lead(request: HttpRequest, context: AppContext) -> HttpResponse:
    domain = _domain(request.route_params["domain"], "domain")
    if context.repository.lead(domain.name) is None:
        raise ProblemError(404, "Lead not found", f"{domain.name} has not been scanned yet; POST /api/v1/scan first")
    lang = LangQuery.model_validate(request.query_params()).lang or context.settings.default_lang
    return _answer(_scan(context, domain, domain.name), lang)
