"""Settings: environment parsing, and the example settings file cannot drift from the code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.config import DEFAULT_DKIM_SELECTORS, Settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_need_nothing_installed(monkeypatch: pytest.MonkeyPatch):
    for key in list(__import__("os").environ):
        if key.startswith("HUNTER_"):
            monkeypatch.delenv(key)
    settings = Settings()
    assert settings.database_url == "sqlite:///hunter.db"
    assert settings.dns_nameservers == []
    assert settings.dkim_selectors == list(DEFAULT_DKIM_SELECTORS)
    assert settings.default_lang == "tr"


def test_comma_lists_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HUNTER_DNS_NAMESERVERS", " 127.0.0.1:5353, [::1]:53 ,")
    monkeypatch.setenv("HUNTER_DKIM_SELECTORS", "Selector1,google,selector1")
    settings = Settings()
    assert settings.dns_nameservers == ["127.0.0.1:5353", "[::1]:53"]
    assert settings.dkim_selectors == ["selector1", "google"]


def test_bad_values_are_refused_with_the_field_named(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HUNTER_DNS_TIMEOUT", "-1")
    with pytest.raises(ValidationError, match="dns_timeout"):
        Settings()


def test_example_settings_file_lists_every_setting():
    values = json.loads((ROOT / "local.settings.example.json").read_text())["Values"]
    documented = {key.removeprefix("HUNTER_").lower() for key in values if key.startswith("HUNTER_")}
    assert documented == set(Settings.model_fields)
    for key, value in values.items():
        if key.startswith("HUNTER_"):
            Settings(**{key.removeprefix("HUNTER_").lower(): value} if value else {})
