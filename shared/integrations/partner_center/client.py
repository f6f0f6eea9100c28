"""Partner Center Referrals API client (``GET {base}/v1.0/engagements/referrals``), async on httpx.

* Paging: the service answers at most 100 referrals a page and links the next page
  (``@odata.nextLink``; the SDK-style ``links.next`` with its continuation header is understood
  too). Every page is followed; a next link to another host is refused, so the bearer token
  never leaves Partner Center.
* 429 and 5xx: retried after the ``Retry-After`` the service sends (seconds or an HTTP date),
  else with exponential backoff and jitter, a bounded number of times. A pause longer than
  ``MAX_RETRY_AFTER`` ends the run instead: the next scheduled run carries on.
* 401: the access token is bought again once (a silent MSAL refresh); a second 401, or a refresh
  the identity platform refuses, is ``needs_login`` (:class:`SignInError`), not a retry loop.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from shared.core.referrals import format_timestamp
from shared.integrations.errors import IntegrationError, IntegrationErrorCode, code_for_status
from shared.integrations.http import retry_after
from shared.integrations.identity import SignInError, ssl_context

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("hunter.partner_center")
PATH = "/v1.0/engagements/referrals"
TRANSIENT_ATTEMPTS = 4  # tries of one page through 5xx and network errors (then the next run retries)
MAX_THROTTLES = 10  # 429s honoured for one page
MAX_RETRY_AFTER = 120.0  # seconds; a longer pause ends the run (the next one resumes from the watermark)
DEFAULT_RETRY_AFTER = 5.0
TokenProvider = Callable[[bool], Awaitable[str]]  # force_refresh -> bearer token


class PartnerCenterError(IntegrationError):
    """The Referrals API refused or kept failing a request. ``status`` is the HTTP status (0: no
    answer); the ``code`` argument is the service's error code, kept as :attr:`service_code`, while
    :attr:`code` is Hunter's reason, from the status. ``permanent`` for a 4xx no retry can fix."""

    def __init__(
        self, status: int, code: str | None, message: str, *, hunter_code: IntegrationErrorCode | None = None
    ) -> None:
        super().__init__(
            f"{status} {code or ''} {message}".strip(),
            code=hunter_code or code_for_status(status),
            permanent=400 <= status < 500 and status not in (408, 429),
            service_code=code,
            detail=message,
        )
        self.status = status
        self.message = message

    def describe(self) -> str:
        where = f"HTTP {self.status}" if self.status else "network"
        return f"Partner Center {where}{' ' + self.service_code if self.service_code else ''}: {self.message}"


@dataclass
class ClientStats:
    requests: int = 0
    pages: int = 0
    throttled: int = 0
    retried: int = 0
    refreshed: int = 0
    waited: float = 0.0
    errors: list[str] = field(default_factory=list)


def _error(response: httpx.Response) -> tuple[str | None, str]:
    try:
        error = response.json().get("error") or {}
        if isinstance(error, dict):
            return error.get("code"), str(error.get("message") or response.reason_phrase)
        return str(error), response.reason_phrase
    except (ValueError, AttributeError):
        return None, response.reason_phrase or f"HTTP {response.status_code}"


def _backoff(attempt: int) -> float:
    """Full jitter, 0.5 s doubling per attempt (0.5, 1, 2 s): a blip is ridden out, an outage
    ends the run within seconds and the next scheduled run tries again."""
    return random.uniform(0, min(30.0, 0.5 * 2 ** (attempt - 1)))


class ReferralsClient:
    """Reads referral pages with a delegated token from ``token_provider``."""

    def __init__(
        self,
        base_url: str,
        token_provider: TokenProvider,
        *,
        timeout: float = 60.0,
        http: httpx.AsyncClient | None = None,
        max_retry_after: float = MAX_RETRY_AFTER,
    ) -> None:
        import httpx

        self.base = base_url.rstrip("/")
        self.origin = urlsplit(self.base)[:2]
        self.token_provider = token_provider
        self.max_retry_after = max_retry_after
        self.http = http or httpx.AsyncClient(verify=ssl_context(), timeout=timeout, trust_env=False)
        self.stats = ClientStats()
        self._token: str | None = None

    async def close(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> ReferralsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def pages(self, since: datetime | None = None) -> AsyncIterator[list[dict[str, Any]]]:
        """Every page of referrals updated at or after ``since`` (all of them without), oldest first."""
        url: str | None = self.base + PATH
        params: dict[str, str] | None = {"$orderby": "updatedDateTime asc"}
        if since is not None:
            params["$filter"] = f"updatedDateTime ge {format_timestamp(since)}"
        headers: dict[str, str] = {}
        while url:
            body = await self._get(url, params, headers)
            values = body.get("value")
            if not isinstance(values, list):
                raise PartnerCenterError(200, "unexpectedBody", "the referral list has no value array")
            self.stats.pages += 1
            yield [item for item in values if isinstance(item, dict)]
            url, headers = self._next(body)
            params = None

    def _next(self, body: dict[str, Any]) -> tuple[str | None, dict[str, str]]:
        link = body.get("@odata.nextLink")
        headers: dict[str, str] = {}
        if not link:
            nxt = (body.get("links") or {}).get("next") if isinstance(body.get("links"), dict) else None
            if isinstance(nxt, dict) and nxt.get("uri"):
                link = nxt["uri"]
                for header in nxt.get("headers") or []:  # [{"key": "MS-ContinuationToken", "value": "..."}]
                    if isinstance(header, dict) and header.get("key"):
                        headers[str(header["key"])] = str(header.get("value", ""))
        if not link:
            return None, {}
        link = urljoin(self.base + PATH, str(link))
        if urlsplit(link)[:2] != self.origin:
            raise PartnerCenterError(200, "unexpectedNextLink", f"the next page link points off {self.base}")
        return link, headers

    async def _bearer(self, force: bool = False) -> str:
        if force or self._token is None:
            self._token = await self.token_provider(force)
        return self._token

    async def _get(self, url: str, params: dict[str, str] | None, extra: dict[str, str]) -> dict[str, Any]:
        import httpx

        refreshed = False
        transient = 0
        throttles = 0
        while True:
            headers = {"Authorization": f"Bearer {await self._bearer()}", "Accept": "application/json", **extra}
            self.stats.requests += 1
            try:
                response = await self.http.get(url, params=params, headers=headers)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                transient += 1
                if transient >= TRANSIENT_ATTEMPTS:
                    raise PartnerCenterError(0, None, f"{type(exc).__name__} talking to Partner Center") from None
                self.stats.retried += 1
                await self._sleep(_backoff(transient))
                continue
            status = response.status_code
            if status == 200:
                try:
                    body = response.json()
                except ValueError:
                    raise PartnerCenterError(status, "unexpectedBody", "the answer is not JSON") from None
                if not isinstance(body, dict):
                    raise PartnerCenterError(status, "unexpectedBody", "the answer is not a JSON object")
                return body
            code, message = _error(response)
            if status == 401:
                if refreshed:
                    raise SignInError(
                        f"Partner Center refused a freshly refreshed token ({code or 'unauthenticated'}: {message}); "
                        "run `hunter pc login`",
                        needs_login=True,
                        code=code,
                    )
                refreshed = True
                self.stats.refreshed += 1
                log.info("partner center token refused; refreshing once")
                await self._bearer(force=True)
                continue
            if status == 429:
                self.stats.throttled += 1
                throttles += 1
                pause = retry_after(response.headers, DEFAULT_RETRY_AFTER, cap=self.max_retry_after + 1)
                if throttles > MAX_THROTTLES or pause > self.max_retry_after:
                    raise PartnerCenterError(status, code, f"{message} (Retry-After {pause:.0f} s)")
                log.warning("partner center throttled", extra={"retry_after": pause})
                await self._sleep(pause + 0.05)  # a margin for clock granularity on both sides
                continue
            if status >= 500 or status == 408:
                transient += 1
                if transient >= TRANSIENT_ATTEMPTS:
                    raise PartnerCenterError(status, code, message)
                self.stats.retried += 1
                pause = retry_after(response.headers, _backoff(transient), cap=self.max_retry_after + 1)
                if pause > self.max_retry_after:
                    raise PartnerCenterError(status, code, f"{message} (Retry-After {pause:.0f} s)")
                await self._sleep(pause)
                continue
            raise PartnerCenterError(status, code, message)

    async def _sleep(self, seconds: float) -> None:
        started = time.monotonic()
        await asyncio.sleep(seconds)
        self.stats.waited += time.monotonic() - started
