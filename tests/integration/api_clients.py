"""Two ways to call the API with one interface: the Azure functions in-process with real
``azure.functions.HttpRequest`` objects, and the local runner over real HTTP."""

from __future__ import annotations

import json as jsonlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

import azure.functions as func
import httpx


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return jsonlib.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@lru_cache(maxsize=1)
def indexed_functions() -> tuple:
    """``function_app.app.get_functions()`` once: the library refuses a second indexing pass."""
    import function_app

    return tuple(function_app.app.get_functions())


class AzureClient:
    """Finds the Azure function for the path the way the host would, and calls it."""

    name = "azure"

    def __init__(self) -> None:
        from shared.http.routing import match

        self._match = match
        self.functions = {f.get_function_name(): f.get_user_function() for f in indexed_functions()}

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        json: Any = None,
        body: bytes | None = None,
    ) -> Reply:
        route, params_in_path, _ = self._match(method, path.removeprefix("/api"))
        if route is None:  # the Azure host answers unknown routes itself; mirror our dispatcher's answer
            from shared.http.dispatch import dispatch
            from shared.http.types import HttpRequest
            from shared.runtime import get_runtime

            r = dispatch(
                HttpRequest(
                    method, path.removeprefix("/api"), headers={k.lower(): v for k, v in (headers or {}).items()}
                ),
                get_runtime(),
            )
            return Reply(r.status, {k.lower(): v for k, v in r.headers.items()}, r.body_bytes())
        query = urlencode(params or {}, doseq=True)
        if json is not None:
            body = jsonlib.dumps(json).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        req = func.HttpRequest(
            method=method,
            url=f"http://localhost{path}" + (f"?{query}" if query else ""),
            headers=headers or {},
            params={},
            route_params=params_in_path,
            body=body or b"",
        )
        resp = self.functions[route.name](req)
        return Reply(resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, resp.get_body())


class LocalClient:
    name = "local"

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        json: Any = None,
        body: bytes | None = None,
    ) -> Reply:
        resp = self.http.request(method, path, headers=headers, params=params, json=json, content=body)
        return Reply(resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, resp.content)
