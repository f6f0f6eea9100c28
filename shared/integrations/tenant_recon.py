"""Microsoft 365 tenant recon: what Microsoft's public sign-in endpoints say about a company's domain.

Two unauthenticated GETs per domain, side by side (behind ``HUNTER_TENANT_RECON_ENABLED``, only for
leads where Microsoft 365 is possible):

* ``{base}/{domain}/v2.0/.well-known/openid-configuration`` — the OpenID discovery document of the
  tenant the domain is verified in: the tenant id (the GUID in ``issuer`` / ``token_endpoint``),
  ``tenant_region_scope`` (EU, NA, AS, …), ``tenant_region_sub_scope`` (GCC, DOD, DODCON, only for
  government clouds) and ``cloud_instance_name``. A domain no tenant has verified answers 400
  ``invalid_tenant`` with ``AADSTS90002`` (``error_codes: [90002]``).
* ``{base}/getuserrealm.srf?login=user@{domain}&json=1`` — the user realm: ``NameSpaceType``
  ``Managed`` (cloud sign-in), ``Federated`` (sign-in at ``AuthURL``, usually on-premises AD FS) or
  ``Unknown``, and ``FederationBrandName`` (the tenant's display name).

Answers are cached per domain (Redis when configured, in process otherwise; ``tenant_not_found``
too, it is an answer), recons are rate limited across workers, and the whole recon of one domain
has one time budget. Nothing here raises: a failure is an ``error`` code on the result.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from shared.core.models import TenantRecon
from shared.redis.cache import AsyncCacheBatcher, Cache

if TYPE_CHECKING:
    import httpx

    from shared.redis.limits import AsyncLimiter

_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
# Errors that say something about this moment, not about the domain: never cached.
TRANSIENT_ERRORS = ("timeout", "unreachable", "rate_limited", "bad_response", "http_")
MAX_BODY = 64 * 1024  # a discovery document is ~2 KB; anything far larger is not one
# The longest a recon waits for its turn under the rate limit: a bulk scan goes on without the recon
# (``rate_limited``, asked again next scan) rather than slowing every worker to the recon rate.
MAX_TURN_WAIT = 1.0


def tenant_id_from(document: dict[str, Any]) -> str | None:
    """The tenant GUID of a discovery document (``issuer``, else ``token_endpoint``)."""
    for key in ("issuer", "token_endpoint", "authorization_endpoint"):
        value = document.get(key)
        if isinstance(value, str):
            found = _GUID.search(value)
            if found:
                return found.group(0).lower()
    return None


def federation_idp(auth_url: str | None) -> str | None:
    """The identity provider a federated realm's ``AuthURL`` points at, when it is recognisable."""
    if not auth_url:
        return None
    parts = urlsplit(auth_url)
    host, path = (parts.hostname or "").lower(), parts.path.lower()
    if "/adfs/" in path or path.endswith("/adfs"):
        return "AD FS"
    if host.endswith((".okta.com", ".oktapreview.com", ".okta-emea.com")):
        return "Okta"
    if host.endswith((".pingone.com", ".pingone.eu", ".pingidentity.com")) or "/idp/" in path:
        return "PingFederate"
    if host.endswith(".onelogin.com"):
        return "OneLogin"
    return None


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def parse_discovery(status: int, body: Any) -> dict[str, Any]:
    """Fields of :class:`TenantRecon` from the discovery endpoint's answer (``error`` on failure)."""
    if status == 400 and isinstance(body, dict):
        codes = body.get("error_codes") or []
        if 90002 in codes or "AADSTS90002" in str(body.get("error_description", "")):
            return {"error": "tenant_not_found"}
    if status != 200:
        return {"error": f"http_{status}"}
    if not isinstance(body, dict):
        return {"error": "bad_response"}
    tenant_id = tenant_id_from(body)
    if tenant_id is None:
        return {"error": "bad_response"}
    return {
        "tenant_id": tenant_id,
        "region_scope": _text(body.get("tenant_region_scope")),
        "region_sub_scope": _text(body.get("tenant_region_sub_scope")),
        "cloud_instance": _text(body.get("cloud_instance_name")),
    }


def parse_realm(status: int, body: Any) -> dict[str, Any]:
    """Fields of :class:`TenantRecon` from ``getuserrealm.srf`` (``error`` on failure)."""
    if status != 200:
        return {"error": f"http_{status}"}
    if not isinstance(body, dict) or not isinstance(body.get("NameSpaceType"), str):
        return {"error": "bad_response"}
    kind = body["NameSpaceType"].strip().capitalize()
    fields: dict[str, Any] = {"namespace_type": kind if kind in ("Managed", "Federated") else "Unknown"}
    if kind in ("Managed", "Federated"):
        fields["federation_brand"] = _text(body.get("FederationBrandName"))
    if kind == "Federated":
        auth_url = _text(body.get("AuthURL"))
        fields["auth_url_host"] = (urlsplit(auth_url).hostname or None) if auth_url else None
        fields["federation_idp"] = federation_idp(auth_url)
    return fields


def _is_transient(error: str | None) -> bool:
    return error is not None and error.startswith(TRANSIENT_ERRORS)


class TenantReconClient:
    """Recon of one domain at a time, cached and rate limited; create inside the loop that uses it."""

    def __init__(
        self,
        *,
        base_url: str,
        timeout: float,
        cache: Cache | None = None,
        cache_ttl: float = 0,
        limiter: AsyncLimiter | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.base = base_url.rstrip("/")
        self.timeout = timeout
        self.cache_ttl = cache_ttl
        self.limiter = limiter
        self._cache = AsyncCacheBatcher(cache) if cache is not None and cache_ttl > 0 else None
        self._http = http
        self.stats = {"recons": 0, "cache_hits": 0, "requests": 0, "rate_limited": 0, "errors": 0}

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx

            from shared.integrations.identity import ssl_context

            self._http = httpx.AsyncClient(
                verify=ssl_context(),
                timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 3.0)),
                trust_env=False,
                follow_redirects=False,
                headers={"Accept": "application/json", "User-Agent": "Hunter tenant recon"},
                limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
            )
        return self._http

    async def recon(self, domain: str) -> TenantRecon:
        """What the two endpoints say about ``domain``; never raises."""
        domain = domain.lower().rstrip(".")
        key = f"{self.base}|{domain}"
        if self._cache is not None:
            cached = await self._cache.get(key)
            if cached is not None:
                try:
                    found = TenantRecon.model_validate(cached)
                except ValueError:
                    pass
                else:
                    self.stats["cache_hits"] += 1
                    return found
        if self.limiter is not None and not await self.limiter.acquire(max_wait=min(self.timeout, MAX_TURN_WAIT)):
            self.stats["rate_limited"] += 1
            return TenantRecon(error="rate_limited")
        self.stats["recons"] += 1
        try:
            async with asyncio.timeout(self.timeout):
                discovery, realm = await asyncio.gather(self._discovery(domain), self._realm(domain))
        except TimeoutError:
            discovery, realm = {"error": "timeout"}, {}
        errors = [e for e in (discovery.pop("error", None), realm.pop("error", None)) if e]
        result = TenantRecon(**discovery, **realm, error=errors[0] if errors else None)
        if errors:
            self.stats["errors"] += 1
        if self._cache is not None and not any(_is_transient(e) for e in errors):
            self._cache.set(key, result.model_dump(mode="json"), self.cache_ttl)
        return result

    async def _get(self, url: str, params: dict[str, str] | None = None) -> tuple[int, Any] | str:
        """(status, parsed JSON or None) or an error code."""
        import httpx

        self.stats["requests"] += 1
        try:
            response = await self._client().get(url, params=params)
        except httpx.TimeoutException:
            return "timeout"
        except (httpx.HTTPError, OSError):
            return "unreachable"
        if len(response.content) > MAX_BODY:
            return "bad_response"
        try:
            body = response.json()
        except ValueError:
            body = None
        return response.status_code, body

    async def _discovery(self, domain: str) -> dict[str, Any]:
        answer = await self._get(f"{self.base}/{domain}/v2.0/.well-known/openid-configuration")
        return {"error": answer} if isinstance(answer, str) else parse_discovery(*answer)

    async def _realm(self, domain: str) -> dict[str, Any]:
        answer = await self._get(f"{self.base}/getuserrealm.srf", {"login": f"user@{domain}", "json": "1"})
        return {"error": answer} if isinstance(answer, str) else parse_realm(*answer)

    async def close(self) -> None:
        if self._cache is not None:
            await self._cache.close()
        if self.limiter is not None:
            await self.limiter.close()
        if self._http is not None:
            await self._http.aclose()
            self._http = None


def m365_possible(provider: str | None, evidence: list[str], tenant_domain: str | None) -> bool:
    """Whether a recon is worth two requests: the mailbox is Microsoft 365, or its traces are there."""
    return provider == "M365" or bool(evidence) or tenant_domain is not None
