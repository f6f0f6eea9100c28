"""Who may call: the presented API key, its scope and its rate limit (401, 403 and 429 problems).

Keys themselves (Argon2 hashes, revocation) are stored by :mod:`shared.store.keys`; this module
only reads a request and asks the store and the limiter.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from shared.http.types import HttpRequest, ProblemError
from shared.store.keys import key_id_of

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


def client_address(request: HttpRequest) -> str:
    """Who is calling, for throttling: the host's peer address, else the last ``X-Forwarded-For`` hop
    (the one Azure's front end appends; earlier hops are whatever the client sent)."""
    if request.client:
        return request.client
    forwarded = (request.header("x-forwarded-for") or "").split(",")[-1].strip()
    if forwarded.startswith("["):  # [v6]:port
        return forwarded[1:].split("]")[0]
    return forwarded.rsplit(":", 1)[0] if forwarded.count(":") == 1 else forwarded or "unknown"


def failure_names(request: HttpRequest, presented: str) -> list[str]:
    """The buckets a failed authentication counts against: the client address and the key id it named."""
    names = [f"ip:{client_address(request)}"]
    key_id = key_id_of(presented)
    if key_id is not None:
        names.append(f"key:{key_id}")
    return names


def _too_many_failures(wait: float) -> ProblemError:
    return ProblemError(
        429,
        "Too many failed authentications",
        "too many wrong API keys from this address or for this key id; try again later",
        headers={"Retry-After": str(max(1, math.ceil(wait)))},
    )


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
    key = runtime.keys.cached(presented)  # a valid key this process already checked: no limiter, no Argon2
    if key is None:
        names = failure_names(request, presented)
        wait = runtime.auth_failures.blocked(names)
        if wait > 0:
            raise _too_many_failures(wait)
        key = runtime.keys.verify(presented)
        if key is None:
            wait = runtime.auth_failures.failed(names)
            if wait > 0:
                raise _too_many_failures(wait)
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
