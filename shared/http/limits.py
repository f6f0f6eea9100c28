"""How big a request body may be, per route: the one table both hosts enforce (413 problems).

* routes that take a file (``Route.uploads``: CSV, TXT, XLSX, multipart): 20 MB, the bulk scan's
  upload limit;
* every other route that reads a body (``Route.body_model``: a JSON document): 1 MB, far more
  than any documented request needs;
* routes that read no body (every GET, and POSTs such as ``/rescan``) and paths no route matches:
  64 KB, so a body nobody reads cannot make a server process take in megabytes.

:func:`shared.http.dispatch.dispatch` checks the body it was given (and a larger declared
``Content-Length``) on every host; the local runner (``shared.local.server``) also checks
``Content-Length`` before it reads a byte of the body and stops reading a chunked body at the cap
plus one byte, so an oversized request never costs more than the cap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from shared.http.types import ProblemError

if TYPE_CHECKING:
    from shared.http.types import HttpRequest
    from shared.triggers.registry import Route

MB = 1024 * 1024
UPLOAD_BODY_LIMIT = 20 * MB  # CSV/TXT/XLSX/multipart uploads (Route.uploads)
JSON_BODY_LIMIT = 1 * MB  # a JSON document (Route.body_model)
NO_BODY_LIMIT = 64 * 1024  # routes that take no body, and paths no route matches


def body_limit(route: Route | None) -> int:
    """The largest body (bytes) ``route`` accepts; ``route`` None: a path or method no route matches."""
    if route is None:
        return NO_BODY_LIMIT
    if route.uploads:
        return UPLOAD_BODY_LIMIT
    if route.body_model:
        return JSON_BODY_LIMIT
    return NO_BODY_LIMIT


def body_limit_for(method: str, path: str) -> int:
    """:func:`body_limit` of the route ``method path`` (below the /api prefix) would match."""
    from shared.http.routing import match

    route, _, _ = match(method, path)
    return body_limit(route)


def declared_length(headers: Mapping[str, str]) -> int | None:
    """The ``Content-Length`` a request announces (lower-case header names); None when absent or invalid."""
    value = headers.get("content-length")
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() else None


def _size(limit: int) -> str:
    return f"{limit // MB} MB" if limit >= MB else f"{limit // 1024} KB"


def too_large(limit: int) -> ProblemError:
    return ProblemError(413, "Payload too large", f"this operation takes a body of at most {_size(limit)}")


def enforce_body_limit(route: Route | None, request: HttpRequest) -> None:
    """Raise the 413 problem when the body, or the length the request declares, is over the route's cap."""
    limit = body_limit(route)
    size = len(request.body)
    if size <= limit:
        declared = declared_length(request.headers)
        size = declared if declared is not None else size
    if size > limit:
        raise too_large(limit)
