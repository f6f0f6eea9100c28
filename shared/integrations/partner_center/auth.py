"""Partner Center sign-in: the Referrals API takes App+User tokens only, so a person signs in
once with the device-code flow (``hunter pc login``) and every sync afterwards refreshes silently
from the MSAL cache stored (encrypted) in the Hunter database, shared by every instance.

A refresh that the identity platform refuses (revoked, expired by inactivity, consent withdrawn)
raises :class:`SignInError` with ``needs_login``: only a person can fix it, so the caller records
the ``needs_login`` state instead of retrying.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.integrations.errors import IntegrationErrorCode
from shared.integrations.identity import (
    SignInError,
    authority,
    describe_msal_error,
    msal_options,
    stored_cache,
)
from shared.store import integrations as integration_store
from shared.store.integrations import set_state

if TYPE_CHECKING:
    from collections.abc import Callable

    import msal
    from sqlalchemy import Engine

    from shared.config import Settings

log = logging.getLogger("hunter.partner_center")
CACHE_NAME = "partner_center"
STATE_NAME = "partner_center"
RESOURCE = "https://api.partner.microsoft.com"
SCOPES = [f"{RESOURCE}/user_impersonation"]  # delegated; MSAL adds openid, profile and offline_access
DEFAULT_TENANT = "organizations"
# MSAL error codes meaning "a person must sign in again" (RFC 6749 invalid_grant, OIDC interaction codes).
_HUMAN_NEEDED = {"invalid_grant", "interaction_required", "login_required", "consent_required", "no_account"}


@dataclass(frozen=True)
class Token:
    access_token: str
    expires_in: float
    username: str | None


def _require_client(settings: Settings) -> str:
    if not settings.pc_client_id:
        raise SignInError(
            "Partner Center sign-in needs HUNTER_PC_CLIENT_ID (a public client app registration)",
            hunter_code=IntegrationErrorCode.NOT_CONFIGURED,
        )
    return settings.pc_client_id


def _key(settings: Settings) -> str | None:
    return settings.token_cache_key.get_secret_value() if settings.token_cache_key else None


def _cache(settings: Settings, engine: Engine):  # type: ignore[no-untyped-def]
    """The Partner Center user's token cache (encrypted; see :class:`StoredTokenCache`)."""
    return stored_cache(engine, CACHE_NAME, _key(settings), allow_plaintext=settings.token_cache_allow_plaintext)


def _app(settings: Settings, cache: msal.TokenCache) -> msal.PublicClientApplication:
    import msal

    return msal.PublicClientApplication(
        _require_client(settings),
        authority=authority(settings.authority_host, settings.pc_tenant_id or DEFAULT_TENANT),
        token_cache=cache,
        **msal_options(settings.authority_host),
    )


def _username(account: dict[str, Any] | None) -> str | None:
    return account.get("username") if account else None


def start_device_flow(settings: Settings, engine: Engine) -> dict[str, Any]:
    """Ask for a device code; the flow carries ``verification_uri``, ``user_code`` and ``message``."""
    with _cache(settings, engine) as cache:
        flow = _app(settings, cache).initiate_device_flow(scopes=SCOPES)
    if "user_code" not in flow:
        raise SignInError(f"Partner Center device code request failed: {describe_msal_error(flow)}")
    return dict(flow)


def complete_device_flow(
    settings: Settings,
    engine: Engine,
    flow: dict[str, Any],
    *,
    exit_condition: Callable[[dict[str, Any]], bool] | None = None,
) -> str | None:
    """Wait for the person to sign in (MSAL polls at the interval the platform asks for); store
    the tokens in the shared cache and mark the integration ``ok``. Returns the signed-in user."""
    with _cache(settings, engine) as cache:
        app = _app(settings, cache)
        kwargs = {"exit_condition": exit_condition} if exit_condition else {}
        result = app.acquire_token_by_device_flow(flow, **kwargs)
        if "access_token" not in result:
            raise SignInError(f"Partner Center sign-in failed: {describe_msal_error(result)}", code=result.get("error"))
        user = (result.get("id_token_claims") or {}).get("preferred_username")
        # One sign-in is stored: the new one replaces whoever signed in before (whose refresh
        # token may be the revoked one that sent the operator here).
        for account in app.get_accounts():
            if user and (account.get("username") or "").lower() != user.lower():
                app.remove_account(account)
    set_state(engine, STATE_NAME, "ok", f"signed in as {user}" if user else "signed in")
    log.info("partner center sign-in stored", extra={"user": user})
    return user


def acquire_token(settings: Settings, engine: Engine, *, force_refresh: bool = False) -> Token:
    """A delegated access token from the stored cache: the cached one while it is fresh, else
    one bought with the refresh token (MSAL rotates it; the new cache is saved at once)."""
    try:
        with _cache(settings, engine) as cache:
            app = _app(settings, cache)
            accounts = app.get_accounts()
            if not accounts:
                raise SignInError(
                    "nobody has signed in to Partner Center: run `hunter pc login`", needs_login=True, code="no_account"
                )
            account = accounts[0]
            result = app.acquire_token_silent_with_error(SCOPES, account=account, force_refresh=force_refresh)
    except SignInError:
        raise
    except Exception as exc:  # requests' connection errors, a discovery document that will not load
        raise SignInError(
            f"Microsoft sign-in is unreachable: {type(exc).__name__}", hunter_code=IntegrationErrorCode.NETWORK
        ) from None
    if result is None:
        raise SignInError(
            "the stored Partner Center sign-in has no usable token: run `hunter pc login`",
            needs_login=True,
            code="no_token",
        )
    if "access_token" not in result:
        error = result.get("error")
        needs_login = error in _HUMAN_NEEDED or bool(result.get("suberror"))
        raise SignInError(
            f"Partner Center token refresh failed: {describe_msal_error(result)}"
            + ("; run `hunter pc login`" if needs_login else ""),
            needs_login=needs_login,
            code=error,
        )
    return Token(result["access_token"], float(result.get("expires_in") or 0), _username(account))


def signed_in_user(settings: Settings, engine: Engine) -> str | None:
    """Who the stored cache belongs to, read from the cache itself (building an MSAL app would
    fetch the authority's discovery document)."""
    import msal

    with _cache(settings, engine) as cache:
        accounts = list(cache.search(msal.TokenCache.CredentialType.ACCOUNT))
    return _username(accounts[0]) if accounts else None


def logout(settings: Settings, engine: Engine) -> None:
    """Forget the stored sign-in; the sync needs ``hunter pc login`` again."""
    integration_store.delete_token_cache(engine, CACHE_NAME)  # no key needed to forget a sign-in
    set_state(engine, STATE_NAME, "needs_login", "signed out (hunter pc logout): run `hunter pc login`")
