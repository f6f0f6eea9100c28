"""The one routing table. Light on purpose: importing it loads no handler, model or database
code, because Azure indexes it at cold start (handlers are resolved on first call)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any


@dataclass(frozen=True)
class Route:
    name: str  # function name on Azure and operationId in OpenAPI
    method: str
    path: str  # "/v1/leads/{domain}" (below the /api prefix)
    handler: str  # "module:function", imported on first use
    scope: str | None  # required API key scope; None = public (health)
    summary: str
    tag: str
    query_model: str | None = None  # "module:Model" of the query string
    body_model: str | None = None
    response_model: str | None = None
    response_type: str = "application/json"
    status: int = 200  # the success status (202 for accepted jobs)
    uploads: bool = False  # the body may also be a CSV/TXT/XLSX file or multipart/form-data
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def azure_route(self) -> str:
        return self.path.lstrip("/")

    def resolve(self, ref: str | None = None) -> Any:
        module, _, attr = (ref or self.handler).partition(":")
        return getattr(import_module(module), attr)


_A = "shared.api"
WEB_APP_TAG = "Web app"  # static files: served on both hosts, left out of the OpenAPI documents
ROUTES: tuple[Route, ...] = (
    Route(
        "scan_domain",
        "POST",
        "/v1/scan",
        f"{_A}.scan:scan_domain",
        "scan",
        "Scan one domain now and return the scored lead",
        "Scan",
        body_model=f"{_A}.models:ScanRequest",
        response_model=f"{_A}.models:ScanResponse",
    ),
    Route(
        "list_leads",
        "GET",
        "/v1/leads",
        f"{_A}.leads:list_leads",
        "read",
        "List leads with filters, sorting and pagination",
        "Leads",
        query_model=f"{_A}.models:LeadQuery",
        response_model=f"{_A}.models:LeadPage",
    ),
    Route(
        "export_leads",
        "GET",
        "/v1/leads/export",
        f"{_A}.exports:export_leads",
        "read",
        "Export the filtered leads as CSV or XLSX",
        "Leads",
        query_model=f"{_A}.models:ExportQuery",
        response_type="text/csv",
    ),
    Route(
        "get_lead",
        "GET",
        "/v1/leads/{domain}",
        f"{_A}.leads:get_lead",
        "read",
        "A lead with its score breakdown, evidence, latest snapshot and changes",
        "Leads",
        response_model=f"{_A}.models:LeadDetailOut",
    ),
    Route(
        "get_sales_summary",
        "GET",
        "/v1/leads/{domain}/sales-summary",
        f"{_A}.leads:get_sales_summary",
        "read",
        "Call-prep sales summary in Turkish or English",
        "Leads",
        query_model=f"{_A}.models:LangQuery",
        response_model="shared.core.sales:SalesSummary",
    ),
    Route(
        "rescan_lead",
        "POST",
        "/v1/leads/{domain}/rescan",
        f"{_A}.scan:rescan_lead",
        "scan",
        "Scan a known lead again and return it with what changed",
        "Scan",
        query_model=f"{_A}.models:LangQuery",
        response_model=f"{_A}.models:ScanResponse",
    ),
    Route(
        "get_dashboard",
        "GET",
        "/v1/dashboard",
        f"{_A}.leads:dashboard",
        "read",
        "Counts by segment, provider, priority and commercial segment; recent changes",
        "Leads",
        query_model=f"{_A}.models:NoQuery",
        response_model=f"{_A}.models:Dashboard",
    ),
    Route(
        "submit_scan_job",
        "POST",
        "/v1/scans",
        "shared.api.jobs:submit_scan_job",
        "scan",
        "Start a bulk scan of a list of domains (JSON, CSV, TXT or XLSX)",
        "Bulk scans",
        query_model="shared.api.job_models:BulkScanQuery",
        body_model="shared.api.job_models:BulkScanRequest",
        response_model="shared.api.job_models:JobOut",
        status=202,
        uploads=True,
    ),
    Route(
        "list_scan_jobs",
        "GET",
        "/v1/scans",
        "shared.api.jobs:list_scan_jobs",
        "read",
        "The most recent bulk scans with their status and progress, newest first",
        "Bulk scans",
        query_model="shared.api.job_models:JobListQuery",
        response_model="shared.api.job_models:JobList",
    ),
    Route(
        "preview_scan_job",
        "POST",
        "/v1/scans/preview",
        "shared.api.jobs:preview_scan_job",
        "scan",
        "Check a list before submitting it: the column read, valid, duplicate and invalid rows (no job is made)",
        "Bulk scans",
        query_model="shared.api.job_models:BulkScanQuery",
        body_model="shared.api.job_models:BulkScanRequest",
        response_model="shared.api.job_models:ScanPreviewOut",
        uploads=True,
    ),
    Route(
        "get_scan_job",
        "GET",
        "/v1/scans/{job_id}",
        "shared.api.jobs:get_scan_job",
        "read",
        "A bulk scan's status, totals, rate and ETA",
        "Bulk scans",
        query_model=f"{_A}.models:NoQuery",
        response_model="shared.api.job_models:JobOut",
    ),
    Route(
        "get_scan_job_results",
        "GET",
        "/v1/scans/{job_id}/results",
        "shared.api.jobs:get_scan_job_results",
        "read",
        "A bulk scan's rows with each domain's status or error, in input order",
        "Bulk scans",
        query_model="shared.api.job_models:JobResultsQuery",
        response_model="shared.api.job_models:JobResultsPage",
    ),
    Route(
        "list_queues",
        "GET",
        "/v1/admin/queues",
        "shared.api.admin:list_queues",
        "admin",
        "Queue lengths, poison queue lengths and oldest message ages",
        "Admin",
        query_model=f"{_A}.models:NoQuery",
        response_model="shared.api.job_models:QueueList",
    ),
    Route(
        "list_poison_messages",
        "GET",
        "/v1/admin/queues/{name}/poison",
        "shared.api.admin:list_poison",
        "admin",
        "Poison messages of a queue with their last error",
        "Admin",
        query_model="shared.api.job_models:PoisonQuery",
        response_model="shared.api.job_models:PoisonList",
    ),
    Route(
        "redrive_queue",
        "POST",
        "/v1/admin/queues/{name}/redrive",
        "shared.api.admin:redrive",
        "admin",
        "Move poison messages back to their queue (by id, or all)",
        "Admin",
        body_model="shared.api.job_models:RedriveRequest",
        response_model="shared.api.job_models:RedriveResult",
    ),
    Route(
        "list_api_keys",
        "GET",
        "/v1/admin/keys",
        "shared.api.keys:list_keys",
        "admin",
        "API keys with their scopes and limits (never the keys themselves)",
        "Admin",
        query_model=f"{_A}.models:NoQuery",
        response_model="shared.api.keys:ApiKeyList",
    ),
    Route(
        "create_api_key",
        "POST",
        "/v1/admin/keys",
        "shared.api.keys:create_key",
        "admin",
        "Create an API key; the key is in this response only (its hash is stored)",
        "Admin",
        query_model=f"{_A}.models:NoQuery",
        body_model="shared.api.keys:ApiKeyCreate",
        response_model="shared.api.keys:ApiKeyCreated",
        status=201,
    ),
    Route(
        "revoke_api_key",
        "POST",
        "/v1/admin/keys/{key_id}/revoke",
        "shared.api.keys:revoke_key",
        "admin",
        "Revoke an API key by its id (not the key in use)",
        "Admin",
        query_model=f"{_A}.models:NoQuery",
        response_model="shared.api.keys:ApiKeyOut",
    ),
    Route(
        "push_lead_to_d365",
        "POST",
        "/v1/leads/{domain}/d365-push",
        "shared.api.d365:push_lead",
        "scan",
        "Send one lead to Dynamics 365 (queued; upsert by domain)",
        "Dynamics 365",
        query_model=f"{_A}.models:NoQuery",
        response_model="shared.api.integration_models:D365PushResult",
        status=202,
    ),
    Route(
        "push_leads_to_d365",
        "POST",
        "/v1/d365/push",
        "shared.api.d365:push_leads",
        "scan",
        "Send leads to Dynamics 365: a list of domains or every lead a filter matches",
        "Dynamics 365",
        body_model="shared.api.integration_models:D365PushRequest",
        response_model="shared.api.integration_models:D365PushResult",
        status=202,
    ),
    Route(
        "retry_d365_pushes",
        "POST",
        "/v1/d365/retry",
        "shared.api.d365:retry_failed",
        "scan",
        "Retry failed Dynamics 365 pushes (the given domains, or all failed)",
        "Dynamics 365",
        body_model="shared.api.integration_models:D365RetryRequest",
        response_model="shared.api.integration_models:D365RetryResult",
        status=202,
    ),
    Route(
        "sync_partner_center",
        "POST",
        "/v1/partner-center/sync",
        "shared.api.partner_center:sync_partner_center",
        "admin",
        "Run the Partner Center referral sync now and return its counts",
        "Partner Center",
        query_model=f"{_A}.models:NoQuery",
        response_model="shared.api.pc_models:SyncRunOut",
    ),
    Route(
        "list_referrals",
        "GET",
        "/v1/partner-center/referrals",
        "shared.api.partner_center:list_referrals",
        "read",
        "List synced Partner Center referrals with filters and paging",
        "Partner Center",
        query_model="shared.api.pc_models:ReferralQuery",
        response_model="shared.api.pc_models:ReferralPage",
    ),
    Route(
        "get_referral",
        "GET",
        "/v1/partner-center/referrals/{referral_id}",
        "shared.api.partner_center:get_referral",
        "read",
        "One Partner Center referral with its lead and the data Partner Center sent",
        "Partner Center",
        query_model=f"{_A}.models:NoQuery",
        response_model="shared.api.pc_models:ReferralDetailOut",
    ),
    Route(
        "get_me",
        "GET",
        "/v1/me",
        f"{_A}.ui:me",
        "read",
        "The presented API key's name and scopes (what a client may show)",
        "Meta",
        query_model=f"{_A}.models:NoQuery",
        response_model=f"{_A}.ui:MeOut",
    ),
    Route(
        "web_app",
        "GET",
        "/ui/{*path}",
        f"{_A}.ui:serve",
        None,
        "The sales team's web app (static files; they hold no data, so no key)",
        WEB_APP_TAG,
        response_type="text/html",
    ),
    Route(
        "get_openapi", "GET", "/v1/openapi.json", f"{_A}.docs:openapi_json", "read", "This API as OpenAPI 3.1", "Meta"
    ),
    Route(
        "get_swagger",
        "GET",
        "/v1/swagger.json",
        f"{_A}.docs:swagger_json",
        "read",
        "This API as OpenAPI 2.0 (Swagger) for Power Automate custom connectors",
        "Meta",
    ),
    Route("health_live", "GET", "/healthz/live", f"{_A}.health:live", None, "The process is up", "Health"),
    Route(
        "health_ready",
        "GET",
        "/healthz/ready",
        f"{_A}.health:ready",
        None,
        "The database answers (Redis reported when configured)",
        "Health",
    ),
    Route(
        "health_startup",
        "GET",
        "/healthz/startup",
        f"{_A}.health:startup",
        None,
        "Start-up finished (schema migrated)",
        "Health",
    ),
    Route(
        "health_metrics",
        "GET",
        "/healthz/metrics",
        f"{_A}.health:metrics",
        "read",
        "Prometheus metrics",
        "Health",
        response_type="text/plain",
    ),
)

_PARAM = re.compile(r"\{(\w+)\}")
_CATCH_ALL = re.compile(r"/\{\*(\w+)\}$")  # Azure's "{*path}": the rest of the path, possibly empty


def _compile(path: str) -> re.Pattern[str]:
    pattern = re.escape(path).replace(r"\{", "{").replace(r"\}", "}").replace(r"\*", "*")
    pattern = _CATCH_ALL.sub(r"(?:/(?P<\1>.*))?", pattern)
    return re.compile("^" + _PARAM.sub(r"(?P<\1>[^/]+)", pattern) + "$")


_COMPILED = [(route, _compile(route.path)) for route in ROUTES]


def match(method: str, path: str) -> tuple[Route | None, dict[str, str], list[str]]:
    """(route, params, allowed methods). A literal segment beats a parameter, as on Azure."""
    allowed: list[str] = []
    candidates = []
    for route, pattern in _COMPILED:
        found = pattern.match(path)
        if found:
            allowed.append(route.method)
            if route.method == method.upper():
                candidates.append((route.path.count("{"), route, found.groupdict()))
    if not candidates:
        return None, {}, allowed
    _, route, params = min(candidates, key=lambda c: c[0])
    return route, params, allowed
