"""Partner Center Referrals API stand-in (``https://api.partner.microsoft.com/v1.0/engagements/referrals``).

Follows Microsoft's "Get the list of leads and opportunities" and "Referral resources"
documentation (https://learn.microsoft.com/partner-center/developer/get-a-list-of-referrals,
https://learn.microsoft.com/partner-center/developer/referral-resources):

* ``GET /v1.0/engagements/referrals`` answers
  ``{"@odata.context": ..., "@odata.count": <matches>, "value": [...], "@odata.nextLink": ...}``;
  "if there are more than 100 items in a collection, to get the next page of results use
  @odata.nextLink" -- here the page size is the ``page_size`` knob (at most 100) and the next
  link carries an opaque ``$skiptoken``. Pages come from a snapshot taken on the first request,
  so rows added or changed while a client pages show up on its next sync, not as duplicates.
* ``$filter`` (e.g. ``updatedDateTime ge 2024-05-01T00:00:00Z``,
  ``status eq 'New' and direction eq 'Incoming'``, ``customerProfile/address/country eq 'TR'``),
  ``$orderby`` (``createdDateTime``/``updatedDateTime`` ``asc``/``desc``), ``$top`` (limits the
  total) and ``$select``.
* The API "supports authentication with App+User credentials" only: an app-only
  (client-credentials) token, like a missing, unknown or expired one, is answered 401
  (``{"error": {"code": "unauthenticated", ...}}``, the error shape of the Partner API REST
  error codes page).
* Referral fields as documented: id, engagementId, organizationId/Name, name,
  externalReferenceId, created/updated/expirationDateTime, status (New/Active/Closed),
  substatus (Pending/Received/Accepted/Won/Lost/Declined/Expired), statusReason,
  qualification (None/Direct/MarketingQualified/SalesQualified), type (Independent/Shared),
  direction (Incoming/Outgoing), customerProfile (name, address with ISO country, size, team
  with e-mail, ids), consent, details (notes, dealValue, currency, closingDateTime,
  requirements), team, inviteContext, links. The documented ``customerProfile.ids`` holds
  external ids (``Duns``, ``External``); no Azure AD tenant id field is documented there.
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from devtools.msstandins import odata
from devtools.msstandins.identity import IdentityStandin
from devtools.msstandins.server import FailurePlan, Request, Response, RetryAfterGate, Throttle

RESOURCE_ID = "https://api.partner.microsoft.com"
SCOPE = f"{RESOURCE_ID}/user_impersonation"
MAX_PAGE_SIZE = 100


def format_timestamp(moment: datetime) -> str:
    """UTC with seven fraction digits and ``Z``, as the service writes its timestamps."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def make_referral(
    *,
    name: str = "Microsoft 365 rollout",
    customer_name: str = "Fabrikam Customer Inc",
    country: str = "TR",
    city: str = "Istanbul",
    contact_email: str = "ayse.yilmaz@fabrikam.com.tr",
    contact_first_name: str = "Ayse",
    contact_last_name: str = "Yilmaz",
    size: str = "10to50employees",
    deal_value: float | None = 10000,
    currency: str = "USD",
    status: str = "New",
    substatus: str = "Pending",
    qualification: str = "SalesQualified",
    referral_type: str = "Independent",
    direction: str = "Incoming",
    created: datetime | None = None,
    ids: Mapping[str, str] | None = None,
    notes: str = "We are interested in deploying Microsoft 365 and need help migrating mail.",
    **extra: Any,
) -> dict[str, Any]:
    """A referral in the documented shape; keyword overrides for the fields a sync reads."""
    created = created or datetime.now(UTC)
    stamp = format_timestamp(created)
    referral: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "engagementId": str(uuid.uuid4()),
        "organizationId": "7d23e5ca-19dc-4eaa-aac8-5e6b559f0d1d",
        "organizationName": "Hunter Partner Ltd",
        "name": name,
        "externalReferenceId": "",
        "createdDateTime": stamp,
        "updatedDateTime": stamp,
        "expirationDateTime": format_timestamp(created + timedelta(days=14)),
        "status": status,
        "substatus": substatus,
        "statusReason": None,
        "qualification": qualification,
        "type": referral_type,
        "direction": direction,
        "customerProfile": {
            "name": customer_name,
            "address": {
                "addressLine1": "Buyukdere Cad. 1",
                "addressLine2": "",
                "city": city,
                "state": "",
                "postalCode": "34394",
                "country": country,
            },
            "size": size,
            "team": [
                {
                    "firstName": contact_first_name,
                    "lastName": contact_last_name,
                    "phoneNumber": "+902120000000",
                    "email": contact_email,
                    "contactPreference": {"locale": "tr-TR", "disableNotifications": False},
                }
            ],
            "ids": dict(ids or {}),
        },
        "consent": {"consentToShareInfoWithOthers": True, "consentToContact": True},
        "details": {
            "notes": notes,
            "dealValue": deal_value,
            "currency": currency,
            "closingDateTime": format_timestamp(created + timedelta(days=60)),
            "requirements": {
                "industries": [{"id": "Education"}],
                "products": [{"id": "Microsoft365"}],
                "services": [{"id": "DeploymentOrMigration"}],
                "solutions": [],
            },
        },
        "team": [
            {
                "firstName": "John",
                "lastName": "Doe",
                "phoneNumber": "1231231234",
                "email": "john.doe@microsoft.com",
                "contactPreference": {"locale": "en-US", "disableNotifications": False},
            }
        ],
        "inviteContext": {"notes": "", "invitedBy": {"organizationId": "msft", "organizationName": "Microsoft"}},
    }
    referral.update(extra)
    return referral


@dataclass
class ReferralsStats:
    requests: int = 0
    pages: int = 0
    unauthorized: int = 0
    app_only_rejected: int = 0
    bad_requests: int = 0
    throttled: int = 0
    rate_limit_violations: int = 0
    requests_in_retry_window: int = 0
    unavailable: int = 0


class _ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class ReferralsStandin:
    """Referrals in memory plus the list/get endpoints.

    Knobs: ``page_size`` (1..100), ``latency`` (seconds), ``throttle`` (a
    :class:`RetryAfterGate`) and ``failures`` (a :class:`FailurePlan`). Test API:
    :meth:`add_referral`, :meth:`update_referral`, :meth:`referrals`.
    """

    def __init__(
        self, identity: IdentityStandin, *, page_size: int = MAX_PAGE_SIZE, clock: Callable[[], float] = time.time
    ) -> None:
        self.identity = identity
        self.page_size = page_size
        self.clock = clock
        self.base_url = ""
        self.audiences: set[str] = {RESOURCE_ID}
        self.latency = 0.0
        self.throttle = RetryAfterGate()
        self.failures = FailurePlan()
        self._stats = ReferralsStats()
        self._lock = threading.Lock()
        self._referrals: dict[str, dict[str, Any]] = {}
        self._cursors: dict[str, tuple[list[str], int, list[str] | None, float]] = {}

    # ------------------------------------------------------------------ Python API
    def add_referral(self, referral: Mapping[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """Store a referral (``make_referral(**fields)`` when none is given); returns a copy."""
        record = copy.deepcopy(dict(referral)) if referral is not None else make_referral(**fields)
        with self._lock:
            self._referrals[record["id"]] = record
            return copy.deepcopy(record)

    def update_referral(self, referral_id: str, **changes: Any) -> dict[str, Any]:
        """Change top-level fields (nested dicts are merged one level deep) and bump updatedDateTime."""
        with self._lock:
            record = self._referrals[referral_id]
            for name, value in changes.items():
                if isinstance(value, Mapping) and isinstance(record.get(name), dict):
                    record[name].update(copy.deepcopy(dict(value)))
                else:
                    record[name] = copy.deepcopy(value)
            stamp = datetime.fromtimestamp(self.clock(), UTC)
            record["updatedDateTime"] = format_timestamp(stamp)
            return copy.deepcopy(record)

    def referrals(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._referrals.values()))

    def snapshot(self) -> ReferralsStats:
        with self._lock:
            stats = ReferralsStats(**vars(self._stats))
        stats.throttled = self.throttle.throttled
        stats.rate_limit_violations = self.throttle.violations
        stats.requests_in_retry_window = self.throttle.in_window
        stats.unavailable = self.failures.failed
        return stats

    def reset(self) -> None:
        with self._lock:
            self._referrals.clear()
            self._cursors.clear()
            self._stats = ReferralsStats()
        self.throttle.reset()
        self.failures.reset()

    # ------------------------------------------------------------------ HTTP
    def __call__(self, request: Request) -> Response:
        with self._lock:
            self._stats.requests += 1
        check = self.identity.check_access_token(request.bearer(), {self.base_url, *self.audiences})
        if not check.ok or check.info is None:
            with self._lock:
                self._stats.unauthorized += 1
            reason = {"missing": "No bearer token was provided.", "expired": "The access token has expired."}.get(
                check.reason, "The access token is not valid for this resource."
            )
            return self._error(401, "unauthenticated", reason, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if check.info.kind != "user":
            with self._lock:
                self._stats.unauthorized += 1
                self._stats.app_only_rejected += 1
            return self._error(
                401,
                "unauthenticated",
                "This API supports App+User credentials only; app-only tokens are not accepted.",
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        throttled = self.throttle.check(check.info.caller, delay=self.latency, arrived_at=request.received_at)
        if self.latency > 0:
            time.sleep(self.latency)
        if throttled is not None:
            return self._throttled(throttled)
        failed = self.failures.check()
        if failed is not None:
            return self._error(failed, "serviceNotAvailable", "The service is temporarily unavailable.")
        try:
            return self._route(request)
        except _ApiError as error:
            with self._lock:
                if error.status == 400:
                    self._stats.bad_requests += 1
            return self._error(error.status, error.code, error.message)

    def _error(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> Response:
        return Response.json(
            status, {"error": {"code": code, "message": message, "target": "referral"}}, headers=headers
        )

    def _throttled(self, throttle: Throttle) -> Response:
        response = self._error(
            429,
            "tooManyRequests",
            "Client application has been throttled and should not attempt to repeat the request until an amount of "
            "time has elapsed.",
            {"Retry-After": str(throttle.retry_after)},
        )
        response.on_sent = throttle.on_sent
        return response

    def _route(self, request: Request) -> Response:
        prefix = "/v1.0/engagements/referrals"
        if request.method != "GET":
            raise _ApiError(405, "invalidRequest", f"The HTTP method {request.method} is not allowed on the resource.")
        if request.path == prefix or request.path == prefix + "/":
            return self._list(request)
        if request.path.startswith(prefix + "/"):
            referral_id = request.path[len(prefix) + 1 :]
            with self._lock:
                record = copy.deepcopy(self._referrals.get(referral_id))
            if record is None:
                raise _ApiError(404, "itemNotFound", f"Referral '{referral_id}' was not found.")
            return Response.json(
                200,
                {"@odata.context": f"{self.base_url}/v1.0/engagements/referrals/$metadata#Referrals/$entity",
                 **self._decorate(record)},
            )  # fmt: skip
        raise _ApiError(404, "itemNotFound", f"No resource at {request.path}.")

    def _decorate(self, record: dict[str, Any]) -> dict[str, Any]:
        base = f"{self.base_url}/v1.0/engagements/referrals"
        engagement_filter = quote(f"engagementId eq '{record.get('engagementId', '')}'")
        record["links"] = {
            "relatedReferrals": {"uri": f"{base}?$filter={engagement_filter}", "method": "GET"},
            "self": {"uri": f"{base}/{record['id']}", "method": "GET"},
        }
        return record

    def _list(self, request: Request) -> Response:
        query = request.query
        token = query.get("$skiptoken")
        if token is not None:
            with self._lock:
                cursor = self._cursors.pop(token, None)
            if cursor is None:
                raise _ApiError(400, "invalidRequest", "The $skiptoken is not valid or has expired.")
            ids, offset, select, _created = cursor
        else:
            select = odata.parse_select(query.get("$select"))
            try:
                predicate = odata.parse_filter(query.get("$filter"))
                order = odata.parse_orderby(query.get("$orderby"))
            except odata.ODataSyntaxError as exc:
                raise _ApiError(400, "invalidRequest", f"Invalid OData query: {exc}") from exc
            top = query.get("$top")
            if top is not None and not top.isdigit():
                raise _ApiError(400, "invalidRequest", f"Invalid value '{top}' for $top.")
            with self._lock:
                matched = [copy.deepcopy(record) for record in self._referrals.values() if predicate(record)]
            matched = odata.sort_records(matched, order)
            if top is not None:
                matched = matched[: int(top)]
            ids, offset = [record["id"] for record in matched], 0
        size = max(1, min(self.page_size, MAX_PAGE_SIZE))
        page_ids = ids[offset : offset + size]
        with self._lock:
            page = [copy.deepcopy(self._referrals[rid]) for rid in page_ids if rid in self._referrals]
            self._stats.pages += 1
            next_link = None
            if offset + size < len(ids):
                new_token = secrets.token_urlsafe(24)
                self._cursors[new_token] = (ids, offset + size, select, self.clock())
                self._expire_cursors()
                next_link = f"{self.base_url}/v1.0/engagements/referrals?$skiptoken={new_token}"
        values = [self._select(self._decorate(record), select) for record in page]
        payload: dict[str, Any] = {
            "@odata.context": f"{self.base_url}/v1.0/$metadata#Referrals",
            "@odata.count": len(ids),
            "value": values,
        }
        if next_link:
            payload["@odata.nextLink"] = next_link
        return Response.json(200, payload)

    def _expire_cursors(self) -> None:
        cutoff = self.clock() - 600
        for token in [token for token, cursor in self._cursors.items() if cursor[3] < cutoff]:
            del self._cursors[token]

    @staticmethod
    def _select(record: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
        if select is None:
            return record
        return {name: record.get(name) for name in ["id", *[name for name in select if name != "id"]]}
