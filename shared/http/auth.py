"""Who may call: the presented API key, its scope and its rate limit (401, 403 and 429 problems).

Keys themselves (Argon2 hashes, revocation) are stored by :mod:`shared.store.keys`; this module
only reads a request and asks the store and the limiter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.http.types import HttpRequest, ProblemError

if TYPE_CHECKING:
    from shared.runtime import Runtime
    from shared.store.keys import ApiKey
    from shared.triggers.registry import Route


def presented_key(request: HttpRequest) -> str | None:
    """The key in ``X-API-Key`` or an ``Authorization: Bearer`` header."""
    key = request.header("x-api-key")
    if key:
        return key.strip()
    header = request.header("authorization") or ""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authorize(route: Route, request: HttpRequest, runtime: Runtime) -> ApiKey | None:
    """Raise 401/403/429 problems; return the authenticated key (None on public routes)."""
    if route.scope is None:
        return None
    presented = presented_key(request)
    if not presented:
        raise ProblemError(
            401,
            "API key required",
            "send the key in the X-API-Key header or as a Bearer token",
            headers={"WWW-Authenticate": 'Bearer realm="hunter"'},
        )
    key = runtime.keys.authenticate(presented)
    if key is None:
        raise ProblemError(
            401,
            "Invalid API key",
            "the key is unknown or revoked",
            headers={"WWW-Authenticate": 'Bearer realm="hunter", error="invalid_token"'},
        )
    if not key.allows(route.scope):
        raise ProblemError(403, "Insufficient scope", f"this operation needs a key with the {route.scope!r} scope")
    wait = runtime.limiter.take(key)
    if wait > 0:
        retry = max(1, int(wait + 0.999))
        raise ProblemError(
            429,
            "Too many requests",
            f"the limit for this key is {key.rate_limit_per_minute} per minute",
            headers={"Retry-After": str(retry)},
        )
    return key
