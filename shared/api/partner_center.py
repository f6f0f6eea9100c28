"""Partner Center over HTTP: run the referral sync now, list referrals, read one.

With ``HUNTER_PARTNER_CENTER_ENABLED`` off the reads answer 404 and the sync 409, each with a
problem body saying the integration is off; nothing else in Hunter changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.api.models import NoQuery
from shared.api.pc_models import ReferralDetailOut, ReferralOut, ReferralPage, ReferralQuery, SyncRunOut
from shared.core.referrals import redact_contacts
from shared.http.types import HttpRequest, HttpResponse, ProblemError
from shared.runtime import Runtime

OFF_DETAIL = "set HUNTER_PARTNER_CENTER_ENABLED=true (and HUNTER_PC_CLIENT_ID, then run `hunter pc login`)"


def _require_enabled(runtime: Runtime, status: int) -> None:
    if not runtime.settings.partner_center_enabled:
        raise ProblemError(status, "Partner Center integration is off", OFF_DETAIL)


def referral_item(row: Any) -> dict[str, Any]:
    """A ``referrals`` row as :class:`ReferralOut` fields."""
    fields = {name: getattr(row, name) for name in ReferralOut.model_fields if name != "website"}
    fields["website"] = f"https://{row.domain}" if row.domain else None
    return fields


def lead_referral_item(row: Mapping[str, Any]) -> dict[str, Any]:
    """A referral as the lead detail lists it (:class:`LeadReferralOut` fields), from a ``referrals`` row."""
    from shared.api.pc_models import LeadReferralOut

    return {name: row[name] for name in LeadReferralOut.model_fields}


def sync_partner_center(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    NoQuery.model_validate(request.query_params())
    _require_enabled(runtime, 409)
    from shared.services.pc_sync import sync_now

    outcome = sync_now(runtime.settings, runtime.engine, trigger="manual")
    detail = f"{outcome.error} (sync run {outcome.run_id})"
    if outcome.status == "skipped":
        raise ProblemError(409, "A Partner Center sync is already running", detail)
    if outcome.status == "needs_login":
        raise ProblemError(409, "Partner Center sign-in needed", detail)
    if outcome.status != "ok":
        raise ProblemError(502, "Partner Center sync failed", detail)
    data = outcome.as_dict()
    data["id"] = data.pop("run_id")
    body = SyncRunOut.model_validate(data)
    return HttpResponse.json(body.model_dump(mode="json"))


def list_referrals(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    _require_enabled(runtime, 404)
    query = ReferralQuery.model_validate(request.query_params())
    from shared.core.domains import parse
    from shared.store.referrals import ReferralFilter, list_referrals

    domain = None
    if query.domain is not None:
        parsed = parse(query.domain)
        if parsed.domain is None:
            raise ProblemError(422, "Invalid request", parsed.error, errors=[parsed.problem_item("domain")])
        domain = parsed.domain.name
    rows, total = list_referrals(runtime.engine, ReferralFilter(**query.model_dump(exclude={"domain"}), domain=domain))
    end = query.offset + len(rows)
    page = ReferralPage(
        items=[ReferralOut.model_validate(referral_item(row)) for row in rows],
        total=total,
        limit=query.limit,
        offset=query.offset,
        next_offset=end if end < total and rows else None,
    )
    return HttpResponse.json(page.model_dump(mode="json"))


def get_referral(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    _require_enabled(runtime, 404)
    NoQuery.model_validate(request.query_params())
    from shared.store.referrals import get_referral as load

    referral_id = request.route_params["referral_id"]
    row = load(runtime.engine, referral_id) if len(referral_id) <= 64 else None
    if row is None:
        raise ProblemError(404, "Referral not found", f"no referral {referral_id!r} has been synced")
    lead = runtime.leads.lead(row.domain) if row.domain else None
    admin = request.api_key is not None and request.api_key.allows("admin")
    body = ReferralDetailOut.model_validate(
        referral_item(row)
        | {
            "raw": row.raw if admin else redact_contacts(row.raw),  # contacts' personal data: admins only
            "lead": {
                "domain": lead.domain,
                "score": lead.score,
                "segment": lead.segment,
                "priority_category": lead.priority_category,
            }
            if lead
            else None,
        }
    )
    return HttpResponse.json(body.model_dump(mode="json"))
