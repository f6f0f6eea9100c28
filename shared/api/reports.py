"""The PDF lead report: ``GET /v1/leads/{domain}/report.pdf`` (one lead) and ``POST /v1/leads/report.pdf``
(a call list: the leads a lead-list filter matches, one section each, at most 50)."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from shared.api.leads import _not_found, _parsed_domain
from shared.api.models import Lang, LangQuery
from shared.http.types import HttpRequest, HttpResponse
from shared.runtime import Runtime
from shared.services.reports import MAX_BATCH, filtered_explanations, lead_pdf, render_reports
from shared.store.queries import LeadFilter

PDF = "application/pdf"


class ReportBatchRequest(LeadFilter):
    """The lead-list filters (``GET /v1/leads``), its sort (default ``-priority``: the call order) and
    ``offset``; the first ``limit`` matching leads get a section each. More than 50 matching leads
    are cut to the first 50 in that order; asking for ``limit`` above 50 is a 422."""

    model_config = ConfigDict(extra="forbid")

    lang: Lang | None = Field(None, description="language of the report (default HUNTER_DEFAULT_LANG)")
    limit: int = Field(MAX_BATCH, ge=1, le=MAX_BATCH, description=f"leads in the report, at most {MAX_BATCH}")


def _pdf(body: bytes, filename: str, count: int) -> HttpResponse:
    return HttpResponse(
        200,
        body,
        {
            "Content-Type": PDF,
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Hunter-Leads": str(count),
        },
    )


def lead_report_pdf(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    lang = LangQuery.model_validate(request.query_params()).lang or runtime.settings.default_lang
    name = _parsed_domain(request)
    body = lead_pdf(runtime.leads, name, lang)
    if body is None:
        raise _not_found(name)
    return _pdf(body, f"hunter-{name}.pdf", 1)


def leads_report_pdf(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    body = ReportBatchRequest.model_validate(request.json())
    lang = body.lang or runtime.settings.default_lang
    explanations = filtered_explanations(runtime.leads, body)
    return _pdf(render_reports(explanations, lang), "hunter-leads.pdf", len(explanations))
