"""The OpenAPI 3.1 and Swagger 2.0 documents: valid, complete, and the committed connector files current."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from shared import __version__
from shared.api.openapi import DOCUMENTED_ROUTES as ROUTES  # the web app's static files are not API operations
from shared.api.openapi import openapi_document, openapi_json
from shared.api.swagger import export_connector, swagger_document, swagger_json
from shared.http.types import HttpRequest
from shared.store.queries import SORT_KEYS

ROOT = Path(__file__).resolve().parents[2]
CONNECTOR = ROOT / "connector"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
SWAGGER_ROUTES = [route for route in ROUTES if route.tag != "Health"]


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return openapi_document()


@pytest.fixture(scope="module")
def swagger() -> dict[str, Any]:
    return swagger_document(host="hunter.example.test")


def _walk(node: Any, path: str = "#") -> Iterator[tuple[str, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}/{index}")


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"external or malformed $ref {ref!r}"
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"dangling $ref {ref!r}"
        node = node[part]
    return node


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def _response(document: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    return _resolve(document, response["$ref"]) if "$ref" in response else response


# --- OpenAPI 3.1 -------------------------------------------------------------------------------------------------


def test_openapi_is_a_valid_3_1_document(openapi: dict[str, Any]) -> None:
    assert openapi["openapi"] == "3.1.0"
    assert openapi["info"]["title"] == "Hunter API"
    assert openapi["info"]["version"] == __version__
    assert openapi["servers"] == [{"url": "/api"}]
    validate(openapi)


def test_server_url_is_a_parameter() -> None:
    assert openapi_document("https://hunter.example.test/api")["servers"] == [
        {"url": "https://hunter.example.test/api"}
    ]


def test_every_route_is_documented_with_its_method_and_operation_id(openapi: dict[str, Any]) -> None:
    documented = {(path, method): op for path, method, op in _operations(openapi)}
    assert len(documented) == len(ROUTES)
    for route in ROUTES:
        operation = documented[(route.path, route.method.lower())]
        assert operation["operationId"] == route.name
        assert operation["summary"] == route.summary
        assert operation["tags"] == [route.tag]
    assert len({op["operationId"] for op in documented.values()}) == len(ROUTES)


def test_keyed_operations_declare_security_and_auth_errors(openapi: dict[str, Any]) -> None:
    schemes = openapi["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {**schemes["ApiKey"], "type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["Bearer"]["type"] == "http" and schemes["Bearer"]["scheme"] == "bearer"
    for route in ROUTES:
        operation = openapi["paths"][route.path][route.method.lower()]
        responses = operation["responses"]
        assert str(route.status) in responses and "500" in responses
        if route.scope is None:
            assert operation["security"] == []
            assert not {"401", "403", "429"} & set(responses)
            continue
        assert operation["security"] == [{"ApiKey": []}, {"Bearer": []}]
        assert {"401", "403", "429"} <= set(responses), route.name
        assert "Retry-After" in _response(openapi, responses["429"])["headers"]
        for status in ("401", "403", "429", "500"):
            content = _response(openapi, responses[status])["content"]
            assert content["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_validation_and_not_found_errors_follow_the_route(openapi: dict[str, Any]) -> None:
    for route in ROUTES:
        responses = openapi["paths"][route.path][route.method.lower()]["responses"]
        takes_input = bool(route.query_model or route.body_model or "{" in route.path)
        assert ("422" in responses) == takes_input, route.name
        assert ("404" in responses) == ("{" in route.path), route.name  # every path parameter names a thing


def test_problem_schema_is_rfc_7807(openapi: dict[str, Any]) -> None:
    problem = openapi["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "instance", "errors"} <= set(problem["properties"])
    assert set(problem["properties"]["errors"]["items"]["properties"]) == {"field", "message", "code", "params"}


def test_list_leads_query_parameters(openapi: dict[str, Any]) -> None:
    parameters = {p["name"]: p for p in openapi["paths"]["/v1/leads"]["get"]["parameters"]}
    expected = {
        "segment",
        "provider",
        "priority",
        "commercial_segment",
        "min_score",
        "max_score",
        "q",
        "changed_since",
        "sort",
        "limit",
        "offset",
        "cursor",
    }
    assert expected <= set(parameters)
    assert all(p["in"] == "query" and p["required"] is False for p in parameters.values())
    for name in ("segment", "provider", "priority", "commercial_segment"):
        assert parameters[name]["schema"]["type"] == "array"
        assert (parameters[name]["style"], parameters[name]["explode"]) == ("form", True)
    assert parameters["priority"]["schema"]["items"]["enum"] == ["P1", "P2", "P3", "P4", "P5", "P6"]
    assert parameters["limit"]["schema"]["maximum"] == 500
    assert parameters["changed_since"]["schema"]["format"] == "date-time"
    assert "next" in parameters["cursor"]["description"]
    sort = parameters["sort"]
    assert all(key in sort["description"] for key in SORT_KEYS)
    assert set(sort["schema"]["enum"]) == set(SORT_KEYS) | {f"-{key}" for key in SORT_KEYS}
    assert sort["schema"]["default"] in sort["schema"]["enum"]


def test_bodies_path_parameters_and_media_types(openapi: dict[str, Any]) -> None:
    scan = openapi["paths"]["/v1/scan"]["post"]
    assert scan["requestBody"]["required"] is True
    assert scan["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ScanRequest"}
    lead = openapi["paths"]["/v1/leads/{domain}"]["get"]
    assert lead["parameters"][0] | {"description": ""} == {
        "name": "domain",
        "in": "path",
        "required": True,
        "description": "",
        "schema": {"type": "string", "title": "Domain"},
    }
    export = openapi["paths"]["/v1/leads/export"]["get"]["responses"]["200"]["content"]
    assert set(export) == {"text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    metrics = openapi["paths"]["/healthz/metrics"]["get"]["responses"]["200"]["content"]
    assert set(metrics) == {"text/plain"}
    live = openapi["paths"]["/healthz/live"]["get"]["responses"]["200"]["content"]
    assert live["application/json"]["schema"] == {"type": "object"}


def test_nested_models_land_in_components(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    assert {
        "ScanResponse",
        "LeadPage",
        "LeadItem",
        "LeadDetailOut",
        "ScanRecord",
        "SalesSummary",
        "Dashboard",
        "ChangeOut",
    } <= set(schemas)
    assert not any(path.endswith("/$defs") for path, _ in _walk(openapi))


@pytest.mark.parametrize("which", ["openapi", "swagger"])
def test_no_dangling_refs(which: str, request: pytest.FixtureRequest) -> None:
    document = request.getfixturevalue(which)
    refs = [(path, node["$ref"]) for path, node in _walk(document) if isinstance(node, dict) and "$ref" in node]
    assert refs
    for _path, ref in refs:
        _resolve(document, ref)


# --- Swagger 2.0 -------------------------------------------------------------------------------------------------


def test_swagger_is_a_valid_2_0_document(swagger: dict[str, Any]) -> None:
    assert swagger["swagger"] == "2.0"
    assert swagger["host"] == "hunter.example.test"
    assert swagger["basePath"] == "/api"
    assert swagger["schemes"] == ["https"]
    validate(swagger)
    hostless = swagger_document()
    assert "host" not in hostless
    validate(hostless)


def test_swagger_has_every_non_health_route(swagger: dict[str, Any]) -> None:
    documented = {(path, method): op for path, method, op in _operations(swagger)}
    assert set(documented) == {(r.path, r.method.lower()) for r in SWAGGER_ROUTES}
    for route in SWAGGER_ROUTES:
        assert documented[(route.path, route.method.lower())]["operationId"] == route.name
    assert not any(path.startswith("/healthz") for path in swagger["paths"])


def test_swagger_operations_are_power_automate_ready(swagger: dict[str, Any]) -> None:
    assert swagger["securityDefinitions"] == {
        "api_key": {**swagger["securityDefinitions"]["api_key"], "type": "apiKey", "in": "header", "name": "X-API-Key"}
    }
    metadata = {m["propertyName"]: m["propertyValue"] for m in swagger["x-ms-connector-metadata"]}
    assert metadata == {"Categories": "Sales and CRM;IT Operations"}
    for path, method, operation in _operations(swagger):
        where = f"{method.upper()} {path}"
        assert operation["x-ms-summary"] and operation["summary"] and operation["description"], where
        assert operation["security"] == [{"api_key": []}], where
        assert {"401", "403", "429", "500"} <= set(operation["responses"]), where
        assert "Retry-After" in operation["responses"]["429"]["headers"], where
        for parameter in operation.get("parameters", []):
            assert parameter["x-ms-summary"], f"{where} {parameter['name']}"


def test_swagger_parameters_and_schemas_are_2_0(swagger: dict[str, Any]) -> None:
    parameters = {p["name"]: p for p in swagger["paths"]["/v1/leads"]["get"]["parameters"]}
    assert parameters["provider"]["type"] == "array"
    assert parameters["provider"]["collectionFormat"] == "multi"
    assert parameters["provider"]["items"] == {"type": "string"}
    assert "-score" in parameters["sort"]["enum"]
    assert parameters["changed_since"] == {**parameters["changed_since"], "type": "string", "format": "date-time"}
    body = [p for p in swagger["paths"]["/v1/scan"]["post"]["parameters"] if p["in"] == "body"]
    assert body == [
        {
            "name": "body",
            "in": "body",
            "required": True,
            "x-ms-summary": "Body",
            "schema": {"$ref": "#/definitions/ScanRequest"},
        }
    ]
    assert swagger["paths"]["/v1/scan"]["post"]["consumes"] == ["application/json"]
    export = swagger["paths"]["/v1/leads/export"]["get"]
    assert export["produces"][:2] == ["text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"]
    lang = swagger["definitions"]["ScanRequest"]["properties"]["lang"]
    assert lang["x-nullable"] is True and lang["enum"] == ["tr", "en"] and lang["type"] == "string"
    unsupported = {"anyOf", "oneOf", "const", "examples", "$schema", "$defs", "prefixItems", "components"}
    for path, node in _walk(swagger):
        if not isinstance(node, dict) or path.endswith("/properties"):  # a map of property names, not a schema
            continue
        assert not unsupported & set(node), path
        assert not isinstance(node.get("type"), list), path
        assert isinstance(node.get("exclusiveMinimum", False), bool), path
        assert node.get("$ref", "#/definitions/").startswith("#/definitions/"), path


def test_documents_are_fresh_copies() -> None:
    first = openapi_document()
    first["paths"].clear()
    assert openapi_document()["paths"]
    first = swagger_document()
    first["definitions"].clear()
    assert swagger_document()["definitions"]


# --- handlers and the committed connector ------------------------------------------------------------------------


def test_openapi_handler_answers_json() -> None:
    response = openapi_json(HttpRequest("GET", "/v1/openapi.json"), None)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert json.loads(response.body_bytes()) == openapi_document()


def test_swagger_handler_uses_the_host_header() -> None:
    response = swagger_json(HttpRequest("GET", "/v1/swagger.json", headers={"host": "hunter.example.test:8443"}), None)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert json.loads(response.body_bytes()) == swagger_document(host="hunter.example.test:8443")
    for headers in ({}, {"host": "bad host/../"}):
        document = json.loads(swagger_json(HttpRequest("GET", "/v1/swagger.json", headers=headers), None).body_bytes())
        assert "host" not in document


def test_export_connector_writes_both_files(tmp_path: Path) -> None:
    paths = export_connector(tmp_path / "out", host="hunter.example.test")
    assert [p.name for p in paths] == ["apiDefinition.swagger.json", "apiProperties.json"]
    definition = paths[0].read_text(encoding="utf-8")
    assert definition.endswith("}\n")
    assert json.loads(definition)["host"] == "hunter.example.test"
    properties = json.loads(paths[1].read_text(encoding="utf-8"))["properties"]
    assert properties["connectionParameters"]["api_key"]["type"] == "securestring"


@pytest.mark.parametrize("name", ["apiDefinition.swagger.json", "apiProperties.json"])
def test_committed_connector_is_current(name: str, tmp_path: Path) -> None:
    fresh = {p.name: p for p in export_connector(tmp_path)}
    committed = CONNECTOR / name
    assert committed.is_file(), f"{committed} is missing: run python -m shared.api.swagger connector"
    assert json.loads(committed.read_text(encoding="utf-8")) == json.loads(fresh[name].read_text(encoding="utf-8")), (
        f"{committed} is stale (a route or model changed): run python -m shared.api.swagger connector"
    )


def test_json_schema_2020_constructs_become_swagger_2_0() -> None:
    from shared.api.swagger import _swagger_schema

    converted = _swagger_schema(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "required": [],
            "properties": {
                "n": {"type": ["integer", "null"], "exclusiveMinimum": 0, "exclusiveMaximum": 10, "default": None},
                "k": {"const": "fixed", "examples": ["fixed"]},
                "t": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]},
                "r": {"anyOf": [{"$ref": "#/components/schemas/Thing"}, {"type": "null"}], "description": "a thing"},
                "u": {"anyOf": [{"type": "string"}, {"type": "integer"}], "discriminator": {"propertyName": "kind"}},
            },
        }
    )
    assert converted == {
        "type": "object",
        "properties": {
            "n": {
                "type": "integer",
                "minimum": 0,
                "exclusiveMinimum": True,
                "maximum": 10,
                "exclusiveMaximum": True,
                "x-nullable": True,
                "x-ms-summary": "N",
            },
            "k": {"enum": ["fixed"], "example": "fixed", "x-ms-summary": "K"},
            "t": {"type": "array", "items": {}, "x-ms-summary": "T"},
            "r": {"$ref": "#/definitions/Thing", "description": "a thing", "x-nullable": True, "x-ms-summary": "R"},
            "u": {"x-ms-summary": "U"},
        },
    }
