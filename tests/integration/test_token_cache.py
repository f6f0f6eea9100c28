"""The stored MSAL token cache (a refresh token that signs in as a person) fails closed without a key,
rotates keys with MultiFernet, and refuses a malformed key at start."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from pydantic import ValidationError

from shared.cli.main import main
from shared.config import Settings
from shared.integrations.identity import SignInError, StoredTokenCache
from shared.store import integrations as integration_store
from shared.store.db import engine_for


@pytest.fixture
def engine(tmp_path):
    engine = engine_for(f"sqlite:///{tmp_path / 'hunter.db'}")
    yield engine
    engine.dispose()


def write(engine, keys: str | None, *, allow_plaintext: bool = False) -> None:
    store = StoredTokenCache(engine, "pc", keys, allow_plaintext=allow_plaintext)
    store.cache.add({"response": {"access_token": "at", "refresh_token": "rt-secret", "expires_in": 3600}})
    store.save()


def test_without_a_key_the_cache_refuses_to_work(engine):
    with pytest.raises(SignInError) as refused:
        StoredTokenCache(engine, "pc", None)
    assert "HUNTER_TOKEN_CACHE_KEY" in str(refused.value) and "generate_key" in str(refused.value)
    assert refused.value.code == "not_configured"
    assert integration_store.load_token_cache(engine, "pc") is None  # nothing was written


def test_clear_text_only_with_the_development_setting(engine):
    write(engine, None, allow_plaintext=True)
    stored = integration_store.load_token_cache(engine, "pc")
    assert stored is not None and not stored.encrypted and "rt-secret" in stored.data


def test_keys_rotate_with_multifernet(engine):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    write(engine, old)
    stored = integration_store.load_token_cache(engine, "pc")
    assert stored.encrypted and "rt-secret" not in stored.data
    StoredTokenCache(engine, "pc", f"{new},{old}")  # the new key first, the old one still decrypts ...
    rewritten = integration_store.load_token_cache(engine, "pc")
    assert Fernet(new.encode()).decrypt(rewritten.data.encode())  # ... and the cache is rewritten under it
    refreshed = StoredTokenCache(engine, "pc", new)  # the old key can now be dropped
    assert list(refreshed.cache.search("RefreshToken"))
    with pytest.raises(SignInError) as wrong:
        StoredTokenCache(engine, "pc", Fernet.generate_key().decode())
    assert wrong.value.needs_login


def test_a_plaintext_cache_is_encrypted_once_a_key_is_set(engine):
    write(engine, None, allow_plaintext=True)
    key = Fernet.generate_key().decode()
    StoredTokenCache(engine, "pc", key)
    stored = integration_store.load_token_cache(engine, "pc")
    assert stored.encrypted and "rt-secret" not in stored.data


def test_a_malformed_key_is_refused_at_start():
    with pytest.raises(ValidationError) as refused:
        Settings(token_cache_key="not-a-fernet-key")
    assert "Fernet" in str(refused.value) and "generate_key" in str(refused.value)
    both = Settings(token_cache_key=f" {Fernet.generate_key().decode()} , {Fernet.generate_key().decode()} ")
    assert len(both.token_cache_key.get_secret_value().split(",")) == 2


def test_pc_login_without_a_key_names_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("HUNTER_PARTNER_CENTER_ENABLED", "true")
    monkeypatch.setenv("HUNTER_PC_CLIENT_ID", "00000000-0000-0000-0000-000000000001")
    monkeypatch.delenv("HUNTER_TOKEN_CACHE_KEY", raising=False)
    from shared.config import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["pc", "login", "--db", f"sqlite:///{tmp_path / 'h.db'}"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code != 0 and "HUNTER_TOKEN_CACHE_KEY" in result.output
