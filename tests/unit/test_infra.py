"""The Bicep template agrees with the code: settings it sets exist, queues it creates are the
queue functions' (and their poison queues), the runtime is the one the project runs on."""

from __future__ import annotations

import re
from pathlib import Path

from shared.config import Settings
from shared.queues import poison_name
from shared.store.db import make_engine
from shared.triggers.registry import QUEUE_FUNCTIONS, TIMER_FUNCTIONS

BICEP = (Path(__file__).resolve().parents[2] / "infra" / "bicep" / "main.bicep").read_text()


def test_every_hunter_app_setting_is_a_real_setting():
    names = set(re.findall(r"name: '(HUNTER_[A-Z0-9_]+)'", BICEP))
    assert names, "no HUNTER_ app settings found"
    fields = {f"HUNTER_{name.upper()}" for name in Settings.model_fields}
    assert names <= fields, names - fields
    assert {"HUNTER_DATABASE_URL", "HUNTER_QUEUE_BACKEND", "HUNTER_REDIS_URL", "HUNTER_TOKEN_CACHE_KEY"} <= names


def test_timer_schedules_are_app_settings():
    names = set(re.findall(r"name: '(HUNTER_[A-Z0-9_]+)'", BICEP))
    assert {timer.app_setting for timer in TIMER_FUNCTIONS} <= names


def test_queues_match_the_queue_functions():
    block = BICEP[BICEP.index("var queues = [") : BICEP.index("]", BICEP.index("var queues = ["))]
    created = set(re.findall(r"'([a-z0-9-]+)'", block))
    wanted = {f.queue for f in QUEUE_FUNCTIONS} | {poison_name(f.queue) for f in QUEUE_FUNCTIONS}
    assert created == wanted


def test_runtime_and_secrets():
    assert "linuxFxVersion: 'PYTHON|3.11'" in BICEP
    assert "{ name: 'HUNTER_QUEUE_BACKEND', value: 'azure' }" in BICEP
    for secret in ("database-url", "redis-url", "token-cache-key", "d365-client-secret"):
        assert f"kvRef(vault.name, '{secret}')" in BICEP  # secrets only as Key Vault references


def test_sslmode_require_becomes_a_verifying_ssl_context():
    engine = make_engine("postgresql://u:p@db.example.com:5432/hunter?sslmode=require")
    assert "sslmode" not in str(engine.url)
    engine.dispose()
