"""The API as OpenAPI 2.0 (Swagger) for Power Automate custom connectors, derived from the 3.1
document of :mod:`shared.api.openapi` (served at ``GET /api/v1/swagger.json``), and the two files a
custom connector is imported from (``connector/``). Regenerate them after a route or model change
with ``python -m shared.api.swagger connector``.
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
from shared.api.openapi import DESCRIPTION, DOCUMENTED_ROUTES, RESPONSE_REF, SCHEMA_REF, TITLE, cached_openapi
from shared.http.types import JSON, PROBLEM_JSON, HttpRequest, HttpResponse

SWAGGER_EXCLUDED_TAGS = frozenset({"Health"})  # probes and metrics are for the platform, not a connector
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

_HOST = re.compile(r"^[A-Za-z0-9.\-]{1,253}(:\d{1,5})?$")

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
    if not ref.startswith(SCHEMA_REF):
        raise ValueError(f"cannot convert the reference {ref!r} to Swagger 2.0")
    return "#/definitions/" + ref.removeprefix(SCHEMA_REF)


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
        response = responses[response["$ref"].removeprefix(RESPONSE_REF)]
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
    source = cached_openapi(base_path)
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


@lru_cache(maxsize=16)
def _swagger_body(host: str | None) -> bytes:
    return json.dumps(_swagger(host, "/api"), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


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


if __name__ == "__main__":  # python -m shared.api.swagger [directory] [host]
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("connector")
    for written in export_connector(target, *sys.argv[2:3]):
        print(written)
