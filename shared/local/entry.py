"""functions-framework target: one catch-all HTTP function that hands every request to the
same dispatcher Azure uses. Loaded by path by functions-framework (see ``shared.local.server``).

The server front calls :func:`early_answer` once a request's head has arrived and before it reads
the body, and :func:`body_limit_of` for how much of a body it may read."""

from __future__ import annotations

import flask

from shared.http.auth import failure_names, presented_key
from shared.http.dispatch import dispatch
from shared.http.limits import NO_BODY_LIMIT, body_limit, declared_length
from shared.http.routing import match
from shared.http.types import HttpRequest, HttpResponse, ProblemError
from shared.runtime import get_runtime
from shared.store.keys import key_id_of

ROUTE_PREFIX = "/api"
WEB_APP = ROUTE_PREFIX + "/ui/"


def http_entry(request: flask.Request) -> flask.Response:
    path = request.path
    if path == "/":  # the web app lives below the API prefix, as on Azure
        return flask.redirect(WEB_APP, code=302)
    if path != ROUTE_PREFIX and not path.startswith(ROUTE_PREFIX + "/"):
        response = ProblemError(404, "Not found", f"the API lives under {ROUTE_PREFIX}/").response(path)
    else:
        response = dispatch(
            HttpRequest(
                method=request.method,
                path=path[len(ROUTE_PREFIX) :] or "/",
                query=request.args.to_dict(flat=False),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=request.get_data(cache=False),
                client=request.remote_addr,
            ),
            get_runtime(),
        )
    return flask.Response(response.body, status=response.status, headers=response.headers)


def body_limit_of(method: str, path: str) -> int:
    """The most bytes of body the request ``method path`` (a full path, /api/...) may carry."""
    if not path.startswith(ROUTE_PREFIX + "/"):
        return NO_BODY_LIMIT
    route, _, _ = match(method, path[len(ROUTE_PREFIX) :])
    return body_limit(route)


def early_answer(method: str, path: str, headers: dict[str, str], client: str | None = None) -> HttpResponse | None:
    """dispatch's answer to a request whose body has not been read, when no body can change it; None
    when the body is needed. ``headers`` have lower-case names.

    Answered now: a declared ``Content-Length`` over the route's cap (413, :mod:`shared.http.limits`),
    a path outside /api but ``/`` (404), and on routes that need a key: no key or a malformed one (401),
    a caller blocked for wrong keys (429), a wrong key (401) and a key without the needed scope (403).
    Each goes through :func:`dispatch` with an empty body, so the answer, the metrics and the log line
    are the ones a complete request gets, and nothing is counted twice: authorize refuses these before
    the rate limiter, and a wrong key's failure is counted by dispatch alone (a wrong secret for an
    existing key id costs a second Argon2 check there, until the failure limit blocks the caller).
    A valid key is verified here once and remembered, so dispatch finds it in the process's cache."""
    if path == "/":
        return None  # http_entry's redirect (a body there is capped at NO_BODY_LIMIT)
    if path != ROUTE_PREFIX and not path.startswith(ROUTE_PREFIX + "/"):
        return ProblemError(404, "Not found", f"the API lives under {ROUTE_PREFIX}/").response(path)
    request = HttpRequest(method=method, path=path[len(ROUTE_PREFIX) :] or "/", headers=headers, client=client)
    runtime = get_runtime()
    route, _, _ = match(method, request.path)
    declared = declared_length(headers)
    if declared is not None and declared > body_limit(route):
        return dispatch(request, runtime)
    if route is None or route.scope is None or method.upper() == "OPTIONS":
        return None
    presented = presented_key(request)
    if not presented or key_id_of(presented) is None:
        return dispatch(request, runtime)  # 401 (or 429 once blocked): no key lookup can succeed
    key = runtime.keys.cached(presented)
    if key is None:
        if runtime.auth_failures.blocked(failure_names(request, presented)) > 0:
            return dispatch(request, runtime)  # 429, without Argon2
        key = runtime.keys.verify(presented)  # remembered when valid: dispatch finds it in the cache
        if key is None:
            return dispatch(request, runtime)  # 401 (or 429), the failure counted once, by dispatch
    return None if key.allows(route.scope) else dispatch(request, runtime)  # 403
