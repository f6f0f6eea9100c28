"""Microsoft sign-in, done once and shared by every instance.

* The MSAL token cache lives in the Hunter database (``token_caches``), Fernet-encrypted with
  ``HUNTER_TOKEN_CACHE_KEY``: a function's disk is ephemeral, and the previous system lost its
  Partner Center login on every container restart.
* Outbound HTTPS trusts the CA bundle named by ``SSL_CERT_FILE`` or ``REQUESTS_CA_BUNDLE`` (tests
  add their own CA, a corporate proxy adds its own); certificate verification is never disabled.
* A sign-in that needs a human again is recorded as the integration's ``needs_login`` state, shown
  by ``/api/healthz/ready`` and the dashboard, instead of being retried forever.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from shared.config import KEYGEN_HINT
from shared.integrations.errors import IntegrationError, IntegrationErrorCode
from shared.store import integrations as integration_store

if TYPE_CHECKING:
    import msal

log = logging.getLogger("hunter.integrations")
MICROSOFT_AUTHORITY = "https://login.microsoftonline.com"
_warned_plaintext = threading.Event()


class SignInError(IntegrationError):
    """Sign-in failed. ``needs_login`` means only a person can fix it (``hunter pc login``).

    :attr:`code` is ``needs_login`` or ``sign_in_failed`` (``hunter_code`` names another reason,
    such as ``not_configured``); the ``code`` argument is the identity platform's error code
    (``invalid_grant``), kept as :attr:`service_code`. Never ``permanent``: a person can sign in
    or fix the settings while a message waits for its retry."""

    def __init__(
        self,
        message: str,
        *,
        needs_login: bool = False,
        code: str | None = None,
        hunter_code: IntegrationErrorCode | None = None,
    ) -> None:
        reason = IntegrationErrorCode.NEEDS_LOGIN if needs_login else IntegrationErrorCode.SIGN_IN_FAILED
        super().__init__(message, code=hunter_code or reason, permanent=False, service_code=code)
        self.needs_login = needs_login

    def describe(self) -> str:
        return str(self)  # the message already names the sign-in, what failed and what to do


def ca_bundle() -> str | None:
    """The extra CA bundle the environment names, if any (SSL_CERT_FILE, then REQUESTS_CA_BUNDLE)."""
    return os.environ.get("SSL_CERT_FILE") or os.environ.get("REQUESTS_CA_BUNDLE") or None


@lru_cache(maxsize=4)
def _context(bundle: str | None) -> ssl.SSLContext:
    if bundle:
        return ssl.create_default_context(cafile=bundle)
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def ssl_context() -> ssl.SSLContext:
    """For httpx: system/certifi roots, or the named bundle. Always verifying."""
    return _context(ca_bundle())


def msal_verify() -> str | bool:
    """For MSAL (requests underneath): the bundle path, or True for the default roots."""
    return ca_bundle() or True


def on_azure() -> bool:
    return bool(os.environ.get("WEBSITE_INSTANCE_ID"))


class StoredTokenCache:
    """An MSAL ``SerializableTokenCache`` loaded from and saved to the store under ``name``.

    The cache holds a refresh token that signs in as a person, so it is stored encrypted with the
    ``HUNTER_TOKEN_CACHE_KEY`` Fernet keys (MultiFernet: the first key encrypts, any key decrypts, and
    a cache read with an older key is written back under the first). Without a key it refuses to
    work — fail closed — unless ``HUNTER_TOKEN_CACHE_ALLOW_PLAINTEXT`` says this is a development box."""

    def __init__(self, engine: Engine, name: str, key: str | None, *, allow_plaintext: bool = False) -> None:
        import msal

        keys = [part.strip() for part in (key or "").split(",") if part.strip()]
        if not keys and (on_azure() or not allow_plaintext):
            raise SignInError(
                f"the {name} sign-in is stored as an encrypted token cache and HUNTER_TOKEN_CACHE_KEY is not set; "
                f"{KEYGEN_HINT} (HUNTER_TOKEN_CACHE_ALLOW_PLAINTEXT=true allows clear text on a development machine)",
                hunter_code=IntegrationErrorCode.NOT_CONFIGURED,
            )
        self.engine = engine
        self.name = name
        self.keys = keys
        self.cache = msal.SerializableTokenCache()
        self.load()

    def _fernet(self):  # type: ignore[no-untyped-def]
        from cryptography.fernet import Fernet, MultiFernet

        return MultiFernet([Fernet(key.encode()) for key in self.keys])

    def load(self) -> None:
        stored = integration_store.load_token_cache(self.engine, self.name)
        if stored is None:
            return
        data = stored.data
        rotate = False
        if stored.encrypted:
            from cryptography.fernet import Fernet, InvalidToken

            if not self.keys:
                raise SignInError(
                    f"the {self.name} token cache is encrypted; set HUNTER_TOKEN_CACHE_KEY",
                    hunter_code=IntegrationErrorCode.NOT_CONFIGURED,
                )
            try:
                plain = self._fernet().decrypt(data.encode())
            except InvalidToken:
                raise SignInError(
                    f"the {self.name} token cache cannot be decrypted with HUNTER_TOKEN_CACHE_KEY",
                    needs_login=True,
                ) from None
            try:
                Fernet(self.keys[0].encode()).decrypt(data.encode())
            except InvalidToken:
                rotate = True  # written under an older key: write it back under the first one
            data = plain.decode()
        elif self.keys:
            rotate = True  # a clear-text cache from a development setting: encrypt it now that there is a key
        self.cache.deserialize(data)
        if rotate:
            self.cache.has_state_changed = True
            self.save()

    def save(self) -> None:
        """Write the cache back if MSAL changed it (a new or refreshed token)."""
        if not self.cache.has_state_changed:
            return
        data = self.cache.serialize()
        encrypted = bool(self.keys)
        if encrypted:
            data = self._fernet().encrypt(data.encode()).decode()
        elif not _warned_plaintext.is_set():
            _warned_plaintext.set()
            log.warning("token cache stored unencrypted (HUNTER_TOKEN_CACHE_ALLOW_PLAINTEXT): development only")
        integration_store.save_token_cache(self.engine, self.name, data, encrypted=encrypted)
        self.cache.has_state_changed = False

    def clear(self) -> None:
        integration_store.delete_token_cache(self.engine, self.name)


def authority(authority_host: str, tenant: str) -> str:
    return f"{authority_host.rstrip('/')}/{tenant}"


def msal_http_client() -> Any:
    """The ``requests`` session MSAL uses: it verifies against :func:`ca_bundle` (or certifi).

    requests lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` override a session's ``verify`` while
    ``trust_env`` is on, so a bundle named by ``SSL_CERT_FILE`` would be ignored whenever the
    other variable points elsewhere; the session therefore takes the bundle and the proxies
    from the environment itself and turns ``trust_env`` off."""
    import urllib.request

    import requests

    session = requests.Session()
    session.trust_env = False
    session.verify = msal_verify()
    session.proxies = urllib.request.getproxies()
    return session


def msal_options(authority_host: str) -> dict[str, Any]:
    """Instance discovery asks Microsoft's own cloud about the authority: off for any other host
    (sovereign clouds name theirs explicitly; test stand-ins are not known to Microsoft)."""
    custom = authority_host.rstrip("/") != MICROSOFT_AUTHORITY
    return {"http_client": msal_http_client(), "instance_discovery": False if custom else None}


def describe_msal_error(result: dict[str, Any]) -> str:
    """An operator-readable summary of an MSAL error result (no tokens, no secrets)."""
    code = result.get("error", "error")
    text = (result.get("error_description") or "").splitlines()[0] if result.get("error_description") else ""
    return f"{code}: {text}" if text else str(code)


@contextmanager
def stored_cache(
    engine: Engine, name: str, key: str | None, *, allow_plaintext: bool = False
) -> Iterator[msal.SerializableTokenCache]:
    """Load the named cache, hand it to MSAL, save it if MSAL changed it."""
    store = StoredTokenCache(engine, name, key, allow_plaintext=allow_plaintext)
    try:
        yield store.cache
    finally:
        store.save()
