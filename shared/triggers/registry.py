"""The one registry of triggers: every HTTP route, queue function and timer function of Hunter,
and the function folder (``functions/<folder>``) that hosts it on Azure.

Azure's blueprints, the local runner, the local queue worker, the OpenAPI documents and the
tests all read these tables, so a route, a queue name or a schedule cannot differ between
hosts. Light on purpose: importing it loads no handler, model or database code, because Azure
indexes it at cold start; a trigger's handler is imported on its first call (:meth:`Trigger.resolve`).

Handler signatures, one per kind (the trigger passes the runtime it built):

* HTTP:  ``def handler(request: HttpRequest, runtime: Runtime) -> HttpResponse``
* queue: ``async def handler(body: str, delivery: Delivery, runtime: Runtime) -> None`` (raise to retry)
* timer: ``async def handler(runtime: Runtime) -> None``
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from typing import Any


def resolve_ref(ref: str) -> Any:
    """The object a ``"module:attribute"`` reference names, imported now."""
    module, _, attr = ref.partition(":")
    return getattr(import_module(module), attr)


@dataclass(frozen=True)
class Trigger:
    name: str  # the function name on Azure (unique across all triggers)
    handler: str  # "module:callable", imported on first use

    def resolve(self) -> Any:
        return resolve_ref(self.handler)


@dataclass(frozen=True)
class Route(Trigger):
    method: str = "GET"
    path: str = "/"  # "/v1/leads/{domain}" (below the /api prefix)
    scope: str | None = None  # required API key scope; None = public (health, the web app's files)
    summary: str = ""
    tag: str = ""
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


def _route(
    name: str, method: str, path: str, handler: str, scope: str | None, summary: str, tag: str, **options: Any
) -> Route:
    """A route in the positional order the table below is written in."""
    return Route(name, handler, method=method, path=path, scope=scope, summary=summary, tag=tag, **options)


@dataclass(frozen=True)
class QueueTrigger(Trigger):
    queue: str = ""
    summary: str = ""
    # Settings fields overriding the queue retry policy for this queue (None: HUNTER_QUEUE_RETRY_BASE
    # and host.json's maxDequeueCount).
    retry_base_setting: str | None = None
    max_attempts_setting: str | None = None


@dataclass(frozen=True)
class TimerTrigger(Trigger):
    schedule_setting: str = ""  # the Settings field holding the NCRONTAB expression
    summary: str = ""

    @property
    def app_setting(self) -> str:
        """The app setting the Azure binding reads (``%HUNTER_…%``), the same the local worker reads."""
        return "HUNTER_" + self.schedule_setting.upper()


API = "shared.api"
WEB_APP_TAG = "Web app"  # static files: served on both hosts, left out of the OpenAPI documents
ROUTES: tuple[Route, ...] = (
    _route(
        "scan_domain",
        "POST",
        "/v1/scan",
        f"{API}.scan:scan_domain",
        "scan",
        "Scan one domain now and return the scored lead",
        "Scan",
        body_model=f"{API}.models:ScanRequest",
        response_model=f"{API}.models:ScanResponse",
    ),
    _route(
        "list_leads",
        "GET",
        "/v1/leads",
        f"{API}.leads:list_leads",
        "read",
        "List leads with filters, sorting and pagination",
        "Leads",
        query_model=f"{API}.models:LeadQuery",
        response_model=f"{API}.models:LeadPage",
    ),
    _route(
        "export_leads",
        "GET",
        "/v1/leads/export",
        f"{API}.exports:export_leads",
        "read",
        "Export the filtered leads as CSV or XLSX",
        "Leads",
        query_model=f"{API}.models:ExportQuery",
        response_type="text/csv",
    ),
    _route(
        "get_lead",
        "GET",
        "/v1/leads/{domain}",
        f"{API}.leads:get_lead",
        "read",
        "A lead with its score breakdown, evidence, latest snapshot and changes",
        "Leads",
        response_model=f"{API}.models:LeadDetailOut",
    ),
    _route(
        "get_sales_summary",
        "GET",
        "/v1/leads/{domain}/sales-summary",
        f"{API}.leads:get_sales_summary",
        "read",
        "Call-prep sales summary in Turkish or English",
        "Leads",
        query_model=f"{API}.models:LangQuery",
        response_model="shared.core.sales:SalesSummary",
    ),
    _route(
        "get_lead_report",
        "GET",
        "/v1/leads/{domain}/report.pdf",
        f"{API}.reports:lead_report_pdf",
        "read",
        "The one-page PDF lead report (score, breakdown, evidence, sales summary, changes) in Turkish or English",
        "Leads",
        query_model=f"{API}.models:LangQuery",
        response_type="application/pdf",
    ),
    _route(
        "get_leads_report",
        "POST",
        "/v1/leads/report.pdf",
        f"{API}.reports:leads_report_pdf",
        "read",
        "A call list as one PDF: a report section for each lead a lead-list filter matches (at most 50)",
        "Leads",
        body_model=f"{API}.reports:ReportBatchRequest",
        response_type="application/pdf",
    ),
    _route(
        "get_lead_emails",
        "GET",
        "/v1/leads/{domain}/emails",
        f"{API}.emails:lead_emails",
        "read",
        "The company's likely role addresses (info@, iletisim@, satis@ …), ranked, with the domain's deliverability",
        "E-mail",
        query_model=f"{API}.models:NoQuery",
        response_model=f"{API}.emails:LeadEmailsOut",
    ),
    _route(
        "validate_emails",
        "POST",
        "/v1/email/validate",
        f"{API}.emails:validate_emails",
        "scan",
        "Check up to 1,000 e-mail addresses: syntax, normalised form, the domain's mail DNS, free-mail, role and "
        "disposable flags (no mail is sent, no mailbox is probed)",
        "E-mail",
        body_model=f"{API}.emails:EmailValidateRequest",
        response_model=f"{API}.emails:EmailValidateOut",
    ),
    _route(
        "rescan_lead",
        "POST",
        "/v1/leads/{domain}/rescan",
        f"{API}.scan:rescan_lead",
        "scan",
        "Scan a known lead again and return it with what changed",
        "Scan",
        query_model=f"{API}.models:LangQuery",
        response_model=f"{API}.models:ScanResponse",
    ),
    _route(
        "get_dashboard",
        "GET",
        "/v1/dashboard",
        f"{API}.leads:dashboard",
        "read",
        "Counts by segment, provider, priority and commercial segment; recent changes",
        "Leads",
        query_model=f"{API}.models:NoQuery",
        response_model=f"{API}.models:Dashboard",
    ),
    _route(
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
    _route(
        "submit_rescan",
        "POST",
        "/v1/rescans",
        "shared.api.rescans:submit_rescan",
        "scan",
        "Rescan known leads (named, matching a filter, or due under the rescan policy) as one bulk job",
        "Bulk scans",
        body_model="shared.api.rescans:RescanRequest",
        response_model="shared.api.rescans:RescanJobOut",
        status=202,
    ),
    _route(
        "create_subscription",
        "POST",
        "/v1/notifications/subscriptions",
        f"{API}.notifications:create_subscription",
        "admin",
        "Subscribe a webhook, Teams, Slack or e-mail to change alerts (a webhook's secret is shown once)",
        "Notifications",
        body_model=f"{API}.notifications:SubscriptionIn",
        response_model=f"{API}.notifications:SubscriptionOut",
        status=201,
    ),
    _route(
        "list_subscriptions",
        "GET",
        "/v1/notifications/subscriptions",
        f"{API}.notifications:list_subscriptions",
        "admin",
        "The change-alert subscriptions (never a secret)",
        "Notifications",
        response_model=f"{API}.notifications:SubscriptionList",
    ),
    _route(
        "get_subscription",
        "GET",
        "/v1/notifications/subscriptions/{subscription_id}",
        f"{API}.notifications:get_subscription",
        "admin",
        "One change-alert subscription",
        "Notifications",
        response_model=f"{API}.notifications:SubscriptionOut",
    ),
    _route(
        "delete_subscription",
        "DELETE",
        "/v1/notifications/subscriptions/{subscription_id}",
        f"{API}.notifications:delete_subscription",
        "admin",
        "Delete a subscription (and its delivery log)",
        "Notifications",
        status=204,
    ),
    _route(
        "test_subscription",
        "POST",
        "/v1/notifications/subscriptions/{subscription_id}/test",
        f"{API}.notifications:test_subscription",
        "admin",
        "Send a test event to a subscription now and answer what the receiver said",
        "Notifications",
    ),
    _route(
        "list_deliveries",
        "GET",
        "/v1/notifications/deliveries",
        f"{API}.notifications:list_deliveries",
        "admin",
        "The delivery log (failures first): status, attempts, last answer code or error, times",
        "Notifications",
        query_model=f"{API}.notifications:DeliveryQuery",
        response_model=f"{API}.notifications:DeliveryList",
    ),
    _route(
        "send_digests",
        "POST",
        "/v1/notifications/digest",
        f"{API}.notifications:send_digests",
        "admin",
        "Send the e-mail digests that are due now (force=true: every digest subscription, whatever its period)",
        "Notifications",
        query_model=f"{API}.notifications:DigestQuery",
    ),
    _route(
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
    _route(
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
    _route(
        "get_scan_job",
        "GET",
        "/v1/scans/{job_id}",
        "shared.api.jobs:get_scan_job",
        "read",
        "A bulk scan's status, totals, rate and ETA",
        "Bulk scans",
        query_model=f"{API}.models:NoQuery",
        response_model="shared.api.job_models:JobOut",
    ),
    _route(
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
    _route(
        "list_queues",
        "GET",
        "/v1/admin/queues",
        "shared.api.admin:list_queues",
        "admin",
        "Queue lengths, poison queue lengths and oldest message ages",
        "Admin",
        query_model=f"{API}.models:NoQuery",
        response_model="shared.api.job_models:QueueList",
    ),
    _route(
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
    _route(
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
    _route(
        "list_api_keys",
        "GET",
        "/v1/admin/keys",
        "shared.api.keys:list_keys",
        "admin",
        "API keys with their scopes and limits (never the keys themselves)",
        "Admin",
        query_model=f"{API}.models:NoQuery",
        response_model="shared.api.keys:ApiKeyList",
    ),
    _route(
        "create_api_key",
        "POST",
        "/v1/admin/keys",
        "shared.api.keys:create_key",
        "admin",
        "Create an API key; the key is in this response only (its hash is stored)",
        "Admin",
        query_model=f"{API}.models:NoQuery",
        body_model="shared.api.keys:ApiKeyCreate",
        response_model="shared.api.keys:ApiKeyCreated",
        status=201,
    ),
    _route(
        "revoke_api_key",
        "POST",
        "/v1/admin/keys/{key_id}/revoke",
        "shared.api.keys:revoke_key",
        "admin",
        "Revoke an API key by its id (not the key in use)",
        "Admin",
        query_model=f"{API}.models:NoQuery",
        response_model="shared.api.keys:ApiKeyOut",
    ),
    _route(
        "push_lead_to_d365",
        "POST",
        "/v1/leads/{domain}/d365-push",
        "shared.api.d365:push_lead",
        "scan",
        "Send one lead to Dynamics 365 (queued; upsert by domain)",
        "Dynamics 365",
        query_model=f"{API}.models:NoQuery",
        response_model="shared.api.integration_models:D365PushResult",
        status=202,
    ),
    _route(
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
    _route(
        "retry_d365_pushes",
        "POST",
        "/v1/d365/retry",
        "shared.api.d365:retry_failed",
        "admin",  # it redrives the d365-push poison queue: an operator's action
        "Retry failed Dynamics 365 pushes (the given domains, or all failed); redrives their poison messages",
        "Dynamics 365",
        body_model="shared.api.integration_models:D365RetryRequest",
        response_model="shared.api.integration_models:D365RetryResult",
        status=202,
    ),
    _route(
        "sync_partner_center",
        "POST",
        "/v1/partner-center/sync",
        "shared.api.partner_center:sync_partner_center",
        "admin",
        "Run the Partner Center referral sync now and return its counts",
        "Partner Center",
        query_model=f"{API}.models:NoQuery",
        response_model="shared.api.pc_models:SyncRunOut",
    ),
    _route(
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
    _route(
        "get_referral",
        "GET",
        "/v1/partner-center/referrals/{referral_id}",
        "shared.api.partner_center:get_referral",
        "read",
        "One Partner Center referral with its lead and the data Partner Center sent",
        "Partner Center",
        query_model=f"{API}.models:NoQuery",
        response_model="shared.api.pc_models:ReferralDetailOut",
    ),
    _route(
        "get_me",
        "GET",
        "/v1/me",
        f"{API}.ui:me",
        "read",
        "The presented API key's name and scopes (what a client may show)",
        "Meta",
        query_model=f"{API}.models:NoQuery",
        response_model=f"{API}.ui:MeOut",
    ),
    _route(
        "web_app",
        "GET",
        "/ui/{*path}",
        f"{API}.ui:serve",
        None,
        "The sales team's web app (static files; they hold no data, so no key)",
        WEB_APP_TAG,
        response_type="text/html",
    ),
    _route(
        "get_openapi",
        "GET",
        "/v1/openapi.json",
        f"{API}.openapi:openapi_json",
        "read",
        "This API as OpenAPI 3.1",
        "Meta",
    ),
    _route(
        "get_swagger",
        "GET",
        "/v1/swagger.json",
        f"{API}.swagger:swagger_json",
        "read",
        "This API as OpenAPI 2.0 (Swagger) for Power Automate custom connectors",
        "Meta",
    ),
    _route("health_live", "GET", "/healthz/live", f"{API}.health:live", None, "The process is up", "Health"),
    _route(
        "health_ready",
        "GET",
        "/healthz/ready",
        f"{API}.health:ready",
        None,
        "The database answers (Redis reported when configured)",
        "Health",
    ),
    _route(
        "get_health_details",
        "GET",
        "/v1/health",
        f"{API}.health:details",
        "admin",
        "Each dependency's state with its reason, and the integrations' sign-in state, last run and errors",
        "Health",
    ),
    _route(
        "health_startup",
        "GET",
        "/healthz/startup",
        f"{API}.health:startup",
        None,
        "Start-up finished (schema migrated)",
        "Health",
    ),
    _route(
        "health_metrics",
        "GET",
        "/healthz/metrics",
        f"{API}.health:metrics",
        "read",
        "Prometheus metrics",
        "Health",
        response_type="text/plain",
    ),
)

QUEUE_FUNCTIONS: tuple[QueueTrigger, ...] = (
    QueueTrigger(
        "bulk_scan_batch",
        "shared.services.scan_batch:handle_scan_batch",
        queue="scan-requests",
        summary="Scan one batch of a bulk scan job",
    ),
    QueueTrigger(
        "d365_push",
        "shared.services.d365_push:handle_push",
        queue="d365-push",
        summary="Push one lead to Dynamics 365 (upsert by domain)",
    ),
    QueueTrigger(
        "notify",
        "shared.services.notifications:handle_notification",
        queue="notifications",
        summary="Deliver one change alert to one subscription (webhook, Teams, Slack, e-mail)",
        retry_base_setting="notify_backoff_base",
        max_attempts_setting="notify_max_attempts",
    ),
)

TIMER_FUNCTIONS: tuple[TimerTrigger, ...] = (
    TimerTrigger(
        "pc_sync_timer",
        "shared.services.pc_sync:scheduled_sync",
        schedule_setting="pc_sync_schedule",
        summary="Poll Partner Center for new and updated referrals",
    ),
    TimerTrigger(
        "digest_timer",
        "shared.services.digests:scheduled_digests",
        schedule_setting="digest_schedule",
        summary="Send the daily and weekly e-mail digests that are due",
    ),
    TimerTrigger(
        "rescan_timer",
        "shared.services.rescans:scheduled_rescan",
        schedule_setting="rescan_schedule",
        summary="Rescan the leads the rescan policy says are due",
    ),
)

# Which function folder hosts which trigger on Azure (functions/<folder>/__init__.py builds its
# blueprint from this): one folder per product area, as the design card lays them out.
FOLDERS: dict[str, tuple[str, ...]] = {
    "scan": ("scan_domain", "rescan_lead"),
    "leads_api": (
        "list_leads",
        "export_leads",
        "get_lead",
        "get_sales_summary",
        "get_lead_report",
        "get_leads_report",
        "get_lead_emails",
        "validate_emails",
        "get_dashboard",
        "get_me",
        "list_api_keys",
        "create_api_key",
        "revoke_api_key",
        "web_app",
        "get_openapi",
        "get_swagger",
        "health_live",
        "health_ready",
        "get_health_details",
        "health_startup",
        "health_metrics",
    ),
    "bulk_scan": (
        "submit_scan_job",
        "preview_scan_job",
        "list_scan_jobs",
        "get_scan_job",
        "get_scan_job_results",
        "list_queues",
        "list_poison_messages",
        "redrive_queue",
        "bulk_scan_batch",
    ),
    "d365_push_queue": ("push_lead_to_d365", "push_leads_to_d365", "retry_d365_pushes", "d365_push"),
    "pc_sync_timer": ("sync_partner_center", "list_referrals", "get_referral", "pc_sync_timer"),
    "rescan_timer": ("submit_rescan", "rescan_timer"),
    "notifications": (
        "create_subscription",
        "list_subscriptions",
        "get_subscription",
        "delete_subscription",
        "test_subscription",
        "list_deliveries",
        "send_digests",
        "notify",
        "digest_timer",
    ),
}

TRIGGERS: tuple[Trigger, ...] = (*ROUTES, *QUEUE_FUNCTIONS, *TIMER_FUNCTIONS)


def trigger(name: str) -> Trigger:
    for candidate in TRIGGERS:
        if candidate.name == name:
            return candidate
    raise KeyError(name)


def triggers_of(folder: str) -> list[Trigger]:
    """The triggers ``functions/<folder>`` hosts, in registry order."""
    names = FOLDERS[folder]
    return [candidate for candidate in TRIGGERS if candidate.name in names]


def queue_function(name: str) -> QueueTrigger:
    """The queue function by its function name or its queue name."""
    for function in QUEUE_FUNCTIONS:
        if name in (function.name, function.queue):
            return function
    raise KeyError(name)
