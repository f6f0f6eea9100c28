"""The API as OpenAPI 3.1, generated from the trigger registry and the pydantic models, so it
cannot drift from the code (served at ``GET /api/v1/openapi.json``; :mod:`shared.api.swagger`
derives the 2.0 document of the Power Automate connector from it).
"""

from __future__ import annotations

import copy
import json
import re
from functools import lru_cache
from typing import Any

from shared import __version__
from shared.http.types import JSON, PROBLEM_JSON, HttpRequest, HttpResponse
from shared.triggers.registry import ROUTES, WEB_APP_TAG, Route, resolve_ref

TITLE = "Hunter API"
DESCRIPTION = (
    "Lead intelligence from public DNS: mail provider, security posture, lead score, priority and sales summary. "
    "Every operation except the health probes needs an API key, sent in the X-API-Key header or as "
    "'Authorization: Bearer <key>'. Errors are RFC 7807 problem documents (application/problem+json)."
)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = "application/pdf"
SCOPE_NOTE = {
    "read": "Needs an API key with the `read` scope (a `scan` or `admin` key also works).",
    "scan": "Needs an API key with the `scan` scope (an `admin` key also works).",
    "admin": "Needs an API key with the `admin` scope.",
}
PATH_PARAMS = {
    "domain": ("Domain", "A domain name such as acme.com.tr (IDN in Unicode or punycode)."),
    "job_id": ("Job id", "The id a bulk scan was given when it was submitted."),
    "name": ("Queue", "A queue name such as scan-requests."),
}
# The web app's static files are pages, not an API: left out of both documents (and so of the fuzzing).
UNDOCUMENTED_TAGS = frozenset({WEB_APP_TAG})
DOCUMENTED_ROUTES: tuple[Route, ...] = tuple(route for route in ROUTES if route.tag not in UNDOCUMENTED_TAGS)

_PARAM = re.compile(r"\{(\w+)\}")
SCHEMA_REF = "#/components/schemas/"
RESPONSE_REF = "#/components/responses/"

# ---------------------------------------------------------------------------------------------------------------
# OpenAPI 3.1


def _problem_schema() -> dict[str, Any]:
    return {
        "title": "Problem",
        "description": "An RFC 7807 problem document; every error is answered with one, never a stack trace.",
        "type": "object",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string", "description": "always about:blank", "default": "about:blank"},
            "title": {"type": "string", "description": "short, stable summary of the problem"},
            "status": {"type": "integer", "description": "the HTTP status code", "minimum": 400, "maximum": 599},
            "detail": {"type": "string", "description": "what went wrong in this request"},
            "instance": {"type": "string", "description": "the request path"},
            "errors": {
                "type": "array",
                "description": "one entry per invalid field (422)",
                "items": {
                    "type": "object",
                    "required": ["field", "message"],
                    "properties": {
                        "field": {"type": "string", "description": "dotted location such as limit or body"},
                        "message": {"type": "string", "description": "what is wrong, in English"},
                        "code": {
                            "type": "string",
                            "description": "a stable reason code (e.g. ip_address, public_suffix) a client can "
                            "translate; present for domain input errors",
                        },
                        "params": {
                            "type": "object",
                            "description": "the values the reason's text names (e.g. tld, suffix)",
                            "additionalProperties": {"type": "string"},
                        },
                    },
                },
            },
        },
    }


def _error_responses() -> dict[str, dict[str, Any]]:
    def problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
        response: dict[str, Any] = {
            "description": description,
            "content": {PROBLEM_JSON: {"schema": {"$ref": SCHEMA_REF + "Problem"}}},
        }
        if headers:
            response["headers"] = headers
        return response

    return {
        "BadRequest": problem("The body is missing or not valid JSON."),
        "Unauthorized": problem(
            "The API key is missing, unknown or revoked.",
            {"WWW-Authenticate": {"description": "Bearer challenge", "schema": {"type": "string"}}},
        ),
        "Forbidden": problem("The API key lacks the scope this operation needs."),
        "NotFound": problem("Not found: a lead not scanned yet, or an unknown job, queue or referral."),
        "ValidationFailed": problem("A parameter or body field is invalid; see `errors`."),
        "TooManyRequests": problem(
            "The per-key rate limit is exhausted.",
            {
                "Retry-After": {
                    "description": "seconds to wait before retrying",
                    "schema": {"type": "integer", "minimum": 1},
                }
            },
        ),
        "InternalError": problem("An unexpected error; the detail carries the id it was logged with."),
    }


def _models() -> list[tuple[type, str]]:
    """(model, JSON Schema mode) of every model the routes name: inputs validate, outputs serialize."""
    seen: dict[tuple[type, str], None] = {}
    for route in DOCUMENTED_ROUTES:
        for ref, mode in (
            (route.query_model, "validation"),
            (route.body_model, "validation"),
            (route.response_model, "serialization"),
        ):
            if ref:
                seen[(resolve_ref(ref), mode)] = None
    return list(seen)


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``X | None`` as a query parameter is just an optional X: a query string cannot carry null."""
    variants = schema.get("anyOf")
    if not variants:
        return schema
    rest = [v for v in variants if v != {"type": "null"}]
    if len(rest) != 1:
        return schema
    merged = {k: v for k, v in schema.items() if k != "anyOf"}
    merged.update(rest[0])
    if merged.get("default", 0) is None:
        del merged["default"]
    return merged


def _query_hints(model: type) -> dict[str, dict[str, Any]]:
    """What a field's type cannot say but its validator enforces (taken from the same constants)."""
    from shared.core.sales.data import CATEGORIES
    from shared.store.queries import DEFAULT_SORT, SORT_KEYS, LeadFilter

    if not (isinstance(model, type) and issubclass(model, LeadFilter)):
        return {}
    keys = sorted(SORT_KEYS)
    lists = "Repeat the parameter or separate values with commas."
    return {
        "sort": {
            "enum": [value for key in keys for value in (key, f"-{key}")],
            "description": (
                f"Sort key, one of the whitelist {', '.join(keys)}; prefix - to sort descending. "
                f"Ties break on the domain. Default {DEFAULT_SORT}."
            ),
        },
        "priority": {
            "items": {"type": "string", "enum": list(CATEGORIES)},
            "description": f"Priority categories {CATEGORIES[0]}..{CATEGORIES[-1]}. {lists}",
        },
        "segment": {"description": f"Lead segments. {lists}"},
        "provider": {"description": f"Mail providers (as reported in `provider`). {lists}"},
        "commercial_segment": {"description": f"Commercial segments. {lists}"},
        "status": {"description": f"Scan statuses such as ok or nxdomain. {lists}"},
        "min_score": {"description": "Lowest lead score (0-100) to include."},
        "max_score": {"description": "Highest lead score (0-100) to include."},
        "changed_since": {"description": "Only leads whose signals changed at or after this time (ISO 8601)."},
        "limit": {"description": "Page size."},
        "offset": {"description": "Rows to skip (prefer `cursor`)."},
    }


def _query_parameters(model: type, schema: dict[str, Any]) -> list[dict[str, Any]]:
    hints = _query_hints(model)
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        prop = _without_null(copy.deepcopy(prop))
        hint = copy.deepcopy(hints.get(name, {}))
        description = prop.pop("description", None) or hint.pop("description", None)
        hint.pop("description", None)
        if "items" in hint and "items" in prop:
            prop["items"] = {**prop["items"], **hint.pop("items")}
        prop.update(hint)
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required}
        if description:
            parameter["description"] = description
        if prop.get("type") == "array":
            parameter.update(style="form", explode=True)
        parameter["schema"] = prop
        parameters.append(parameter)
    return parameters


def _success(route: Route, refs: dict[tuple[type, str], dict[str, Any]]) -> dict[str, Any]:
    if route.response_model:
        model = resolve_ref(route.response_model)
        description = {201: "Created", 202: "Accepted"}.get(route.status, "OK")
        return {"description": description, "content": {"application/json": {"schema": refs[(model, "serialization")]}}}
    if route.response_type == "text/csv":
        return {
            "description": "The leads as a file: CSV by default, XLSX with format=xlsx.",
            "headers": {
                "Content-Disposition": {"description": "attachment; filename=...", "schema": {"type": "string"}}
            },
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                XLSX: {"schema": {"type": "string", "format": "binary", "contentMediaType": XLSX}},
            },
        }
    if route.response_type == PDF:
        return {
            "description": "The lead report as a PDF (A4; one section per lead, at most three pages each).",
            "headers": {
                "Content-Disposition": {"description": "attachment; filename=...", "schema": {"type": "string"}},
                "X-Hunter-Leads": {"description": "leads in the report", "schema": {"type": "integer"}},
            },
            "content": {PDF: {"schema": {"type": "string", "format": "binary", "contentMediaType": PDF}}},
        }
    if route.response_type.startswith("text/"):
        return {"description": "OK", "content": {route.response_type: {"schema": {"type": "string"}}}}
    return {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}


def _error_refs(route: Route) -> dict[str, dict[str, str]]:
    path_params = _PARAM.findall(route.path)
    names: dict[str, str] = {}
    if route.body_model:
        names["400"] = "BadRequest"
    if route.scope:
        names.update({"401": "Unauthorized", "403": "Forbidden"})
    if path_params:
        names["404"] = "NotFound"
    if route.query_model or route.body_model or path_params:
        names["422"] = "ValidationFailed"
    if route.scope:
        names["429"] = "TooManyRequests"
    names["500"] = "InternalError"
    return {status: {"$ref": RESPONSE_REF + name} for status, name in names.items()}


def _operation(route: Route, schemas: dict[str, Any], refs: dict[tuple[type, str], dict[str, Any]]) -> dict[str, Any]:
    description = route.summary + "."
    if route.scope:
        description += " " + SCOPE_NOTE.get(route.scope, f"Needs an API key with the `{route.scope}` scope.")
    else:
        description += " Public: no API key."
    operation: dict[str, Any] = {
        "operationId": route.name,
        "summary": route.summary,
        "description": description,
        "tags": [route.tag],
    }
    parameters = []
    for name in _PARAM.findall(route.path):
        title, text = PATH_PARAMS.get(name, (name.replace("_", " ").title(), f"The {name}."))
        parameters.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": text,
                "schema": {"type": "string", "title": title},
            }
        )
    if route.query_model:
        model = resolve_ref(route.query_model)
        name = refs[(model, "validation")]["$ref"].removeprefix(SCHEMA_REF)
        parameters.extend(_query_parameters(model, schemas[name]))
    if parameters:
        operation["parameters"] = parameters
    if route.body_model:
        model = resolve_ref(route.body_model)
        content: dict[str, Any] = {"application/json": {"schema": refs[(model, "validation")]}}
        if route.uploads:
            text = {"type": "string", "description": "a CSV/TSV file or one domain per line (UTF-8 or Windows-1254)"}
            content.update(
                {
                    "text/csv": {"schema": text},
                    "text/plain": {"schema": text},
                    XLSX: {"schema": {"type": "string", "format": "binary", "contentMediaType": XLSX}},
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["file"],
                            "properties": {"file": {"type": "string", "format": "binary"}},
                        }
                    },
                }
            )
        operation["requestBody"] = {"required": True, "content": content}
    operation["responses"] = {str(route.status): _success(route, refs), **_error_refs(route)}
    operation["security"] = [{"ApiKey": []}, {"Bearer": []}] if route.scope else []
    return operation


@lru_cache(maxsize=8)
def cached_openapi(server_url: str) -> dict[str, Any]:
    from pydantic.json_schema import models_json_schema

    models = _models()
    refs, definitions = models_json_schema(models, ref_template=SCHEMA_REF + "{model}")
    schemas: dict[str, Any] = dict(sorted(definitions.get("$defs", {}).items()))
    if "Problem" in schemas:
        raise RuntimeError("a model named Problem would shadow the problem document schema")
    schemas["Problem"] = _problem_schema()
    paths: dict[str, dict[str, Any]] = {}
    for route in DOCUMENTED_ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, schemas, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": __version__, "description": DESCRIPTION},
        "servers": [{"url": server_url}],
        "tags": [{"name": tag} for tag in dict.fromkeys(route.tag for route in DOCUMENTED_ROUTES)],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": _error_responses(),
            "securitySchemes": {
                "ApiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-API-Key",
                    "description": "An API key (create one with `hunter apikey create`).",
                },
                "Bearer": {"type": "http", "scheme": "bearer", "description": "The same API key as a Bearer token."},
            },
        },
    }


def openapi_document(server_url: str = "/api") -> dict[str, Any]:
    """The API as OpenAPI 3.1, generated from ``ROUTES`` and the pydantic models (a fresh copy)."""
    return copy.deepcopy(cached_openapi(server_url))


@lru_cache(maxsize=1)
def _openapi_body() -> bytes:
    return json.dumps(cached_openapi("/api"), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def openapi_json(request: HttpRequest, runtime: object = None) -> HttpResponse:
    """GET /api/v1/openapi.json (needs no runtime)."""
    return HttpResponse(200, _openapi_body(), {"Content-Type": JSON})
