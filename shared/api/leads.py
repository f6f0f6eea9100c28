"""Lead reads: list, detail, sales summary, dashboard."""

from __future__ import annotations

import base64
import json

from sqlalchemy import func, select

from shared.api.models import LangQuery, LeadQuery, NoQuery
from shared.domains import parse
from shared.http.app import AppContext
from shared.http.types import HttpRequest, HttpResponse, ProblemError
from shared.sales import build_sales_summary
from shared.scoring import score_record
from shared.store.models import ChangeEventRow, DomainRow, LeadRow
from shared.store.queries import LIST_FIELDS, MAX_OFFSET


def lead_item(row: LeadRow, domain: DomainRow | None = None) -> dict:
    item = {name: getattr(row, name) for name in LIST_FIELDS}
    item["domain_unicode"] = domain.unicode_name if domain else None
    item["company_name"] = domain.company_name if domain else None
    return item


def change_item(event: ChangeEventRow) -> dict:
    return {
        "kind": event.kind,
        "before": event.before,
        "after": event.after,
        "summary": event.summary,
        "meaning": event.meaning,
        "at": event.at,
    }


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        offset = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["o"]
        if not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
            raise ValueError
        return offset
    except Exception:
        raise ProblemError(
            422,
            "Invalid request",
            "cursor is not a value this API returned",
            errors=[{"field": "cursor", "message": "invalid cursor"}],
        ) from None


def list_leads(request: HttpRequest, context: AppContext) -> HttpResponse:
    query = LeadQuery.model_validate(request.query_params())
    if query.cursor is not None:
        query = query.model_copy(update={"offset": _decode_cursor(query.cursor)})
    rows, total = context.repository.leads(query)
    next_offset = query.offset + len(rows)
    return HttpResponse.json(
        {
            "items": rows,
            "total": total,
            "limit": query.limit,
            "next": _encode_cursor(next_offset) if next_offset < total and rows else None,
        }
    )


def _known_domain(request: HttpRequest, context: AppContext) -> str:
    parsed = parse(request.route_params["domain"])
    if parsed.domain is None:
        raise ProblemError(422, "Invalid domain", parsed.error, errors=[{"field": "domain", "message": parsed.error}])
    if context.repository.lead(parsed.domain.name) is None:
        raise ProblemError(404, "Lead not found", f"{parsed.domain.name} has not been scanned yet")
    return parsed.domain.name


def get_lead(request: HttpRequest, context: AppContext) -> HttpResponse:
    name = _known_domain(request, context)
    repo = context.repository
    row, domain = repo.lead_with_domain(name)
    record = repo.latest_record(name, usable=True) or repo.latest_record(name)
    return HttpResponse.json(
        {
            "lead": lead_item(row, domain),
            "breakdown": row.breakdown or [],
            "rules_version": row.rules_version,
            "evidence": record.provider_evidence,
            "snapshot": record.model_dump(mode="json"),
            "changes": [change_item(e) for e in repo.events(name, limit=50)],
        }
    )


def get_sales_summary(request: HttpRequest, context: AppContext) -> HttpResponse:
    name = _known_domain(request, context)
    lang = LangQuery.model_validate(request.query_params()).lang or context.settings.default_lang
    record = context.repository.latest_record(name, usable=True) or context.repository.latest_record(name)
    summary = build_sales_summary(record, score_record(record), lang=lang)
    return HttpResponse.json(summary.model_dump(mode="json"))


def dashboard(request: HttpRequest, context: AppContext) -> HttpResponse:
    NoQuery.model_validate(request.query_params())
    with context.repository.sessions() as session:

        def counts(column) -> list[dict]:
            rows = session.execute(select(column, func.count()).group_by(column).order_by(func.count().desc()))
            return [{"key": key, "count": count} for key, count in rows]

        total = session.scalar(select(func.count()).select_from(LeadRow)) or 0
        average = session.scalar(select(func.avg(LeadRow.score)))
        body = {
            "total": total,
            "average_score": round(float(average), 1) if average is not None else None,
            "by_segment": counts(LeadRow.segment),
            "by_provider": counts(LeadRow.provider),
            "by_priority": counts(LeadRow.priority_category),
            "by_commercial_segment": counts(LeadRow.commercial_segment),
        }
    body["recent_changes"] = [change_item(e) for e in context.repository.events(limit=20)]
    return HttpResponse.json(body)
