"""OpenAPI documents generated from the routing table and the pydantic models, so they cannot drift.

* :func:`openapi_document` — OpenAPI 3.1 (served at ``GET /api/v1/openapi.json``).
* :func:`swagger_document` — OpenAPI 2.0 for Power Automate custom connectors, derived from the 3.1
  document (served at ``GET /api/v1/swagger.json``).
* :func:`export_connector` — the two files a custom connector is imported from (``connector/``).
  Regenerate them after a route or model change with ``python -m shared.api.docs connector``.
"""

from __future__ import annotations

import copy
import json
import re
import sys
from functools import lru_cache
from pathlib import Path
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
SWAGGER_EXCLUDED_TAGS = frozenset({"Health"})  # probes and metrics are for the platform, not a connector
# The web app's static files are pages, not an API: left out of both documents (and so of the fuzzing).
UNDOCUMENTED_TAGS = frozenset({WEB_APP_TAG})
DOCUMENTED_ROUTES: tuple[Route, ...] = tuple(route for route in ROUTES if route.tag not in UNDOCUMENTED_TAGS)
CONNECTOR_CATEGORIES = "Sales and CRM;IT Operations"
API_PROPERTIES: dict[str, Any] = {
    "properties": {
        "connectionParameters": {
            "api_key": {
                "type": "securestring",
                "uiDefinition": {
                    "displayName": "API Key",
                    "description": "A Hunter API key with the read (and scan) scope",
                    "tooltip": "Create one with: hunter apikey create",
                    "constraints": {"tabIndex": 2, "clearText": False, "required": "true"},
                },
            }
        },
        "iconBrandColor": "#0F6CBD",
        "capabilities": [],
        "publisher": "Hunter",
        "stackOwner": "Hunter",
    }
}

_PARAM = re.compile(r"\{(\w+)\}")
_SCHEMAS = "#/components/schemas/"
_RESPONSES = "#/components/responses/"
_HOST = re.compile(r"^[A-Za-z0-9.\-]{1,253}(:\d{1,5})?$")

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
                        "message": {"type": "string"},
                    },
                },
            },
        },
    }


def _error_responses() -> dict[str, dict[str, Any]]:
    def problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
        response: dict[str, Any] = {
            "description": description,
            "content": {PROBLEM_JSON: {"schema": {"$ref": _SCHEMAS + "Problem"}}},
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
    return {status: {"$ref": _RESPONSES + name} for status, name in names.items()}


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
        name = refs[(model, "validation")]["$ref"].removeprefix(_SCHEMAS)
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
def _openapi(server_url: str) -> dict[str, Any]:
    from pydantic.json_schema import models_json_schema

    models = _models()
    refs, definitions = models_json_schema(models, ref_template=_SCHEMAS + "{model}")
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
    return copy.deepcopy(_openapi(server_url))


# ---------------------------------------------------------------------------------------------------------------
# OpenAPI 2.0 (Swagger) for Power Automate

_SWAGGER_SCHEMA_KEYS = frozenset(
    {
        "$ref",
        "format",
        "title",
        "description",
        "default",
        "multipleOf",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "uniqueItems",
        "maxProperties",
        "minProperties",
        "required",
        "enum",
        "additionalProperties",
        "type",
        "items",
        "allOf",
        "properties",
        "readOnly",
        "xml",
        "externalDocs",
        "example",
    }
)
_SWAGGER_PARAM_KEYS = frozenset(
    {
        "type",
        "format",
        "items",
        "default",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "uniqueItems",
        "enum",
        "multipleOf",
    }
)


def _swagger_ref(ref: str) -> str:
    if not ref.startswith(_SCHEMAS):
        raise ValueError(f"cannot convert the reference {ref!r} to Swagger 2.0")
    return "#/definitions/" + ref.removeprefix(_SCHEMAS)


def _swagger_schema(node: Any) -> Any:
    """JSON Schema 2020-12 (OpenAPI 3.1) → the Swagger 2.0 schema subset, with x-nullable for ``X | None``."""
    if isinstance(node, list):
        return [_swagger_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    nullable = False
    for key in ("anyOf", "oneOf"):
        if key in node:
            variants = node.pop(key)
            rest = [v for v in variants if v != {"type": "null"}]
            nullable = nullable or len(rest) < len(variants)
            if len(rest) == 1:
                node = {**rest[0], **node}
            # several real alternatives have no Swagger 2.0 form: the schema stays open (any value)
    if isinstance(node.get("type"), list):
        types = [t for t in node["type"] if t != "null"]
        nullable = nullable or len(types) < len(node["type"])
        if len(types) == 1:
            node["type"] = types[0]
        else:
            del node["type"]
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if isinstance(node.get("enum"), list) and None in node["enum"]:
        nullable = True
        node["enum"] = [v for v in node["enum"] if v is not None]
    if isinstance(node.get("examples"), list) and node["examples"] and "example" not in node:
        node["example"] = node["examples"][0]
    for bound, flag in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = node.get(bound)
        if isinstance(value, int | float) and not isinstance(value, bool):
            node[flag] = value
            node[bound] = True
    if "prefixItems" in node and "items" not in node:
        node["items"] = {}
    if node.get("default", 0) is None:
        del node["default"]
    if node.get("required") == []:
        del node["required"]
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("x-"):
            out[key] = value
        elif key not in _SWAGGER_SCHEMA_KEYS:
            continue  # $schema, $defs, examples, const, discriminator, contentMediaType, writeOnly ...
        elif key == "$ref":
            out[key] = _swagger_ref(value)
        elif key == "properties":
            out[key] = {name: _property(name, prop) for name, prop in value.items()}
        elif key in ("items", "additionalProperties", "allOf"):
            out[key] = _swagger_schema(value)
        else:
            out[key] = value
    if "$ref" in out:  # Swagger 2.0 ignores a $ref's siblings; keep only those Power Automate reads
        out = {k: v for k, v in out.items() if k in ("$ref", "description") or k.startswith("x-")}
    if nullable:
        out["x-nullable"] = True
    return out


def _property(name: str, schema: Any) -> Any:
    """A property with the display name Power Automate shows for it (``x-ms-summary``)."""
    converted = _swagger_schema(schema)
    if isinstance(converted, dict) and isinstance(schema, dict):
        converted.setdefault("x-ms-summary", schema.get("title") or name.replace("_", " ").title())
    return converted


def _swagger_parameter(parameter: dict[str, Any]) -> dict[str, Any]:
    schema = _swagger_schema(parameter.get("schema", {"type": "string"}))
    out: dict[str, Any] = {"name": parameter["name"], "in": parameter["in"], "required": parameter["required"]}
    title = parameter.get("schema", {}).get("title") or parameter["name"].replace("_", " ").capitalize()
    out["x-ms-summary"] = title
    if parameter.get("description"):
        out["description"] = parameter["description"]
    out.update({k: v for k, v in schema.items() if k in _SWAGGER_PARAM_KEYS})
    out.setdefault("type", "string")
    if out["type"] == "array":
        out["collectionFormat"] = "multi"
        out["items"] = {k: v for k, v in out.get("items", {"type": "string"}).items() if k in _SWAGGER_PARAM_KEYS}
        out["items"].setdefault("type", "string")
        if out.get("default") == []:
            del out["default"]
    return out


def _swagger_response(response: dict[str, Any], responses: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in response:
        response = responses[response["$ref"].removeprefix(_RESPONSES)]
    out: dict[str, Any] = {"description": response["description"]}
    content = response.get("content", {})
    if content:
        media, body = next(iter(content.items()))
        schema = body.get("schema", {})
        if media.startswith("text/") or len(content) > 1:
            out["schema"] = {"type": "string", "format": "binary"} if len(content) > 1 else {"type": "string"}
        else:
            out["schema"] = _swagger_schema(schema)
    headers = {}
    for name, header in response.get("headers", {}).items():
        headers[name] = {
            "type": header.get("schema", {}).get("type", "string"),
            "description": header.get("description", ""),
        }
    if headers:
        out["headers"] = headers
    return out


def _reachable(node: Any, definitions: dict[str, Any], found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            name = ref.removeprefix("#/definitions/")
            if name not in found:
                found.add(name)
                _reachable(definitions.get(name), definitions, found)
        for value in node.values():
            _reachable(value, definitions, found)
    elif isinstance(node, list):
        for value in node:
            _reachable(value, definitions, found)


@lru_cache(maxsize=16)
def _swagger(host: str | None, base_path: str) -> dict[str, Any]:
    source = _openapi(base_path)
    components = source["components"]
    tags: dict[str, None] = {}
    paths: dict[str, dict[str, Any]] = {}
    for route in DOCUMENTED_ROUTES:
        if route.tag in SWAGGER_EXCLUDED_TAGS:
            continue
        op3 = source["paths"][route.path][route.method.lower()]
        tags[route.tag] = None
        success = op3["responses"][str(route.status)].get("content", {})
        operation: dict[str, Any] = {
            "operationId": op3["operationId"],
            "summary": op3["summary"],
            "description": op3["description"],
            "x-ms-summary": op3["summary"],
            "tags": op3["tags"],
            "produces": [*success, PROBLEM_JSON],
        }
        parameters = [_swagger_parameter(p) for p in op3.get("parameters", [])]
        if "requestBody" in op3:
            operation["consumes"] = ["application/json"]
            body = op3["requestBody"]["content"]["application/json"]
            parameters.append(
                {
                    "name": "body",
                    "in": "body",
                    "required": op3["requestBody"].get("required", False),
                    "x-ms-summary": "Body",
                    "schema": _swagger_schema(body["schema"]),
                }
            )
        if parameters:
            operation["parameters"] = parameters
        operation["responses"] = {
            status: _swagger_response(response, components["responses"])
            for status, response in op3["responses"].items()
        }
        if route.scope:
            operation["security"] = [{"api_key": []}]
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    definitions = {name: _swagger_schema(schema) for name, schema in components["schemas"].items()}
    used: set[str] = set()
    _reachable(paths, definitions, used)
    document: dict[str, Any] = {
        "swagger": "2.0",
        "info": {"title": TITLE, "version": __version__, "description": DESCRIPTION},
    }
    if host:
        document["host"] = host
    document.update(
        {
            "basePath": base_path,
            "schemes": ["https"],
            "consumes": ["application/json"],
            "produces": ["application/json"],
            "tags": [{"name": tag} for tag in tags],
            "paths": paths,
            "definitions": {name: schema for name, schema in definitions.items() if name in used},
            "securityDefinitions": {
                "api_key": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-API-Key",
                    "description": "A Hunter API key (hunter apikey create).",
                }
            },
            "x-ms-connector-metadata": [{"propertyName": "Categories", "propertyValue": CONNECTOR_CATEGORIES}],
        }
    )
    return document


def swagger_document(host: str | None = None, base_path: str = "/api") -> dict[str, Any]:
    """The API as OpenAPI 2.0 for Power Automate custom connectors (no health endpoints; a fresh copy)."""
    return copy.deepcopy(_swagger(host, base_path))


# ---------------------------------------------------------------------------------------------------------------
# Handlers and the connector files


@lru_cache(maxsize=1)
def _openapi_body() -> bytes:
    return json.dumps(_openapi("/api"), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@lru_cache(maxsize=16)
def _swagger_body(host: str | None) -> bytes:
    return json.dumps(_swagger(host, "/api"), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def openapi_json(request: HttpRequest, runtime: object = None) -> HttpResponse:
    """GET /api/v1/openapi.json (needs no runtime)."""
    return HttpResponse(200, _openapi_body(), {"Content-Type": JSON})


def swagger_json(request: HttpRequest, runtime: object = None) -> HttpResponse:
    """GET /api/v1/swagger.json; ``host`` is the request's Host header when it is a plain host[:port]."""
    host = (request.header("host") or "").strip()
    return HttpResponse(200, _swagger_body(host if _HOST.match(host) else None), {"Content-Type": JSON})


def _write_json(path: Path, obj: Any) -> Path:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def export_connector(directory: Path, host: str = "localhost:7071") -> list[Path]:
    """Write apiDefinition.swagger.json and apiProperties.json (a Power Automate custom connector)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return [
        _write_json(directory / "apiDefinition.swagger.json", swagger_document(host=host)),
        _write_json(directory / "apiProperties.json", API_PROPERTIES),
    ]


if __name__ == "__main__":  # python -m shared.api.docs [directory] [host]
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("connector")
    for written in export_connector(target, *sys.argv[2:3]):
        print(written)
