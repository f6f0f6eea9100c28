"""Dynamics 365 over HTTP: push leads (one, a list, or everything a filter matches), retry failures."""

from __future__ import annotations

from shared.api.integration_models import D365PushRequest, D365PushResult, D365RetryRequest, D365RetryResult
from shared.core.domains import parse
from shared.http.types import HttpRequest, HttpResponse, ProblemError
from shared.runtime import Runtime
from shared.store.queries import LeadFilter

PAGE = 500


def _require_enabled(runtime: Runtime) -> None:
    if not runtime.settings.d365_enabled:
        raise ProblemError(
            409,
            "Dynamics 365 integration is off",
            "set HUNTER_D365_ENABLED=true and the HUNTER_D365_* connection settings to push leads",
        )
    from shared.integrations.d365.mapping import MappingError, mapping_for

    try:
        mapping_for(runtime.settings.d365_mapping_file)
    except MappingError as exc:
        raise ProblemError(409, "Dynamics 365 mapping is invalid", str(exc)) from None


def _matching_domains(runtime: Runtime, lead_filter: LeadFilter, cap: int) -> list[str]:
    """Every lead the filter matches, walked page by page in the filter's order (bounded by ``cap``)."""
    from shared.store.queries import After, sort_of

    domains: list[str] = []
    after = None
    query = lead_filter.model_copy(update={"limit": PAGE, "offset": 0})
    key, column, _ = sort_of(query)
    while len(domains) < cap:
        page = runtime.leads.lead_page(query, after=after)
        domains.extend(row["domain"] for row in page.rows)
        if not page.more or not page.rows:
            break
        last = page.rows[-1]
        after = After(last[column.key], last["domain"])
    return domains[:cap]


def _queue(runtime: Runtime, domains: list[str], invalid: list[str]) -> HttpResponse:
    from shared.services.d365_push import enqueue_pushes

    queued, not_leads = enqueue_pushes(runtime.settings, runtime.engine, domains)
    known = len(set(domains)) - len(not_leads)
    result = D365PushResult(queued=queued, already_queued=known - queued, not_leads=not_leads, invalid=invalid)
    return HttpResponse.json(result.model_dump(mode="json"), status=202)


def push_lead(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    _require_enabled(runtime)
    parsed = parse(request.route_params["domain"])
    if parsed.domain is None or runtime.leads.lead(parsed.domain.name) is None:
        raise ProblemError(404, "Lead not found", f"{request.route_params['domain']} has not been scanned yet")
    return _queue(runtime, [parsed.domain.name], [])


def push_leads(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    _require_enabled(runtime)
    body = D365PushRequest.model_validate(request.json())
    if body.domains is not None:
        parsed = [(raw, parse(raw)) for raw in body.domains]
        domains = [p.domain.name for _, p in parsed if p.domain is not None]
        invalid = [raw for raw, p in parsed if p.domain is None]
        return _queue(runtime, domains, invalid)
    filters = body.model_dump(exclude={"domains"}, exclude_unset=True)
    if not {k for k in filters if k not in ("sort", "limit", "offset")}:
        raise ProblemError(
            422,
            "Say which leads",
            "give `domains` or at least one filter (e.g. priority); pushing every lead needs an explicit filter",
            errors=[{"field": "domains", "message": "domains or a filter is required"}],
        )
    from shared.api.integration_models import MAX_PUSH

    lead_filter = LeadFilter.model_validate(body.model_dump(exclude={"domains"}))
    return _queue(runtime, _matching_domains(runtime, lead_filter, MAX_PUSH), [])


def retry_failed(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    _require_enabled(runtime)
    body = D365RetryRequest.model_validate(request.json() if request.body else {})
    from shared.services.d365_retry import retry_failed_pushes

    domains = None
    if body.domains is not None:
        domains = [p.domain.name for p in map(parse, body.domains) if p.domain is not None]
    redriven, requeued = retry_failed_pushes(runtime.settings, runtime.engine, domains, actor=f"api:{request.key_name}")
    return HttpResponse.json(D365RetryResult(redriven=redriven, requeued=requeued).model_dump(mode="json"), status=202)
