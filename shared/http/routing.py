"""Match a request's method and path against the registry's routes (Azure's route syntax)."""

from __future__ import annotations

import re

from shared.triggers.registry import ROUTES, Route

_PARAM = re.compile(r"\{(\w+)\}")
_CATCH_ALL = re.compile(r"/\{\*(\w+)\}$")  # Azure's "{*path}": the rest of the path, possibly empty


def _compile(path: str) -> re.Pattern[str]:
    pattern = re.escape(path).replace(r"\{", "{").replace(r"\}", "}").replace(r"\*", "*")
    pattern = _CATCH_ALL.sub(r"(?:/(?P<\1>.*))?", pattern)
    return re.compile("^" + _PARAM.sub(r"(?P<\1>[^/]+)", pattern) + "$")


_COMPILED = [(route, _compile(route.path)) for route in ROUTES]


def match(method: str, path: str) -> tuple[Route | None, dict[str, str], list[str]]:
    """(route, params, allowed methods). A literal segment beats a parameter, as on Azure."""
    allowed: list[str] = []
    candidates = []
    for route, pattern in _COMPILED:
        found = pattern.match(path)
        if found:
            allowed.append(route.method)
            if route.method == method.upper():
                candidates.append((route.path.count("{"), route, found.groupdict()))
    if not candidates:
        return None, {}, allowed
    _, route, params = min(candidates, key=lambda c: c[0])
    return route, params, allowed
