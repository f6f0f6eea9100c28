"""Dataverse Web API v9.2 client for leads: upsert by alternate key, with Microsoft's retry rules.

* ``PATCH leads(<key>='acme.com.tr')`` with ``Prefer: return=representation`` and
  ``$select=leadid``: creates or updates the one lead with that key and answers its ``leadid``,
  so a redelivered push can never create a second lead.
* Service protection (429, and 503 with Retry-After): one app registration is one Dataverse
  user, so the pause is shared: the ``Retry-After`` deadline goes to a gate in the store that
  every worker checks before each request (no request leaves before it has passed).
* 5xx and timeouts: retried with exponential backoff and full jitter, a few times, then the
  message fails and the queue retries it later.
* 401: the token is fetched again once; a second 401 is permanent.
* 400/403/404: permanent (a bad mapping, a missing column, no privilege): no retry can help.
* Concurrency follows the ``x-ms-dop-hint`` Dataverse sends, capped by
  ``HUNTER_D365_MAX_CONCURRENCY``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.integrations.errors import IntegrationError, IntegrationErrorCode, code_for_status
from shared.integrations.http import retry_after
from shared.integrations.identity import SignInError, authority, describe_msal_error, msal_options, ssl_context
from shared.store import leases

if TYPE_CHECKING:
    import httpx
    from sqlalchemy import Engine

    from shared.config import Settings

log = logging.getLogger("hunter.d365")
API = "/api/data/v9.2/"
TRANSIENT_ATTEMPTS = 4
MAX_THROTTLES = 20  # pauses honoured inside one message before it is handed back to the queue
GATE = "d365-throttle"
# Dataverse's documented service protection limit: 6,000 requests per user in a 5-minute sliding
# window. One bucket per app registration (one Dataverse user), shared by every worker via Redis.
REQUESTS_PER_WINDOW = 6000
WINDOW_SECONDS = 300


class DataverseError(IntegrationError):
    """Dataverse refused or kept failing a request. ``status`` is the HTTP status (0: no answer);
    the ``code`` argument is Dataverse's OData error code, kept as :attr:`service_code`, while
    :attr:`code` is Hunter's reason (from the status, or ``hunter_code`` when the status alone
    cannot tell, as for a 503 that throttles)."""

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        *,
        permanent: bool,
        hunter_code: IntegrationErrorCode | None = None,
    ) -> None:
        super().__init__(
            f"{status} {code or ''} {message}".strip(),
            code=hunter_code or code_for_status(status),
            permanent=permanent,
            service_code=code,
            detail=message,
        )
        self.status = status
        self.message = message

    def describe(self) -> str:
        return f"HTTP {self.status}{' ' + self.service_code if self.service_code else ''}: {self.message}"


@dataclass(frozen=True)
class UpsertResult:
    lead_id: str
    created: bool


def _odata_error(response: httpx.Response) -> tuple[str | None, str]:
    try:
        error = response.json().get("error", {})
        return error.get("code"), str(error.get("message") or response.reason_phrase)
    except ValueError:
        return None, response.reason_phrase or f"HTTP {response.status_code}"


class ThrottleGate:
    """The shared "not before" time after a 429, and a probe to reopen carefully.

    The deadline is a lease row every worker reads before a request, so one app registration
    (one Dataverse user) pauses everywhere at once. When the pause ends, one request goes first
    (a probe) while this process's others wait for its answer: if Dataverse is still throttling,
    only the probe hears so, instead of every request that was waiting for the pause to end.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.local_until = 0.0
        self._cautious = False  # a pause happened: the next request is a probe
        self._probe: asyncio.Future[None] | None = None

    def _stored(self) -> float:
        return leases.deadline(self.engine, GATE)

    async def wait(self) -> bool:
        """Return once a request may go; True if the caller is the probe (it must call :meth:`answered`)."""
        while True:
            stored = await asyncio.to_thread(self._stored)  # read first: a 429 may land while this runs
            until = max(self.local_until, stored)
            self.local_until = until
            delay = until - time.time()
            if delay > 0:
                self._cautious = True
                await asyncio.sleep(delay)
                continue
            if self._probe is not None:  # someone is testing the water: wait for the answer
                await asyncio.shield(self._probe)
                continue
            if self._cautious:
                self._probe = asyncio.get_running_loop().create_future()
                return True
            return False

    def answered(self, throttled: bool) -> None:
        """The probe's answer: a success ends the caution, a 429 keeps it (the gate is closed again)."""
        probe, self._probe = self._probe, None
        if not throttled:
            self._cautious = False
        if probe is not None and not probe.done():
            probe.set_result(None)

    def close_for(self, seconds: float) -> float:
        """Close the gate in this process at once (call it on the event loop); returns the deadline
        to :meth:`share` with the other workers."""
        until = time.time() + seconds
        self.local_until = max(self.local_until, until)
        self._cautious = True
        return until

    def share(self, until: float) -> None:
        """Write the deadline to the store, where every other worker reads it (blocking: run in a thread)."""
        leases.extend_deadline(self.engine, GATE, "dataverse", until)


class DataverseClient:
    def __init__(self, settings: Settings, engine: Engine, *, http: httpx.AsyncClient | None = None) -> None:
        import httpx

        if not (
            settings.d365_url and settings.d365_tenant_id and settings.d365_client_id and settings.d365_client_secret
        ):
            raise SignInError(
                "D365 needs HUNTER_D365_URL, _TENANT_ID, _CLIENT_ID and _CLIENT_SECRET",
                hunter_code=IntegrationErrorCode.NOT_CONFIGURED,
            )
        self.settings = settings
        self.org = settings.d365_url.rstrip("/")
        self.http = http or httpx.AsyncClient(
            base_url=self.org + API, verify=ssl_context(), timeout=settings.d365_timeout, trust_env=False
        )
        self.gate = ThrottleGate(engine)
        self.concurrency = settings.d365_max_concurrency
        self._slots = asyncio.Semaphore(self.concurrency)
        self._app = None
        self._token: tuple[str, float] | None = None
        self.stats = {"requests": 0, "throttled": 0, "retried": 0}

    async def close(self) -> None:
        await self.http.aclose()

    # -- tokens --------------------------------------------------------------------------------

    def _msal_app(self):  # type: ignore[no-untyped-def]
        import msal

        if self._app is None:
            self._app = msal.ConfidentialClientApplication(
                self.settings.d365_client_id,
                client_credential=self.settings.d365_client_secret.get_secret_value(),  # type: ignore[union-attr]
                authority=authority(self.settings.authority_host, self.settings.d365_tenant_id or ""),
                **msal_options(self.settings.authority_host),
            )
        return self._app

    def _fetch_token(self, fresh: bool) -> tuple[str, float]:
        if fresh:
            self._app = None  # a new app has an empty in-memory cache: MSAL asks the token endpoint
        result = self._msal_app().acquire_token_for_client(scopes=[f"{self.org}/.default"])
        if "access_token" not in result:
            raise SignInError(f"Dataverse sign-in failed: {describe_msal_error(result)}", code=result.get("error"))
        return result["access_token"], time.time() + float(result.get("expires_in", 300))

    async def token(self, *, fresh: bool = False) -> str:
        if fresh or self._token is None or self._token[1] - 60 < time.time():
            self._token = await asyncio.to_thread(self._fetch_token, fresh)
        return self._token[0]

    # -- requests --------------------------------------------------------------------------------

    def _adapt_concurrency(self, response: httpx.Response) -> None:
        hint = response.headers.get("x-ms-dop-hint")
        if hint and hint.isdigit():
            wanted = max(1, min(int(hint), self.settings.d365_max_concurrency))
            if wanted != self.concurrency:
                # Grow or shrink the semaphore towards the hint (shrinking takes effect as slots free up).
                delta = wanted - self.concurrency
                self.concurrency = wanted
                if delta > 0:
                    for _ in range(delta):
                        self._slots.release()
                else:
                    asyncio.get_running_loop().create_task(self._shrink(-delta))

    async def _shrink(self, count: int) -> None:
        for _ in range(count):
            await self._slots.acquire()

    async def upsert_lead(self, entity_set: str, key: str, value: str, body: dict[str, Any]) -> UpsertResult:
        """Create or update the lead whose alternate key ``key`` is ``value``; return its leadid."""
        import httpx

        path = f"{entity_set}({key}='{value.replace(chr(39), chr(39) * 2)}')"
        refreshed = False
        transient = 0
        throttles = 0
        while True:
            headers = {
                "Authorization": f"Bearer {await self.token()}",
                "Accept": "application/json",
                "OData-MaxVersion": "4.0",
                "OData-Version": "4.0",
                "Prefer": "return=representation",
            }
            probe = False
            try:
                async with self._slots:
                    await self._request_budget()
                    probe = await self.gate.wait()  # after the slot: the gate may have closed meanwhile
                    self.stats["requests"] += 1
                    response = await self.http.patch(path, params={"$select": "leadid"}, json=body, headers=headers)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                if probe:
                    self.gate.answered(throttled=False)
                transient += 1
                if transient >= TRANSIENT_ATTEMPTS:
                    raise DataverseError(
                        0, None, f"{type(exc).__name__} talking to Dataverse", permanent=False
                    ) from None
                self.stats["retried"] += 1
                await asyncio.sleep(random.uniform(0, 0.5 * 2**transient))
                continue
            self._adapt_concurrency(response)
            status = response.status_code
            throttled = status == 429 or (status == 503 and "Retry-After" in response.headers)
            if probe and not throttled:
                self.gate.answered(throttled=False)
            if status in (200, 201):
                lead_id = response.json().get("leadid")
                if not lead_id:
                    raise DataverseError(status, None, "Dataverse answered without a leadid", permanent=False)
                return UpsertResult(lead_id, created=status == 201)
            code, message = _odata_error(response)
            if throttled:
                self.stats["throttled"] += 1
                throttles += 1
                pause = retry_after(response.headers, 5.0) + 0.05  # a margin for clock granularity on both sides
                until = self.gate.close_for(pause)  # this process pauses now, before any await
                await asyncio.to_thread(self.gate.share, until)
                if probe:
                    self.gate.answered(throttled=True)
                log.warning("dataverse throttled", extra={"status": status, "code": code, "retry_after": pause})
                if throttles > MAX_THROTTLES:
                    raise DataverseError(
                        status, code, message, permanent=False, hunter_code=IntegrationErrorCode.THROTTLED
                    )
                continue
            if status == 401 and not refreshed:
                refreshed = True
                await self.token(fresh=True)
                continue
            if status >= 500 or status in (408, 503):
                transient += 1
                if transient >= TRANSIENT_ATTEMPTS:
                    raise DataverseError(status, code, message, permanent=False)
                self.stats["retried"] += 1
                await asyncio.sleep(random.uniform(0, 0.5 * 2**transient))
                continue
            raise DataverseError(status, code, message, permanent=status in (400, 401, 403, 404, 405, 412))

    async def _request_budget(self) -> None:
        """Stay inside 6,000 requests per 5 minutes for this app registration, on every worker."""
        from shared.redis.limits import buckets_for

        buckets = buckets_for(self.settings)
        key = f"d365:requests:{self.settings.d365_client_id}"
        rate = REQUESTS_PER_WINDOW / WINDOW_SECONDS
        while (wait := await asyncio.to_thread(buckets.take, key, rate, REQUESTS_PER_WINDOW)) > 0:
            await asyncio.sleep(wait)

    def lead_url(self, lead_id: str) -> str:
        """A link that opens the lead in the Dynamics 365 web client."""
        return f"{self.org}/main.aspx?pagetype=entityrecord&etn=lead&id={lead_id}"
