"""The sales team's web app: ``GET /v1/me`` (what the presented key may do) and the static files.

The static files (``shared/web``) hold no data, so they need no key; every byte of data comes from
the ``/api/v1`` routes, called by the page with the key the user typed in (``X-API-Key``).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from shared.api.models import NoQuery
from shared.http.types import HttpRequest, HttpResponse, ProblemError
from shared.runtime import Runtime

WEB_ROOT = Path(__file__).resolve().parents[1] / "web"
INDEX = "index.html"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class MeOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="the API key's name")
    scopes: list[str] = Field(description="what the key may do: read, scan, admin (admin includes scan and read)")


def me(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    """The presented key's name and expanded scopes, so a client can hide what the key cannot do."""
    NoQuery.model_validate(request.query_params())
    key = request.api_key
    if key is None:  # only a caller bypassing dispatch gets here
        raise ProblemError(401, "API key required", "send the key in the X-API-Key header")
    order = {"read": 0, "scan": 1, "admin": 2}
    scopes = sorted(key.scopes, key=lambda s: (order.get(s, 9), s))
    return HttpResponse.json(MeOut(name=key.name, scopes=scopes).model_dump())


@lru_cache(maxsize=128)
def _read(path: Path, mtime_ns: int) -> tuple[bytes, str]:
    """(content, ETag), cached per file version: an edited file is served afresh without a restart."""
    content = path.read_bytes()
    return content, '"' + hashlib.sha256(content).hexdigest()[:32] + '"'


def _load(relative: str) -> tuple[bytes, str] | None:
    """(content, ETag) of a file under the web root, or None. Only known file types, never outside the root."""
    if not relative or "\\" in relative or "\x00" in relative:
        return None
    parts = relative.split("/")
    if any(part in ("", ".", "..") or part.startswith(".") for part in parts):
        return None
    path = (WEB_ROOT / relative).resolve()
    if not path.is_relative_to(WEB_ROOT) or path.suffix not in CONTENT_TYPES or not path.is_file():
        return None
    return _read(path, path.stat().st_mtime_ns)


def serve(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    """``/api/ui/`` is the app (index.html); ``/api/ui/<file>`` its assets. Unknown or unsafe paths are 404."""
    relative = (request.route_params.get("path") or "").strip()
    if relative == "":
        if not request.path.endswith("/"):  # /api/ui: the page's relative links want the slash
            return HttpResponse(308, b"", {"Location": "/api/ui/", **SECURITY_HEADERS})
        relative = INDEX
    found = _load(relative)
    if found is None:
        raise ProblemError(404, "Not found", "no such file in the web app; open /api/ui/", headers=SECURITY_HEADERS)
    content, etag = found
    headers = {
        "Content-Type": CONTENT_TYPES[Path(relative).suffix],
        # No build step, no hashed names: the browser revalidates every file (a 304 costs nothing).
        "Cache-Control": "no-cache",
        "ETag": etag,
        **SECURITY_HEADERS,
    }
    if etag in (request.header("if-none-match") or ""):
        return HttpResponse(304, b"", headers)
    return HttpResponse(200, content, headers)
