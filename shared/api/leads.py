"""Lead reads: list, detail, sales summary, dashboard."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from shared.api.health import integrations
from shared.api.models import LangQuery, LeadQuery, NoQuery
from shared.api.partner_center import lead_referral_item
from shared.core.domains import parse
from shared.http.types import HttpRequest, HttpResponse, ProblemError
from shared.runtime import Runtime
from shared.services import rescans
from shared.services.explain import LeadExplanation, explain_lead
from shared.store.models import ChangeEventRow
from shared.store.queries import MAX_OFFSET, After, LeadFilter, sort_of


def change_item(event: ChangeEventRow) -> dict:
    return {
        "kind": event.kind,
        "before": event.before,
        "after": event.after,
        "summary": event.summary,
        "meaning": event.meaning,
        "at": event.at,
    }


def _encode_cursor(query: LeadFilter, row: dict[str, Any]) -> str:
    """A keyset cursor: the sort, and the sort value and domain of the page's last row."""
    _, column, _ = sort_of(query)
    value = row[column.key]
    payload = {"s": query.sort, "d": row["domain"]}
    if column.key != "domain":  # sorted by domain, the value is the domain: a 253-character one fits once
        payload["v"] = value.isoformat() if isinstance(value, datetime) else value
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _invalid_cursor(detail: str = "cursor is not a value this API returned") -> ProblemError:
    return ProblemError(422, "Invalid request", detail, errors=[{"field": "cursor", "message": "invalid cursor"}])


def _decode_cursor(cursor: str, query: LeadFilter) -> After | int:
    """The keyset position of a cursor; a bare offset for the offset cursors of earlier versions."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if set(data) == {"o"}:
            offset = data["o"]
            if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= MAX_OFFSET:
                raise ValueError
            return offset
        sort, domain = data["s"], data["d"]
        if not isinstance(domain, str) or not isinstance(sort, str):
            raise ValueError
    except Exception:
        raise _invalid_cursor() from None
    if sort != query.sort:
        raise _invalid_cursor(f"this cursor continues sort={sort}, not sort={query.sort}")
    _, column, _ = sort_of(query)
    value = domain if column.key == "domain" else data.get("v", ValueError)
    python_type = getattr(column.type, "impl", column.type).python_type  # UtcDateTime: its DateTime
    try:
        if value is ValueError or (value is None and not column.nullable):
            raise ValueError
        if value is not None and python_type is datetime:
            value = datetime.fromisoformat(value)
            if value.tzinfo is None:
                raise ValueError
        elif value is not None and (type(value) is not python_type):  # no bool for an int, no int for a str
            raise ValueError
    except (TypeError, ValueError):
        raise _invalid_cursor() from None
    return After(value, domain)


def list_leads(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    query = LeadQuery.model_validate(request.query_params())
    after = None
    if query.cursor is not None:
        position = _decode_cursor(query.cursor, query)
        if isinstance(position, int):
            query = query.model_copy(update={"offset": position})
        else:
            after = position
    page = runtime.leads.lead_page(query, after=after)
    return HttpResponse.json(
        {
            "items": page.rows,
            "total": page.total,
            "limit": query.limit,
            "next": _encode_cursor(query, page.rows[-1]) if page.more and page.rows else None,
        }
    )


def _parsed_domain(request: HttpRequest) -> str:
    parsed = parse(request.route_params["domain"])
    if parsed.domain is None:
        raise ProblemError(422, "Invalid domain", parsed.error, errors=[parsed.problem_item("domain")])
    return parsed.domain.name


def _not_found(name: str) -> ProblemError:
    return ProblemError(404, "Lead not found", f"{name} has not been scanned yet")


def _known_domain(request: HttpRequest, runtime: Runtime) -> str:
    name = _parsed_domain(request)
    if runtime.leads.lead(name) is None:
        raise _not_found(name)
    return name


def _explained(request: HttpRequest, runtime: Runtime) -> LeadExplanation:
    name = _parsed_domain(request)
    explanation = explain_lead(runtime.leads, name)
    if explanation is None:
        raise _not_found(name)
    return explanation


def get_lead(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    explanation = _explained(request, runtime)
    return HttpResponse.json(
        {
            "lead": explanation.lead,
            "priority": explanation.priority(),
            "breakdown": explanation.breakdown(),
            "rules_version": explanation.score.rules_version,
            "stored_rules_version": explanation.stored_rules_version,
            "evidence": explanation.record.provider_evidence,
            "snapshot": explanation.record.model_dump(mode="json"),
            "changes": explanation.changes,
            "referrals": [lead_referral_item(row) for row in explanation.referrals],
        }
    )


def get_sales_summary(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    lang = LangQuery.model_validate(request.query_params()).lang or runtime.settings.default_lang
    explanation = _explained(request, runtime)
    return HttpResponse.json(explanation.summary(lang).model_dump(mode="json"))


def dashboard(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    NoQuery.model_validate(request.query_params())
    body: dict[str, Any] = runtime.leads.pipeline_counts()
    body["recent_changes"] = [change_item(e) for e in runtime.leads.events(limit=20)]
    body["integrations"] = integrations(runtime)
    body["rescans"] = rescans.status(runtime)  # the last rescan run and the next one
    return HttpResponse.json(body)
