"""One lead-explaining service: ``hunter lead``, the API's lead detail and sales summary, and the
Dynamics 365 document agree, also after the rules file changes between two reads."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from click.testing import CliRunner

from shared import aio
from shared.cli.main import main
from shared.config import Settings
from shared.core.inputs import InputRow
from shared.core.scoring import rules as rules_module
from shared.http.dispatch import dispatch
from shared.http.types import HttpRequest
from shared.runtime import Runtime, set_runtime
from shared.scan.pipeline import run_pipeline
from shared.services.after_scan import AfterScan
from shared.services.d365_push import lead_document
from shared.store import d365 as sync_store
from tests.integration.zones import RECORDS

DOMAIN = "m365.com.tr"


@pytest.fixture
def lead_world(database_url, dns_server_factory, monkeypatch):
    dns = dns_server_factory(RECORDS)
    settings = Settings(
        database_url=database_url, dns_nameservers=[dns.address], dns_timeout=0.3, whois_enabled=False
    )
    runtime = Runtime(settings)
    set_runtime(runtime)
    aio.run(run_pipeline([InputRow(DOMAIN, "Firma A.Ş.")], settings, AfterScan(runtime)))
    key = runtime.keys.create("reader", ["read"])[0]
    monkeypatch.setenv("HUNTER_DATABASE_URL", database_url)
    from shared.config import get_settings

    get_settings.cache_clear()
    yield runtime, key
    get_settings.cache_clear()
    set_runtime(None)


def _api(runtime: Runtime, key: str, path: str, **query: str) -> dict:
    request = HttpRequest("GET", path, query={k: [v] for k, v in query.items()}, headers={"x-api-key": key})
    response = dispatch(request, runtime)
    assert response.status == 200, response.body_bytes()
    return json.loads(response.body_bytes())


def _cli(database_url: str) -> dict:
    result = CliRunner().invoke(main, ["lead", DOMAIN, "--json", "--lang", "en", "--db", database_url])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def _readings(runtime: Runtime, key: str) -> tuple[dict, dict, dict]:
    return (
        _api(runtime, key, f"/v1/leads/{DOMAIN}"),
        _api(runtime, key, f"/v1/leads/{DOMAIN}/sales-summary", lang="en"),
        _cli(runtime.settings.database_url),
    )


def _assert_agree(detail: dict, summary: dict, cli: dict) -> None:
    assert detail["lead"]["score"] == cli["score"]["score"]
    assert detail["lead"]["priority_category"] == cli["score"]["priority_category"]
    assert detail["breakdown"] == [
        {key: item[key] for key in detail["breakdown"][0]} for item in cli["score"]["breakdown"]
    ]
    assert detail["rules_version"] == cli["score"]["rules_version"] == summary["metadata"]["rules_version"]
    assert summary["one_liner"] == cli["sales_summary"]["one_liner"]
    assert detail["priority"]["priority_category"] == detail["lead"]["priority_category"]


def test_cli_and_api_agree_before_and_after_a_rules_change(lead_world, monkeypatch):
    runtime, key = lead_world
    before = _readings(runtime, key)
    _assert_agree(*before)
    stored_version = before[0]["stored_rules_version"]
    assert before[0]["rules_version"] == stored_version  # nothing changed yet

    text = resources.files("shared.core.scoring").joinpath("rules.yaml").read_text(encoding="utf-8")
    version = rules_module.default_rules().version
    changed = text.replace(f'version: "{version}"', 'version: "test.changed"').replace(
        "  - id: provider_m365\n    when: {provider: [M365]}\n    points: 50",
        "  - id: provider_m365\n    when: {provider: [M365]}\n    points: 35",
    )
    assert changed != text
    new_rules = rules_module.parse_rules(changed, source="test")
    monkeypatch.setattr(rules_module, "default_rules", lambda: new_rules)

    after = _readings(runtime, key)
    _assert_agree(*after)
    assert after[0]["rules_version"] == "test.changed"
    assert after[0]["lead"]["score"] == before[0]["lead"]["score"] - 15
    assert after[0]["stored_rules_version"] == stored_version  # the stored row keeps its version

    # The Dynamics 365 document comes from the same explanation.
    lead, company = sync_store.lead_with_company(runtime.engine, DOMAIN)
    document = lead_document(runtime, lead, company)
    assert document["score"] == after[0]["lead"]["score"]
    assert document["priority_category"] == after[0]["lead"]["priority_category"]


def test_an_unknown_lead_is_a_404_and_a_cli_error(lead_world):
    runtime, key = lead_world
    response = dispatch(HttpRequest("GET", "/v1/leads/unknown.com.tr", headers={"x-api-key": key}), runtime)
    assert response.status == 404
    result = CliRunner().invoke(main, ["lead", "unknown.com.tr", "--db", runtime.settings.database_url])
    assert result.exit_code != 0 and "has not been scanned" in result.output
