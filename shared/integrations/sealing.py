"""Secrets Hunter must keep and use again (a webhook's signing secret), sealed at rest.

Sealed with the ``HUNTER_TOKEN_CACHE_KEY`` Fernet keys that already protect the stored MSAL token
cache (MultiFernet: the first key seals, every key opens, so keys rotate the same way). A sealed
value is stored as ``fernet:<token>``; a value without the prefix is clear text, from a
development box without a key or from before sealing existed, and is used as it is. A database
dump or a read-only SQL injection then yields no usable signing secret.
"""

from __future__ import annotations

from shared.config import Settings

PREFIX = "fernet:"


class SealError(RuntimeError):
    """A sealed value that the configured keys cannot open (the key was removed or is wrong)."""


def _keys(settings: Settings) -> list[str]:
    raw = settings.token_cache_key.get_secret_value() if settings.token_cache_key else ""
    return [part.strip() for part in raw.split(",") if part.strip()]


def _fernet(keys: list[str]):  # type: ignore[no-untyped-def]
    from cryptography.fernet import Fernet, MultiFernet

    return MultiFernet([Fernet(key.encode()) for key in keys])


def seal(settings: Settings, plain: str | None) -> str | None:
    """``plain`` sealed under the first key, or unchanged when no key is configured."""
    keys = _keys(settings)
    if plain is None or not keys:
        return plain
    return PREFIX + _fernet(keys).encrypt(plain.encode("utf-8")).decode("ascii")


def unseal(settings: Settings, stored: str | None) -> str | None:
    """The clear value of what :func:`seal` stored (clear text passes through)."""
    if stored is None or not stored.startswith(PREFIX):
        return stored
    keys = _keys(settings)
    if not keys:
        raise SealError("a stored secret is sealed and HUNTER_TOKEN_CACHE_KEY is not set")
    from cryptography.fernet import InvalidToken

    try:
        return _fernet(keys).decrypt(stored[len(PREFIX) :].encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise SealError("a stored secret cannot be opened with HUNTER_TOKEN_CACHE_KEY") from None
