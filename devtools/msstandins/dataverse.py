"""Dataverse Web API v9.2 stand-in: an in-memory ``leads`` table with an alternate key.

Behaviour follows Microsoft's Dataverse documentation:

* Upsert (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/update-delete-entities-using-web-api,
  https://learn.microsoft.com/power-apps/developer/data-platform/use-alternate-key-reference-record):
  ``PATCH /api/data/v9.2/leads(new_domain='acme.com.tr')``
  creates the row when the key is unknown, updates it otherwise. Without a ``Prefer`` header
  both answer ``204 No Content`` with an ``OData-EntityId`` header; with
  ``Prefer: return=representation`` a create answers ``201 Created`` and an update ``200 OK``
  with the row (``$select`` picks the columns) and ``Preference-Applied``.
* Limit upsert operations (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/perform-conditional-operations-using-web-api):
  ``If-Match: *`` prevents create (404 when the row is missing); ``If-None-Match: *`` prevents
  update (412 "A record with matching key values already exists."); ``If-Match: W/"n"`` is
  optimistic concurrency (412 on a stale version).
* Errors are ``{"error": {"code": "0x...", "message": "..."}}``
  (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors);
  an unknown property in a body is 400 "Invalid property 'x' was found in entity
  'Microsoft.Dynamics.CRM.lead'" and an unknown ``$select``/``$filter`` column 400 "Could not
  find a property named 'x' on type 'Microsoft.Dynamics.CRM.lead'" (code ``0x0``, both from
  https://learn.microsoft.com/troubleshoot/power-platform/dataverse/dataverse-web-api-and-sdk/web-api-client-errors);
  a choice value outside the option set is 400 ``0x8004431a`` "... is outside the valid range.
  Accepted Values: ..." (message as the platform writes it; the code is not on a docs page).
* Service protection limits (https://learn.microsoft.com/power-apps/developer/data-platform/api-limits):
  429 with ``Retry-After`` in seconds and the hex code of the limit that was hit --
  ``0x80072322`` (-2147015902, number of requests), ``0x80072321`` (-2147015903, execution
  time), ``0x80072326`` (-2147015898, concurrent requests) -- evaluated per user, and repeated
  for that user until the Retry-After duration has ended. Every answer carries
  ``x-ms-dop-hint`` (the recommended degree of parallelism, as the Web API samples read it).
* A missing or invalid bearer token is 401 with the bearer challenge
  ``WWW-Authenticate: Bearer authorization_uri=<authority>/oauth2/authorize, resource_id=<org url>/``
  that "Discover the authority at run time" relies on
  (https://learn.microsoft.com/power-apps/developer/data-platform/authenticate-oauth).

Fault knobs, counters and a Python view of the rows are on :class:`DataverseStandin`.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from devtools.msstandins import odata
from devtools.msstandins.identity import IdentityStandin
from devtools.msstandins.server import FailurePlan, Request, Response, RetryAfterGate, Throttle

LEAD_STATE = {0: "Open", 1: "Qualified", 2: "Disqualified"}
# Option sets of the standard lead table (https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/lead).
DEFAULT_OPTION_SETS: dict[str, dict[int, str]] = {
    "leadsourcecode": {
        1: "Advertisement",
        2: "Employee Referral",
        3: "External Referral",
        4: "Partner",
        5: "Public Relations",
        6: "Seminar",
        7: "Trade Show",
        8: "Web",
        9: "Word of Mouth",
        10: "Other",
    },
    "leadqualitycode": {1: "Hot", 2: "Warm", 3: "Cold"},
    "preferredcontactmethodcode": {1: "Any", 2: "Email", 3: "Phone", 4: "Fax", 5: "Mail"},
    "statecode": LEAD_STATE,
    "statuscode": {
        1: "New",
        2: "Contacted",
        3: "Qualified",
        4: "Lost",
        5: "Cannot Contact",
        6: "No Longer Interested",
        7: "Canceled",
    },
}
# Column -> type. Types: string, memo, int, decimal, money, bool, choice, datetime, guid.
DEFAULT_LEAD_COLUMNS: dict[str, str] = {
    "leadid": "guid",
    "subject": "string",
    "firstname": "string",
    "lastname": "string",
    "companyname": "string",
    "jobtitle": "string",
    "emailaddress1": "string",
    "telephone1": "string",
    "websiteurl": "string",
    "address1_city": "string",
    "address1_country": "string",
    "description": "memo",
    "numberofemployees": "int",
    "revenue": "money",
    "donotemail": "bool",
    "leadsourcecode": "choice",
    "leadqualitycode": "choice",
    "preferredcontactmethodcode": "choice",
    "statecode": "choice",
    "statuscode": "choice",
    "createdon": "datetime",
    "modifiedon": "datetime",
    # Custom columns Hunter's lead push writes (publisher prefix "new_")
    "new_domain": "string",
    "new_leadscore": "int",
    "new_mailprovider": "string",
    "new_summary": "memo",
}
ODATA_JSON = "application/json; odata.metadata=minimal"
READ_ONLY = frozenset({"createdon", "modifiedon"})
# Service protection limit errors (hex code, message) as the Web API returns them.
PROTECTION_ERRORS: dict[str, tuple[str, str]] = {
    "requests": ("0x80072322", "Number of requests exceeded the limit of 6000 over time window of 300 seconds."),
    "execution_time": (
        "0x80072321",
        "Combined execution time of incoming requests exceeded limit of 1,200,000 milliseconds over time window "
        "of 300 seconds. Decrease number of concurrent requests or reduce the duration of requests and try again "
        "later.",
    ),
    "concurrency": ("0x80072326", "Number of concurrent requests exceeded the limit of 52."),
}
_GUID = re.compile(r"^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$")
_SEGMENT = re.compile(r"^(?P<set>[A-Za-z_][A-Za-z0-9_]*)(?:\((?P<key>.*)\))?$", re.DOTALL)
_KEY = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*('(?:[^']|'')*')\s*$", re.DOTALL)


class ODataError(Exception):
    """An OData error answer: HTTP status plus the ``{"error": {...}}`` body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class DataverseStats:
    """Counters the tests and the benchmark read (snapshot from :meth:`DataverseStandin.snapshot`)."""

    requests: int = 0
    creates: int = 0
    updates: int = 0
    deletes: int = 0
    reads: int = 0
    throttled: int = 0
    rate_limit_violations: int = 0  # arrivals inside an open Retry-After window, after the grace period
    requests_in_retry_window: int = 0  # every arrival inside an open Retry-After window
    unavailable: int = 0
    unauthorized: int = 0
    bad_requests: int = 0
    not_found: int = 0
    precondition_failed: int = 0
    max_concurrency: int = 0  # highest number of requests in flight at once, all callers


def _now_iso(clock: Callable[[], float]) -> str:
    return datetime.fromtimestamp(clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DataverseStandin:
    """One Dataverse environment with a ``leads`` entity set, served at ``/api/data/v9.2/``.

    Fault knobs (attributes): ``latency`` (seconds added to every request), ``dop_hint``
    (``x-ms-dop-hint`` value), ``max_concurrent_requests`` (per caller; above it the request
    is answered 429 "concurrent requests"), ``throttle`` (a :class:`RetryAfterGate`: ``rate``,
    ``retry_after``, ``grace``, ``reason``, ``force(n)``) and ``failures`` (a
    :class:`FailurePlan`: ``rate``, ``status``, ``force(n)``).
    """

    entity = "lead"
    entity_set = "leads"
    primary_key = "leadid"

    def __init__(
        self,
        identity: IdentityStandin,
        *,
        alternate_key: str = "new_domain",
        extra_columns: Mapping[str, str] | None = None,
        option_sets: Mapping[str, Mapping[int, str]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.identity = identity
        self.columns: dict[str, str] = {**DEFAULT_LEAD_COLUMNS, **(extra_columns or {})}
        self.option_sets: dict[str, dict[int, str]] = {
            name: dict(values) for name, values in {**DEFAULT_OPTION_SETS, **(option_sets or {})}.items()
        }
        if alternate_key not in self.columns:
            raise ValueError(f"alternate key column {alternate_key!r} is not a lead column")
        self.alternate_key = alternate_key
        self.clock = clock
        self.base_url = ""  # the org URL, set by the server wiring
        self.audiences: set[str] = set()  # token audiences accepted besides base_url
        self.latency = 0.0
        self.dop_hint = 8
        self.max_concurrent_requests: int | None = None
        self.throttle = RetryAfterGate()
        self.failures = FailurePlan()
        self.organization_id = str(uuid.uuid4())
        self._stats = DataverseStats()
        self._lock = threading.Lock()
        self._rows: dict[str, dict[str, Any]] = {}  # leadid -> row
        self._by_key: dict[str, str] = {}  # lower-cased alternate key value -> leadid
        self._version = 1000
        self._in_flight: dict[str, int] = {}
        self._in_flight_total = 0

    # ------------------------------------------------------------------ Python API
    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/data/v9.2"

    def snapshot(self) -> DataverseStats:
        """Current counters (a copy)."""
        with self._lock:
            stats = DataverseStats(**vars(self._stats))
        stats.throttled = self.throttle.throttled
        stats.rate_limit_violations = self.throttle.violations
        stats.requests_in_retry_window = self.throttle.in_window
        stats.unavailable = self.failures.failed
        return stats

    def rows(self) -> list[dict[str, Any]]:
        """Copies of every lead row."""
        with self._lock:
            return [dict(row) for row in self._rows.values()]

    def row_by_key(self, value: str) -> dict[str, Any] | None:
        """The row whose alternate key equals ``value`` (case-insensitive, like SQL collation)."""
        with self._lock:
            leadid = self._by_key.get(value.lower())
            return dict(self._rows[leadid]) if leadid else None

    def count(self, predicate: Callable[[dict[str, Any]], bool] = lambda row: True) -> int:
        with self._lock:
            return sum(1 for row in self._rows.values() if predicate(row))

    def reset(self) -> None:
        """Drop rows, counters and injected faults (knob values stay)."""
        with self._lock:
            self._rows.clear()
            self._by_key.clear()
            self._stats = DataverseStats()
        self.throttle.reset()
        self.failures.reset()

    # ------------------------------------------------------------------ HTTP entry
    def __call__(self, request: Request) -> Response:
        with self._lock:
            self._stats.requests += 1
        check = self.identity.check_access_token(request.bearer(), {self.base_url, *self.audiences})
        if not check.ok or check.info is None:
            with self._lock:
                self._stats.unauthorized += 1
            self._delay()
            return self._unauthorized()
        caller = check.info.caller
        with self._lock:
            self._in_flight[caller] = self._in_flight.get(caller, 0) + 1
            self._in_flight_total += 1
            self._stats.max_concurrency = max(self._stats.max_concurrency, self._in_flight_total)
            over_limit = (
                self.max_concurrent_requests is not None and self._in_flight[caller] > self.max_concurrent_requests
            )
        try:
            # Throttling is decided on arrival; a concurrency breach is answered at once, as documented
            extra = Throttle(self.throttle.retry_after, "concurrency") if over_limit else None
            throttled = self.throttle.check(
                caller, extra, 0.0 if over_limit else self.latency, arrived_at=request.received_at
            )
            if not over_limit:
                self._delay()  # latency is time in flight, as server time is on the real service
            if throttled is not None:
                return self._throttled(throttled)
            failed = self.failures.check()
            if failed is not None:
                return self._with_common_headers(
                    Response.json(failed, {"error": {"code": "0x80040216", "message": "The service is unavailable."}})
                )
            try:
                response = self._route(request, caller)
            except ODataError as error:
                response = self._error_response(error)
            return self._with_common_headers(response)
        finally:
            with self._lock:
                self._in_flight[caller] -= 1
                self._in_flight_total -= 1

    def _delay(self) -> None:
        if self.latency > 0:
            time.sleep(self.latency)

    def _with_common_headers(self, response: Response) -> Response:
        response.headers.setdefault("OData-Version", "4.0")
        response.headers["x-ms-dop-hint"] = str(self.dop_hint)
        response.headers["REQ_ID"] = str(uuid.uuid4())
        return response

    def _unauthorized(self) -> Response:
        authority = self.identity.authority
        return Response.empty(
            401,
            {
                "WWW-Authenticate": f"Bearer authorization_uri={authority}/oauth2/authorize, "
                f"resource_id={self.base_url}/"
            },
        )

    def _throttled(self, throttle: Throttle) -> Response:
        code, message = PROTECTION_ERRORS.get(throttle.reason, PROTECTION_ERRORS["requests"])
        response = Response.json(429, {"error": {"code": code, "message": message}})
        response.headers["Retry-After"] = str(throttle.retry_after)
        response.on_sent = throttle.on_sent
        return self._with_common_headers(response)

    def _error_response(self, error: ODataError) -> Response:
        with self._lock:
            if error.status == 400:
                self._stats.bad_requests += 1
            elif error.status == 404:
                self._stats.not_found += 1
            elif error.status == 412:
                self._stats.precondition_failed += 1
        return Response.json(
            error.status,
            {"error": {"code": error.code, "message": error.message}},
            content_type=ODATA_JSON,
        )

    # ------------------------------------------------------------------ routing
    def _route(self, request: Request, caller: str) -> Response:
        match = re.match(r"^/api/data/v9\.\d/(?P<rest>.*)$", request.path, re.DOTALL)
        if not match:
            raise ODataError(404, "", f"No HTTP resource was found that matches the request URI '{request.path}'.")
        rest = match.group("rest")
        if rest == "WhoAmI" and request.method == "GET":
            return Response.json(
                200,
                {
                    "@odata.context": f"{self.api_url}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                    "BusinessUnitId": str(uuid.uuid5(uuid.NAMESPACE_URL, self.base_url + "/bu")),
                    "UserId": str(uuid.uuid5(uuid.NAMESPACE_URL, caller)),
                    "OrganizationId": self.organization_id,
                },
            )
        segment = _SEGMENT.match(rest)
        if not segment or segment.group("set") != self.entity_set:
            name = rest.split("(")[0].split("/")[0]
            raise ODataError(404, "0x8006088a", f"Resource not found for the segment '{name}'.")
        key = segment.group("key")
        if key is None:
            if request.method == "GET":
                return self._list(request)
            raise self._method_not_allowed(request)
        if request.method == "PATCH":
            return self._upsert(request, key)
        if request.method == "GET":
            return self._retrieve(request, key)
        if request.method == "DELETE":
            return self._delete(key)
        raise self._method_not_allowed(request)

    @staticmethod
    def _method_not_allowed(request: Request) -> ODataError:
        return ODataError(405, "0x80060888", f"The requested resource does not support http method '{request.method}'.")

    # ------------------------------------------------------------------ key handling
    def _parse_key(self, text: str) -> tuple[str, str]:
        """``(column, value)`` for ``<guid>`` or ``column='value'``."""
        guid = _GUID.match(text.strip())
        if guid:
            return self.primary_key, guid.group(1).lower()
        match = _KEY.match(text)
        if not match:
            raise ODataError(400, "0x80060888", f"Bad Request - Error in query syntax: '{text}'.")
        name, quoted = match.group(1), match.group(2)
        if name != self.alternate_key:
            raise ODataError(
                400,
                "0x80060888",
                f"The key used to retrieve the record ({name}) is not an alternate key defined for entity "
                f"'{self.entity}'. Defined keys: {self.alternate_key}.",
            )
        return name, quoted[1:-1].replace("''", "'")

    def _find(self, column: str, value: str) -> dict[str, Any] | None:
        if column == self.primary_key:
            return self._rows.get(value)
        leadid = self._by_key.get(value.lower())
        return self._rows.get(leadid) if leadid else None

    def _describe_key(self, column: str, value: str) -> str:
        return (
            f"{self.entity} With Id = {value} Does Not Exist"
            if column == self.primary_key
            else (f"A record with the specified key values does not exist in {self.entity} entity")
        )

    # ------------------------------------------------------------------ validation
    def _validate_body(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ODataError(
                400, "0x80048d19", f"Error identified in Payload provided by the user for Entity :'{self.entity_set}'."
            )
        clean: dict[str, Any] = {}
        for name, value in body.items():
            if name.startswith("@odata.") or name.endswith("@odata.type"):
                continue
            if name not in self.columns:
                raise ODataError(
                    400,
                    "0x0",
                    "An error occurred while validating input parameters: Microsoft.Crm.CrmException: Invalid property "
                    f"'{name}' was found in entity 'Microsoft.Dynamics.CRM.{self.entity}'. ---> "
                    "Microsoft.OData.ODataException: Does not support untyped value in non-open type.",
                )
            if name in READ_ONLY:
                continue  # the platform sets createdon/modifiedon itself
            clean[name] = self._check_value(name, value)
        return clean

    def _check_value(self, name: str, value: Any) -> Any:
        kind = self.columns[name]
        if value is None:
            return None
        edm = {"string": "Edm.String", "memo": "Edm.String", "int": "Edm.Int32", "decimal": "Edm.Decimal",
               "money": "Edm.Decimal", "bool": "Edm.Boolean", "choice": "Edm.Int32", "guid": "Edm.Guid",
               "datetime": "Edm.DateTimeOffset"}[kind]  # fmt: skip
        ok = {
            "string": isinstance(value, str),
            "memo": isinstance(value, str),
            "int": isinstance(value, int) and not isinstance(value, bool),
            "decimal": isinstance(value, int | float) and not isinstance(value, bool),
            "money": isinstance(value, int | float) and not isinstance(value, bool),
            "bool": isinstance(value, bool),
            "choice": isinstance(value, int) and not isinstance(value, bool),
            "guid": isinstance(value, str) and bool(_GUID.match(value)),
            "datetime": isinstance(value, str) and odata.parse_datetime(value) is not None,
        }[kind]
        if not ok:
            raise ODataError(
                400,
                "0x80048d19",
                f"Error identified in Payload provided by the user for Entity :'{self.entity_set}', For more "
                "information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293"
                "  ---->  InnerException : Microsoft.OData.ODataException: "
                f"Cannot convert the literal '{value}' to the expected type '{edm}'.",
            )
        if kind == "choice":
            allowed = self.option_sets.get(name, {})
            if allowed and value not in allowed:
                accepted = ",".join(str(option) for option in sorted(allowed))
                raise ODataError(
                    400,
                    "0x8004431a",
                    f"A validation error occurred. The value {value} of '{name}' on record of type '{self.entity}' is "
                    f"outside the valid range. Accepted Values: {accepted}",
                )
        if kind == "guid":
            return value.strip("{}").lower()
        return value

    def _check_columns(self, names: Iterable[str]) -> None:
        for name in names:
            if name not in self.columns:
                raise ODataError(
                    400,
                    "0x0",
                    f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{self.entity}'.",
                )

    # ------------------------------------------------------------------ representation
    def _etag(self, row: Mapping[str, Any]) -> str:
        return f'W/"{row["versionnumber"]}"'

    def _represent(self, row: Mapping[str, Any], select: list[str] | None) -> dict[str, Any]:
        names = select if select is not None else [name for name in self.columns if name in row]
        out: dict[str, Any] = {"@odata.etag": self._etag(row)}
        for name in names:
            out[name] = row.get(name)
        out[self.primary_key] = row[self.primary_key]
        return out

    def _entity_id(self, row: Mapping[str, Any]) -> str:
        return f"{self.api_url}/{self.entity_set}({row[self.primary_key]})"

    # ------------------------------------------------------------------ operations
    def _upsert(self, request: Request, key_text: str) -> Response:
        column, value = self._parse_key(key_text)
        try:
            body = request.json()
        except ValueError as exc:
            raise ODataError(400, "0x80048d19", f"Error identified in Payload provided by the user: {exc}") from exc
        changes = self._validate_body(body)
        select = odata.parse_select(request.query.get("$select"))
        if select is not None:
            self._check_columns(select)
        prefer = (request.header("prefer") or "").replace(" ", "").lower()
        representation = "return=representation" in prefer.split(",")
        if_match = (request.header("if-match") or "").strip()
        if_none_match = (request.header("if-none-match") or "").strip()
        now = _now_iso(self.clock)
        with self._lock:
            row = self._find(column, value)
            if row is None:
                if if_match:
                    raise ODataError(404, "0x80040217", self._describe_key(column, value))
                leadid = value if column == self.primary_key else str(uuid.uuid4())
                row = {self.primary_key: leadid, "statecode": 0, "statuscode": 1, "createdon": now}
                row.update({name: val for name, val in changes.items() if name != self.primary_key})
                if column == self.alternate_key:
                    row[self.alternate_key] = value  # the key in the URL wins over the body
                key_value = row.get(self.alternate_key)
                if key_value is not None and str(key_value).lower() in self._by_key:
                    raise ODataError(412, "0x80040237", "A record with matching key values already exists.")
                self._version += 1
                row["versionnumber"] = self._version
                row["modifiedon"] = now
                self._rows[leadid] = row
                if key_value is not None:
                    self._by_key[str(key_value).lower()] = leadid
                self._stats.creates += 1
                created = True
            else:
                if if_none_match == "*":
                    raise ODataError(412, "0x80040237", "A record with matching key values already exists.")
                if if_match and if_match != "*" and if_match != self._etag(row):
                    raise ODataError(
                        412,
                        "0x80060882",
                        "The version of the existing record doesn't match the RowVersion property provided.",
                    )
                old_key = row.get(self.alternate_key)
                new_key = changes.get(self.alternate_key, old_key) if column != self.alternate_key else old_key
                if new_key is not None and old_key is not None and str(new_key).lower() != str(old_key).lower():
                    if str(new_key).lower() in self._by_key:
                        raise ODataError(412, "0x80040237", "A record with matching key values already exists.")
                    self._by_key.pop(str(old_key).lower(), None)
                    self._by_key[str(new_key).lower()] = row[self.primary_key]
                row.update({name: val for name, val in changes.items() if name != self.primary_key})
                if column == self.alternate_key:
                    row[self.alternate_key] = old_key
                self._version += 1
                row["versionnumber"] = self._version
                row["modifiedon"] = now
                self._stats.updates += 1
                created = False
            snapshot = dict(row)
        if representation:
            payload = {
                "@odata.context": f"{self.api_url}/$metadata#{self.entity_set}/$entity",
                **self._represent(snapshot, select),
            }
            return Response.json(
                201 if created else 200,
                payload,
                headers={"Preference-Applied": "return=representation", "ETag": self._etag(snapshot)},
                content_type=ODATA_JSON,
            )
        return Response.empty(204, {"OData-EntityId": self._entity_id(snapshot)})

    def _retrieve(self, request: Request, key_text: str) -> Response:
        column, value = self._parse_key(key_text)
        select = odata.parse_select(request.query.get("$select"))
        if select is not None:
            self._check_columns(select)
        with self._lock:
            row = self._find(column, value)
            self._stats.reads += 1
            snapshot = dict(row) if row else None
        if snapshot is None:
            raise ODataError(404, "0x80040217", self._describe_key(column, value))
        payload = {
            "@odata.context": f"{self.api_url}/$metadata#{self.entity_set}/$entity",
            **self._represent(snapshot, select),
        }
        return Response.json(200, payload, headers={"ETag": self._etag(snapshot)}, content_type=ODATA_JSON)

    def _delete(self, key_text: str) -> Response:
        column, value = self._parse_key(key_text)
        with self._lock:
            row = self._find(column, value)
            if row is None:
                raise ODataError(404, "0x80040217", self._describe_key(column, value))
            del self._rows[row[self.primary_key]]
            if row.get(self.alternate_key) is not None:
                self._by_key.pop(str(row[self.alternate_key]).lower(), None)
            self._stats.deletes += 1
        return Response.empty(204)

    def _list(self, request: Request) -> Response:
        query = request.query
        select = odata.parse_select(query.get("$select"))
        if select is not None:
            self._check_columns(select)
        try:
            predicate = odata.parse_filter(query.get("$filter"), lambda name: name in self.columns)
            order = odata.parse_orderby(query.get("$orderby"))
        except odata.UnknownProperty as exc:
            self._check_columns([exc.name])
            raise
        except odata.ODataSyntaxError as exc:
            raise ODataError(400, "0x80060888", f"Syntax error: {exc}") from exc
        self._check_columns(name for name, _ in order)
        top = query.get("$top")
        if top is not None and not top.isdigit():
            raise ODataError(400, "0x80060888", f"Invalid value '{top}' for $top query option found.")
        with self._lock:
            matched = [dict(row) for row in self._rows.values() if predicate(row)]
            self._stats.reads += 1
        matched = odata.sort_records(matched, order)
        total = len(matched)
        if top is not None:
            matched = matched[: int(top)]
        matched = matched[:5000]  # the Web API's default page size limit
        context_columns = f"({','.join(select)})" if select else ""
        payload: dict[str, Any] = {"@odata.context": f"{self.api_url}/$metadata#{self.entity_set}{context_columns}"}
        if query.get("$count", "").lower() == "true":
            payload["@odata.count"] = total
        payload["value"] = [self._represent(row, select) for row in matched]
        return Response.json(200, payload, content_type=ODATA_JSON)
