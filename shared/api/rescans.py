"""POST /v1/rescans: scan known leads again — named ones, the ones a lead-list filter matches (an
empty filter: every lead), or the ones the rescan policy says are due — as one bulk job."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.api.job_models import JobOut
from shared.core.domains import parse
from shared.http.types import HttpRequest, HttpResponse, ProblemError
from shared.runtime import Runtime
from shared.store.queries import LeadFilter

MAX_DOMAINS = 100_000


class RescanFilter(LeadFilter):
    """The lead-list filters (``GET /v1/leads``); sorting and paging are ignored."""

    model_config = ConfigDict(extra="forbid")


class RescanRequest(BaseModel):
    """Exactly one of ``domains``, ``filter`` or ``due``."""

    model_config = ConfigDict(extra="forbid")

    domains: list[str] | None = Field(None, min_length=1, max_length=MAX_DOMAINS, description="leads to rescan")
    filter: RescanFilter | None = Field(None, description="rescan every lead these filters match ({} = every lead)")
    due: bool | None = Field(None, description="rescan the leads the rescan policy says are due")

    @model_validator(mode="after")
    def _exactly_one(self) -> RescanRequest:
        given = [name for name in ("domains", "filter", "due") if getattr(self, name) not in (None, False)]
        if len(given) != 1:
            raise ValueError("send exactly one of domains, filter or due (true)")
        return self


class RescanJobOut(JobOut):
    not_leads: list[str] = Field(default_factory=list, description="named domains that are not leads (not rescanned)")


def submit_rescan(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    from shared.api.jobs import job_out
    from shared.queues import QueueError
    from shared.services import rescans
    from shared.store.jobs import JobStore

    body = RescanRequest.model_validate(request.json())
    not_leads: list[str] = []
    if body.domains is not None:
        names, invalid = [], []
        for raw in body.domains:
            parsed = parse(raw)
            (names.append(parsed.domain.name) if parsed.domain else invalid.append(parsed.problem_item("domains")))
        if invalid:
            raise ProblemError(
                422, "Invalid domain", f"{len(invalid)} of the domains are not domains", errors=invalid[:50]
            )
        leads, not_leads = rescans.known_leads(runtime, names)
    elif body.filter is not None:
        leads = rescans.filtered_leads(runtime, body.filter)
    else:
        leads = rescans.due_leads(runtime, limit=runtime.settings.rescan_budget)
    if not leads:
        raise ProblemError(404, "No lead to rescan", "none of these leads has been scanned, or nothing is due")
    try:
        job = rescans.rescan(runtime, leads, submitted_by=request.key_name)
    except QueueError as exc:
        raise ProblemError(
            503,
            "Queue unavailable",
            "the job was stored but could not be queued; retry later",
            headers={"Retry-After": "30"},
        ) from exc
    out: dict[str, Any] = job_out(JobStore(runtime.engine).progress(job.id)).model_dump(mode="json")
    out["not_leads"] = not_leads
    return HttpResponse.json(
        RescanJobOut.model_validate(out).model_dump(mode="json"), status=202, headers={"Location": out["status_url"]}
    )
