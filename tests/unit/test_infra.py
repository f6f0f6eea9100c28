"""The Azure template (infra/bicep/main.bicep) agrees with the code, and checkov finds nothing wrong in it.

In step with the code: the HUNTER_ settings it sets are real settings, the ones Azure needs are set,
the queues it creates are the queue functions' (and their poison queues), every timer's schedule is an
app setting with the code's default, the runtime is the project's Python. Secure by default: no account
key, connection string or password anywhere, the secrets only as Key Vault references, PostgreSQL and
Redis through Microsoft Entra. The alerts watch log lines the code really writes. And checkov (its own
venv, offline) parses the template and fails no check; every suppression carries its reason.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from pydantic import SecretStr

from shared.config import Settings
from shared.queues import poison_name
from shared.store.db import make_engine
from shared.triggers.registry import QUEUE_FUNCTIONS, ROUTES, TIMER_FUNCTIONS

ROOT = Path(__file__).resolve().parents[2]
BICEP = (ROOT / "infra" / "bicep" / "main.bicep").read_text(encoding="utf-8")
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


def app_settings() -> dict[str, str]:
    """name → value expression of every app setting of the function app."""
    block = BICEP[BICEP.index("appSettings: [") : BICEP.index("]\n", BICEP.index("appSettings: ["))]
    return dict(re.findall(r"\{ name: '([A-Za-z0-9_]+)', value: (.+?) \}", block))


def params() -> dict[str, str]:
    """param name → its default expression (or '' when it has none)."""
    found = {}
    for name, _type, default in re.findall(r"^param (\w+) (\w+)(?: = (.+))?$", BICEP, re.MULTILINE):
        found[name] = default
    return found


def test_every_hunter_app_setting_is_a_real_setting():
    names = {name for name in app_settings() if name.startswith("HUNTER_")}
    assert names, "no HUNTER_ app settings found"
    fields = {f"HUNTER_{name.upper()}" for name in Settings.model_fields}
    assert names <= fields, names - fields


def test_what_azure_needs_is_set():
    settings = app_settings()
    wanted = {
        "HUNTER_DATABASE_URL",
        "HUNTER_DATABASE_AUTH",
        "HUNTER_AUTO_MIGRATE",
        "HUNTER_QUEUE_BACKEND",
        "HUNTER_REDIS_URL",
        "HUNTER_REDIS_AUTH",
        "HUNTER_TOKEN_CACHE_KEY",
        "HUNTER_PUBLIC_URL",
        "AzureWebJobsStorage__accountName",
        "AzureWebJobsStorage__credential",
        "AzureWebJobsStorage__clientId",
        "AZURE_CLIENT_ID",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    }
    assert wanted <= set(settings), wanted - set(settings)
    assert settings["HUNTER_QUEUE_BACKEND"] == "'azure'"
    assert settings["HUNTER_AUTO_MIGRATE"] == "'false'"
    assert settings["HUNTER_DATABASE_AUTH"] == "'entra'"
    assert settings["HUNTER_REDIS_AUTH"] == "'entra'"
    assert settings["AzureWebJobsStorage__credential"] == "'managedidentity'"
    # Literal values must be values the settings accept.
    for name, value in settings.items():
        if name.startswith("HUNTER_") and re.fullmatch(r"'[^'$]*'", value) and value != "''":
            Settings(**{name.removeprefix("HUNTER_").lower(): value.strip("'")})


def test_timer_schedules_are_app_settings_with_the_codes_defaults():
    settings, defaults = app_settings(), params()
    for timer in TIMER_FUNCTIONS:
        assert timer.app_setting in settings, timer.app_setting
        param = settings[timer.app_setting]
        assert param in defaults, f"{timer.app_setting} is not set from a parameter"
        code_default = Settings.model_fields[timer.schedule_setting].default
        assert defaults[param] == f"'{code_default}'", (timer.app_setting, defaults[param], code_default)


def test_parameter_defaults_are_the_codes_defaults():
    """A setting passed straight from a parameter starts from the code's default (none drifts)."""
    settings, defaults = app_settings(), params()
    checked = 0
    for name, value in settings.items():
        match = re.fullmatch(r"(?:string\((\w+)\)|(\w+))", value)
        if not name.startswith("HUNTER_") or not match:
            continue
        param = match.group(1) or match.group(2)
        default = defaults.get(param, "")
        if default in ("", "''"):
            continue  # required, or empty = the code's None
        field = Settings.model_fields[name.removeprefix("HUNTER_").lower()]
        code = field.default if field.default_factory is None else field.default_factory()
        assert default.strip("'") == str(code).lower() if isinstance(code, bool) else default.strip("'") == str(code), (
            name,
            default,
            code,
        )
        checked += 1
    assert checked >= 6


def test_queues_match_the_queue_functions():
    block = BICEP[BICEP.index("var queues = [") : BICEP.index("]", BICEP.index("var queues = ["))]
    created = set(re.findall(r"'([a-z0-9-]+)'", block))
    wanted = {f.queue for f in QUEUE_FUNCTIONS} | {poison_name(f.queue) for f in QUEUE_FUNCTIONS}
    assert created == wanted


def test_flex_consumption_with_the_projects_python():
    assert "name: 'FC1'" in BICEP and "tier: 'FlexConsumption'" in BICEP
    assert "ElasticPremium" not in BICEP and "EP1" not in BICEP
    runtime = BICEP[BICEP.index("runtime: {") : BICEP.index("}", BICEP.index("runtime: {"))]
    assert "name: 'python'" in runtime and "version: '3.11'" in runtime
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'requires-python = ">=3.11"' in pyproject and 'target-version = "py311"' in pyproject
    for knob in ("instanceMemoryMB: instanceMemoryMB", "maximumInstanceCount: maximumInstanceCount"):
        assert knob in BICEP
    assert {"instanceMemoryMB", "maximumInstanceCount", "alwaysReadyHttpInstances"} <= set(params())
    assert "type: 'blobContainer'" in BICEP and "type: 'UserAssignedIdentity'" in BICEP
    # Flex refuses these settings (the runtime is in functionAppConfig; there is no content share).
    for refused in ("FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_CONTENT", "linuxFxVersion"):
        assert refused not in app_settings() and f"'{refused}" not in BICEP


def test_no_keys_connection_strings_or_passwords():
    assert "allowSharedKeyAccess: false" in BICEP
    for leak in ("listKeys(", "listConnectionStrings(", "AccountKey=", "primaryKey", "{ name: 'AzureWebJobsStorage',"):
        assert leak not in BICEP, leak
    settings = app_settings()
    # Every secret setting of the app is a Key Vault reference (or empty when its parameter is).
    secret_fields = {
        f"HUNTER_{name.upper()}"
        for name, field in Settings.model_fields.items()
        if SecretStr in getattr(field.annotation, "__args__", (field.annotation,))
    }
    assert {"HUNTER_TOKEN_CACHE_KEY", "HUNTER_D365_CLIENT_SECRET", "HUNTER_SMTP_PASSWORD"} <= secret_fields
    for name in secret_fields & set(settings):
        assert re.fullmatch(r"empty\(\w+\) \? '' : '\$\{kvPrefix\}[a-z0-9-]+\)'", settings[name]), settings[name]
    assert "var kvPrefix = '@Microsoft.KeyVault(VaultName=${names.vault};SecretName='" in BICEP
    # The database URL carries a user and no password; the Redis URL a user (the object id) and no password.
    assert re.search(r"'postgresql\+pg8000://\$\{identity\.name\}@[^':]+:5432/", settings["HUNTER_DATABASE_URL"])
    assert "sslmode=require" in settings["HUNTER_DATABASE_URL"]
    assert re.fullmatch(
        r"'rediss://\$\{identity\.properties\.principalId\}@[^':]+:10000/0'", settings["HUNTER_REDIS_URL"]
    )


def test_entra_everywhere():
    assert "activeDirectoryAuth: 'Enabled'" in BICEP
    assert "passwordAuth: postgresPasswordAuth ? 'Enabled' : 'Disabled'" in BICEP
    assert params()["postgresPasswordAuth"] == "false"
    assert "accessKeysAuthentication: 'Disabled'" in BICEP and "'Microsoft.Cache/redisEnterprise@" in BICEP
    assert "DisableLocalAuth: true" in BICEP
    assert "enablePurgeProtection: true" in BICEP and "enableSoftDelete: true" in BICEP
    assert "enableRbacAuthorization: true" in BICEP
    for hardening in (
        "httpsOnly: true",
        "minTlsVersion: '1.2'",
        "ftpsState: 'Disabled'",
        "minimumTlsVersion: 'TLS1_2'",
    ):
        assert hardening in BICEP
    for basic_auth in ("name: 'ftp'", "name: 'scm'"):
        block = BICEP[BICEP.index(basic_auth) :][:120]
        assert "allow: false" in block
    for knob in (
        "postgresBackupRetentionDays",
        "postgresGeoRedundantBackup",
        "functionPublicNetworkAccess",
        "dataPublicNetworkAccess",
        "postgresPublicNetworkAccess",
        "redisPublicNetworkAccess",
        "actionGroupId",
    ):
        assert knob in params(), knob
    # Every resource that writes logs sends them to Log Analytics.
    for scope in ("queueService", "blobService", "postgres", "vault", "app"):
        assert re.search(
            rf"'Microsoft\.Insights/diagnosticSettings@[^']+' = \{{\n  name: '[^']+'\n  scope: {scope}\n", BICEP
        ), scope


def test_alerts_watch_what_the_code_writes():
    rules = re.findall(r"resource (\w+) 'Microsoft\.Insights/scheduledQueryRules@", BICEP)
    assert set(rules) == {"poisonAlert", "http5xxAlert", "d365FailedAlert", "pcSignInAlert", "leadsLatencyAlert"}
    assert BICEP.count("actionGroups: alertGroups") == len(rules)
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "shared").rglob("*.py"))
    for message in (
        "message poisoned",
        "queue message failed permanently",
        "queue message failed",
        "sync timer idle: sign-in needed",
        "partner center sync: sign-in failed",
        "d365.push_failed",
        "hunter.queue.poison_messages",
        "messaging.destination.name",
    ):
        assert f'"{message}' in BICEP, message
        assert message in code, f"the alert watches {message!r}, which the code no longer writes"
    assert any(route.name == "list_leads" and route.path == "/v1/leads" for route in ROUTES)
    assert 'Name == "list_leads"' in BICEP
    assert "percentile(DurationMs, 95)" in BICEP and "threshold: alertLeadsP95Ms" in BICEP


def test_sslmode_require_becomes_a_verifying_ssl_context():
    engine = make_engine("postgresql://u:p@db.example.com:5432/hunter?sslmode=require")
    assert "sslmode" not in str(engine.url)
    engine.dispose()


def test_azd_project_and_hooks():
    azure_yaml = (ROOT / "azure.yaml").read_text(encoding="utf-8")
    for line in ("  api:", "    project: .", "    language: python", "    host: function", "  postprovision:"):
        assert line in azure_yaml, line
    hooks = ROOT / "infra" / "hooks"
    for hook in ("postprovision.sh", "preprovision.sh"):
        path = hooks / hook
        assert path.is_file() and os.access(path, os.X_OK), hook
        assert f"infra/hooks/{hook}" in azure_yaml
    assert "--create-app-role" in (hooks / "postprovision.sh").read_text(encoding="utf-8")
    ignored = {
        line.strip().rstrip("/")
        for line in (ROOT / ".funcignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {
        "tests",
        "bench",
        "tools",
        "devtools",
        "docs",
        "infra",
        ".venv-checkov",
        ".venv-deploy",
        ".azure",
    } <= ignored
    assert not ignored & {"shared", "functions", "function_app.py", "host.json", "requirements.txt"}
    parameters = json.loads((ROOT / "infra" / "bicep" / "main.parameters.json").read_text(encoding="utf-8"))
    assert set(parameters["parameters"]) <= set(params())
    example = json.loads((ROOT / "infra" / "bicep" / "main.parameters.example.json").read_text(encoding="utf-8"))
    assert set(example["parameters"]) <= set(params())
    # What the hooks read from the azd environment is an output of the template (or azd's own).
    outputs = set(re.findall(r"^output (\w+) ", BICEP, re.MULTILINE))
    script = (hooks / "postprovision.sh").read_text(encoding="utf-8")
    wanted = set(re.findall(r"\$\{(\w+):\?", script)) - {"AZURE_RESOURCE_GROUP", "AZURE_PRINCIPAL_NAME"}
    assert wanted and wanted <= outputs, wanted - outputs
    required = {name for name, default in params().items() if not default}
    assert required <= set(parameters["parameters"]), required - set(parameters["parameters"])


def checkov_env() -> dict[str, str]:
    """Offline: no platform API key (so no upload), no policy/guideline download (BC_SKIP_MAPPING and
    --skip-download), no PyPI version check (CKV_SKIP_PACKAGE_UPDATE_CHECK, read at import)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC_", "PRISMA_", "CKV_", "CHECKOV_"))}
    env.update(
        BC_SKIP_MAPPING="TRUE",
        CKV_SKIP_PACKAGE_UPDATE_CHECK="true",
        CHECKOV_RUN_SCA_PACKAGE_SCAN_V2="false",
        LOG_LEVEL="WARNING",
    )
    return env


@pytest.mark.skipif(
    not CHECKOV.exists(), reason="checkov is not installed in .venv-checkov (scripts/setup installs it)"
)
def test_checkov_passes_offline():
    done = subprocess.run(
        [str(CHECKOV), "-d", "infra", "--framework", "bicep", "-o", "json", "--skip-download", "--compact"],
        cwd=ROOT,
        env=checkov_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.stdout.strip(), done.stderr[-2000:]
    report = json.loads(done.stdout)
    report = report[0] if isinstance(report, list) else report
    summary = report["summary"]
    failed = [(c["check_id"], c["resource"], c["check_name"]) for c in report["results"]["failed_checks"]]
    assert summary["parsing_errors"] == 0, report["results"].get("parsing_errors")
    assert failed == [], failed
    assert summary["passed"] >= 20 and summary["resource_count"] >= 35, summary
    # Every suppression written in the template is one checkov applied (none is stale).
    written, current = set(), None
    for line in BICEP.splitlines():
        if line.startswith("resource "):
            current = line.split()[1]
        elif match := re.match(r"\s*//checkov:skip=(\w+):", line):
            written.add((match.group(1), current))
    applied = {(c["check_id"], c["resource"].rsplit(".", 1)[-1]) for c in report["results"]["skipped_checks"]}
    assert written == applied, (written - applied, applied - written)
    for skipped in report["results"]["skipped_checks"]:
        reason = (skipped.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason.strip()) > 20, (
            f"{skipped['check_id']} on {skipped['resource']} is suppressed without a reason"
        )
    assert done.returncode == 0, done.stderr[-2000:]
