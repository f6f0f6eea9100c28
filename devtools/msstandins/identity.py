"""Microsoft identity platform (Entra ID v2.0 endpoints) stand-in.

Follows the documented protocol closely enough for real MSAL for Python:

* ``GET /{tenant}/v2.0/.well-known/openid-configuration`` -- the OpenID discovery document
  (https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc), with every
  endpoint pointing back at this stand-in. MSAL fetches it on first use; with
  ``instance_discovery=False`` it skips the Microsoft-only instance discovery call.
* ``POST /{tenant}/oauth2/v2.0/token`` with ``client_credentials``
  (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow):
  the scope must be ``<resource>/.default`` (AADSTS1002012); a wrong secret is 401
  ``invalid_client`` AADSTS7000215; the response has no refresh token.
* ``POST /{tenant}/oauth2/v2.0/devicecode`` and the device code grant
  (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code):
  ``authorization_pending`` until a test calls :meth:`IdentityStandin.approve_device_code`,
  ``authorization_declined``, ``bad_verification_code``, ``expired_token``; an ``id_token``
  only with ``openid``, a ``refresh_token`` only with ``offline_access``.
* Tenant recon, the two public endpoints Hunter reads about a company's domain (no sign-in):
  ``GET /{domain}/v2.0/.well-known/openid-configuration`` for a domain added with
  :meth:`IdentityStandin.add_domain` answers that tenant's discovery document (``issuer`` and
  ``token_endpoint`` carry its tenant id; ``tenant_region_scope``, ``tenant_region_sub_scope`` only
  when set, ``cloud_instance_name``), an unknown one 400 ``invalid_tenant`` AADSTS90002; and
  ``GET /getuserrealm.srf?login=user@{domain}&json=1`` answers the realm: ``NameSpaceType``
  ``Managed`` (State 4, UserState 1, ``FederationBrandName``), ``Federated`` (State 3, UserState 2,
  ``AuthURL`` at the on-premises AD FS, ``FederationGlobalVersion``) or ``Unknown`` (no domain,
  no brand). ``recon_status`` makes both answer that HTTP status instead (an outage).
* ``refresh_token`` grant (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#refresh-the-access-token):
  rotates the refresh token; a revoked one is ``invalid_grant`` AADSTS50173, one expired by
  inactivity ``invalid_grant`` AADSTS700082.

Error bodies carry ``error``, ``error_description`` (``AADSTSnnnn: ...`` plus trace/correlation
ids and a timestamp), ``error_codes``, ``timestamp``, ``trace_id``, ``correlation_id`` and
``error_uri`` as Entra does. Tokens are unsigned JWT-shaped strings (MSAL no longer validates
ID tokens; resource servers here validate access tokens by asking this object in-process via
:meth:`IdentityStandin.check_access_token`, never by signature).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from devtools.msstandins.server import Request, Response

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unsigned_jwt(claims: dict[str, Any]) -> str:
    """A JWT-shaped string (``alg: none``) so clients that peek at claims can."""
    header = _b64url(json.dumps({"typ": "JWT", "alg": "none"}).encode())
    return f"{header}.{_b64url(json.dumps(claims, separators=(',', ':')).encode())}."


def decode_claims(token: str) -> dict[str, Any]:
    """The claims of a token made by :func:`unsigned_jwt` (no validation)."""
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


@dataclass
class App:
    """An app registration: a confidential client has a secret; a public client may use device code."""

    client_id: str
    secret: str | None = None
    name: str = ""
    allow_public_client_flows: bool = True


@dataclass
class User:
    upn: str
    oid: str
    name: str


@dataclass
class AccessTokenInfo:
    """What the identity stand-in knows about an access token it issued."""

    token: str
    kind: str  # "app" (client credentials) or "user" (delegated: device code / refresh)
    client_id: str
    audience: str
    scopes: frozenset[str]  # delegated scopes without the resource prefix, e.g. {"user_impersonation"}
    roles: frozenset[str]
    tenant_id: str
    expires_at: float
    user: User | None = None
    revoked: bool = False

    @property
    def caller(self) -> str:
        """Who service protection limits count against: the user, or the app for app-only tokens."""
        return f"user:{self.user.oid}" if self.user else f"app:{self.client_id}"


@dataclass
class TokenCheck:
    ok: bool
    reason: str = ""  # "missing", "unknown", "expired", "revoked", "audience"
    info: AccessTokenInfo | None = None


@dataclass
class _DeviceCode:
    device_code: str
    user_code: str
    client_id: str
    scopes: list[str]
    expires_at: float
    state: str = "pending"  # pending, approved, declined, redeemed
    user: User | None = None


@dataclass
class _RefreshToken:
    token: str
    client_id: str
    user: User
    tenant_id: str
    last_used: float
    revoked: str | None = None  # None, "revoked" or "expired"


@dataclass
class ReconDomain:
    """A verified domain of some tenant, as the public recon endpoints describe it."""

    domain: str
    tenant_id: str
    region_scope: str = "EU"
    region_sub_scope: str | None = None
    brand: str = ""
    auth_url: str | None = None  # set: the domain is federated (an AD FS sign-in page)


@dataclass
class IdentityStats:
    discovery: int = 0
    recon_discovery: int = 0  # OpenID configuration documents asked for by domain (tenant recon)
    user_realm: int = 0  # getuserrealm.srf answers
    device_codes: int = 0
    token_requests: dict[str, int] = field(default_factory=dict)
    token_errors: dict[str, int] = field(default_factory=dict)


class IdentityStandin:
    """An Entra ID tenant in memory: app registrations, users, device codes and tokens.

    Knobs (plain attributes, change them any time): ``access_token_lifetime`` (seconds,
    ``expires_in`` of new access tokens), ``device_code_lifetime``, ``device_code_interval``
    (the polling interval told to clients; MSAL sleeps that long between polls) and
    ``refresh_token_max_inactive`` (seconds, AADSTS700082 after that much idle time).
    """

    def __init__(
        self,
        tenant_id: str = "6f3c1b52-3d8a-4c7e-9b1a-2f4d5e6a7b8c",
        *,
        tenant_aliases: Iterable[str] = ("hunter-test.onmicrosoft.com", "organizations", "common"),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tenant_id = tenant_id
        self.tenant_aliases = {tenant_id.lower(), *(alias.lower() for alias in tenant_aliases)}
        self.clock = clock
        self.base_url = ""  # set by the server wiring (start_standins) before the first request
        self.access_token_lifetime = 3599
        self.device_code_lifetime = 900
        self.device_code_interval = 5
        self.refresh_token_max_inactive = 90 * 24 * 3600
        self.stats = IdentityStats()
        self._lock = threading.Lock()
        self._apps: dict[str, App] = {}
        self._users: dict[str, User] = {}
        self._resources: dict[str, set[str]] = {}  # resource id (no trailing slash) -> delegated scopes
        self._device_codes: dict[str, _DeviceCode] = {}
        self._access_tokens: dict[str, AccessTokenInfo] = {}
        self._refresh_tokens: dict[str, _RefreshToken] = {}
        self._domains: dict[str, ReconDomain] = {}
        self.recon_status: int | None = None  # e.g. 503: the recon endpoints answer only that status

    # ----------------------------------------------------------------- setup (Python API)
    @property
    def authority(self) -> str:
        """What MSAL takes as ``authority=``: ``https://127.0.0.1:PORT/<tenant id>``."""
        return f"{self.base_url}/{self.tenant_id}"

    def register_app(
        self, client_id: str | None = None, secret: str | None = None, *, name: str = "", public: bool = True
    ) -> App:
        """Add an app registration (a secret makes it a confidential client)."""
        app = App(client_id or str(uuid.uuid4()), secret, name, public)
        with self._lock:
            self._apps[app.client_id] = app
        return app

    def register_resource(self, resource: str, scopes: Iterable[str] = ("user_impersonation",)) -> None:
        """Declare an API (resource id such as ``https://org.crm4.dynamics.com``) and its delegated scopes."""
        with self._lock:
            self._resources[resource.rstrip("/").lower()] = set(scopes)

    def add_user(self, upn: str, *, name: str | None = None, oid: str | None = None) -> User:
        with self._lock:
            user = self._users.get(upn.lower())
            if user is None:
                user = User(upn, oid or str(uuid.uuid4()), name or upn.split("@")[0].replace(".", " ").title())
                self._users[upn.lower()] = user
            return user

    def add_domain(
        self,
        domain: str,
        *,
        tenant_id: str | None = None,
        region_scope: str = "EU",
        region_sub_scope: str | None = None,
        brand: str | None = None,
        federated_sts: str | None = None,
    ) -> ReconDomain:
        """A company domain verified in some tenant (a new tenant id unless given). With ``federated_sts``
        (``sts.contoso.com``) sign-in is federated to AD FS there; otherwise the domain is managed."""
        auth_url = None
        if federated_sts:
            auth_url = (
                f"https://{federated_sts}/adfs/ls/?username=user%40{domain}&wa=wsignin1.0"
                "&wtrealm=urn%3afederation%3aMicrosoftOnline&wctx="
            )
        entry = ReconDomain(
            domain.lower(),
            tenant_id or str(uuid.uuid4()),
            region_scope,
            region_sub_scope,
            brand if brand is not None else domain.split(".")[0].title(),
            auth_url,
        )
        with self._lock:
            self._domains[entry.domain] = entry
        return entry

    # ------------------------------------------------------------- device code (the "user")
    def pending_device_codes(self) -> list[str]:
        """User codes waiting for a sign-in, oldest first."""
        with self._lock:
            return [code.user_code for code in self._device_codes.values() if code.state == "pending"]

    def approve_device_code(self, user_code: str, user: str = "seller@hunter-test.onmicrosoft.com") -> User:
        """Play the user who signs in at the verification URI and consents; the next poll gets tokens."""
        account = self.add_user(user)
        with self._lock:
            code = self._find_user_code(user_code)
            code.state, code.user = "approved", account
        return account

    def decline_device_code(self, user_code: str) -> None:
        """Play the user who refuses; the next poll gets ``authorization_declined``."""
        with self._lock:
            self._find_user_code(user_code).state = "declined"

    def _find_user_code(self, user_code: str) -> _DeviceCode:
        for code in self._device_codes.values():
            if code.user_code == user_code.upper():
                return code
        raise KeyError(f"no device code with user code {user_code!r}")

    # ------------------------------------------------------------------ token management
    def check_access_token(self, token: str | None, audiences: Iterable[str] = ()) -> TokenCheck:
        """How a resource server validates a bearer token (in-process, instead of a signature check)."""
        if not token:
            return TokenCheck(False, "missing")
        with self._lock:
            info = self._access_tokens.get(token)
        if info is None:
            return TokenCheck(False, "unknown")
        if info.revoked:
            return TokenCheck(False, "revoked", info)
        if self.clock() >= info.expires_at:
            return TokenCheck(False, "expired", info)
        wanted = {audience.rstrip("/").lower() for audience in audiences}
        if wanted and info.audience.rstrip("/").lower() not in wanted:
            return TokenCheck(False, "audience", info)
        return TokenCheck(True, "", info)

    def expire_access_tokens(self, predicate: Callable[[AccessTokenInfo], bool] = lambda info: True) -> int:
        """Make issued access tokens expire now (resource servers answer 401; MSAL's cache still holds them)."""
        now = self.clock()
        with self._lock:
            matched = [info for info in self._access_tokens.values() if predicate(info)]
            for info in matched:
                info.expires_at = min(info.expires_at, now)
        return len(matched)

    def revoke_refresh_tokens(self, user: str | None = None, *, reason: str = "revoked") -> int:
        """Invalidate refresh tokens (of one user, or all): ``reason`` "revoked" gives AADSTS50173,
        "expired" AADSTS700082."""
        if reason not in ("revoked", "expired"):
            raise ValueError("reason must be 'revoked' or 'expired'")
        with self._lock:
            matched = [
                rt for rt in self._refresh_tokens.values() if user is None or rt.user.upn.lower() == user.lower()
            ]
            for rt in matched:
                rt.revoked = reason
        return len(matched)

    def issued_access_tokens(self) -> list[AccessTokenInfo]:
        with self._lock:
            return list(self._access_tokens.values())

    # ----------------------------------------------------------------------------- HTTP
    def __call__(self, request: Request) -> Response:
        parts = [part for part in request.path.split("/") if part]
        if request.method == "GET" and parts == ["getuserrealm.srf"]:
            return self._user_realm(request)
        if len(parts) < 2:
            return self._not_found(request)
        tenant, rest = parts[0], "/".join(parts[1:])
        recon_domain = tenant.lower() not in self.tenant_aliases and (
            self.recon_status is not None or tenant.lower() in self._domains
        )
        if request.method == "GET" and rest == "v2.0/.well-known/openid-configuration" and recon_domain:
            return self._domain_discovery(tenant.lower())
        if tenant.lower() not in self.tenant_aliases:
            return self._error(
                400,
                "invalid_tenant",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing "
                "into the correct cloud.",
            )
        if request.method == "GET" and rest == "v2.0/.well-known/openid-configuration":
            return self._discovery(tenant)
        if request.method == "GET" and rest == "discovery/v2.0/keys":
            return Response.json(200, {"keys": []})
        if request.method == "POST" and rest == "oauth2/v2.0/devicecode":
            return self._device_authorization(request)
        if request.method == "POST" and rest == "oauth2/v2.0/token":
            return self._token(request)
        return self._not_found(request)

    def _not_found(self, request: Request) -> Response:
        return Response.json(404, {"error": "not_found", "error_description": f"No route for {request.path}"})

    def _discovery(self, tenant: str) -> Response:
        with self._lock:
            self.stats.discovery += 1
        base = f"{self.base_url}/{self.tenant_id}"
        issuer = f"{self.base_url}/{self.tenant_id}/v2.0"
        return Response.json(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": issuer,
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": f"{base}/openid/userinfo",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "claims_supported": [
                    "sub",
                    "iss",
                    "aud",
                    "exp",
                    "iat",
                    "auth_time",
                    "nonce",
                    "preferred_username",
                    "name",
                    "tid",
                    "ver",
                    "oid",
                ],
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com",
            },
        )

    def _domain_discovery(self, domain: str) -> Response:
        """The discovery document of the tenant a company domain is verified in (tenant recon)."""
        with self._lock:
            self.stats.recon_discovery += 1
            entry = self._domains.get(domain)
        if self.recon_status is not None:
            return Response.json(self.recon_status, {"error": "temporarily_unavailable"})
        assert entry is not None
        base = f"{self.base_url}/{entry.tenant_id}"
        document: dict[str, Any] = {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{self.base_url}/{entry.tenant_id}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "tid", "ver", "oid"],
            "kerberos_endpoint": f"{base}/kerberos",
            "tenant_region_scope": entry.region_scope,
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }
        if entry.region_sub_scope:
            document["tenant_region_sub_scope"] = entry.region_sub_scope
        return Response.json(200, document)

    def _user_realm(self, request: Request) -> Response:
        """``getuserrealm.srf?login=<user@domain>&json=1``: the namespace type of the login's domain."""
        with self._lock:
            self.stats.user_realm += 1
        if self.recon_status is not None:
            return Response(self.recon_status, b"Service Unavailable", {"Content-Type": "text/plain"})
        login = request.query.get("login", "")
        domain = login.rpartition("@")[2].lower()
        with self._lock:
            entry = self._domains.get(domain)
        realm: dict[str, Any]
        if entry is None:
            realm = {"State": 4, "UserState": 1, "Login": login, "NameSpaceType": "Unknown"}
        elif entry.auth_url:
            realm = {
                "State": 3,
                "UserState": 2,
                "Login": login,
                "NameSpaceType": "Federated",
                "DomainName": entry.domain,
                "FederationGlobalVersion": -1,
                "AuthURL": entry.auth_url,
                "FederationBrandName": entry.brand,
                "CloudInstanceName": "microsoftonline.com",
                "CloudInstanceIssuerUri": "urn:federation:MicrosoftOnline",
            }
        else:
            realm = {
                "State": 4,
                "UserState": 1,
                "Login": login,
                "NameSpaceType": "Managed",
                "DomainName": entry.domain,
                "FederationBrandName": entry.brand,
                "CloudInstanceName": "microsoftonline.com",
                "CloudInstanceIssuerUri": "urn:federation:MicrosoftOnline",
            }
        return Response.json(200, realm)

    def _error(self, status: int, error: str, code: int, message: str) -> Response:
        now = datetime.now(UTC)
        trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
        with self._lock:
            self.stats.token_errors[error] = self.stats.token_errors.get(error, 0) + 1
        description = (
            f"AADSTS{code}: {message} Trace ID: {trace_id} Correlation ID: {correlation_id} "
            f"Timestamp: {now:%Y-%m-%d %H:%M:%SZ}"
        )
        return Response.json(
            status,
            {
                "error": error,
                "error_description": description,
                "error_codes": [code],
                "timestamp": f"{now:%Y-%m-%d %H:%M:%SZ}",
                "trace_id": trace_id,
                "correlation_id": correlation_id,
                "error_uri": f"{self.base_url}/error?code={code}",
            },
            headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
        )

    def _unknown_app(self, client_id: str) -> Response:
        return self._error(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{self.tenant_id}'. This can "
            "happen if the application has not been installed by the administrator of the tenant or consented to by "
            "any user in the tenant. You may have sent your authentication request to the wrong tenant.",
        )

    # ------------------------------------------------------------------ device authorization
    def _device_authorization(self, request: Request) -> Response:
        form = request.form()
        client_id = form.get("client_id", "")
        app = self._apps.get(client_id)
        if app is None:
            return self._unknown_app(client_id)
        if not app.allow_public_client_flows:
            return self._error(
                400,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            )
        scopes = form.get("scope", "").split()
        problem = self._check_delegated_scopes(scopes)
        if problem is not None:
            return problem
        user_code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(9))
        device = _DeviceCode(
            device_code=secrets.token_urlsafe(48),
            user_code=user_code,
            client_id=client_id,
            scopes=scopes,
            expires_at=self.clock() + self.device_code_lifetime,
        )
        verification_uri = f"{self.base_url}/devicelogin"
        with self._lock:
            self._device_codes[device.device_code] = device
            self.stats.device_codes += 1
        return Response.json(
            200,
            {
                "user_code": user_code,
                "device_code": device.device_code,
                "verification_uri": verification_uri,
                "expires_in": self.device_code_lifetime,
                "interval": self.device_code_interval,
                "message": f"To sign in, use a web browser to open the page {verification_uri} and enter the code "
                f"{user_code} to authenticate.",
            },
        )

    # ---------------------------------------------------------------------------- token
    def _token(self, request: Request) -> Response:
        form = request.form()
        grant = form.get("grant_type", "")
        with self._lock:
            self.stats.token_requests[grant] = self.stats.token_requests.get(grant, 0) + 1
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        basic = request.header("authorization") or ""
        if basic.lower().startswith("basic "):  # client_secret_basic (RFC 6749 section 2.3.1)
            decoded = base64.b64decode(basic[6:]).decode("utf-8")
            basic_id, _, basic_secret = decoded.partition(":")
            client_id, secret = unquote_plus(basic_id), unquote_plus(basic_secret)
        app = self._apps.get(client_id)
        if app is None:
            return self._unknown_app(client_id)
        if secret is not None and app.secret is not None and not secrets.compare_digest(secret, app.secret):
            return self._error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
                f"value, not the client secret ID, for a secret added to app '{app.client_id}'.",
            )
        if grant == "client_credentials":
            return self._client_credentials(app, secret, form)
        if grant == DEVICE_CODE_GRANT:
            return self._device_code_grant(app, form)
        if grant == "refresh_token":
            return self._refresh_grant(app, form)
        return self._error(
            400,
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{grant}'.",
        )

    def _client_credentials(self, app: App, secret: str | None, form: dict[str, str]) -> Response:
        if app.secret is None or secret is None:
            return self._error(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            )
        scopes = form.get("scope", "").split()
        resource_scopes = [scope for scope in scopes if scope not in OIDC_SCOPES]
        if len(resource_scopes) != 1 or not resource_scopes[0].endswith("/.default"):
            shown = form.get("scope", "")
            return self._error(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {shown} is not valid. Client credential flows must have a scope value "
                "with /.default suffixed to the resource identifier (application ID URI).",
            )
        resource = resource_scopes[0][: -len("/.default")]
        if resource.rstrip("/").lower() not in self._resources:
            return self._unknown_resource(resource)
        info = self._issue_access_token("app", app.client_id, resource, frozenset(), None)
        return Response.json(
            200,
            {
                "token_type": "Bearer",
                "expires_in": self.access_token_lifetime,
                "ext_expires_in": self.access_token_lifetime,
                "access_token": info.token,
            },
            headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
        )

    def _unknown_resource(self, resource: str) -> Response:
        return self._error(
            400,
            "invalid_resource",
            500011,
            f"The resource principal named {resource} was not found in the tenant named {self.tenant_id}. This can "
            "happen if the application has not been installed by the administrator of the tenant or consented to by "
            "any user in the tenant. You might have sent your authentication request to the wrong tenant.",
        )

    def _check_delegated_scopes(self, scopes: list[str]) -> Response | None:
        resources = {self._split_scope(scope)[0] for scope in scopes if scope not in OIDC_SCOPES}
        if len(resources) > 1:
            return self._error(
                400,
                "invalid_request",
                28000,
                "Provided value for the input parameter scope is not valid because it contains more than one "
                "resource. Scope " + " ".join(scopes) + " is not valid.",
            )
        for resource in resources:
            if resource.rstrip("/").lower() not in self._resources:
                return self._unknown_resource(resource)
        return None

    @staticmethod
    def _split_scope(scope: str) -> tuple[str, str]:
        resource, _, name = scope.rpartition("/")
        return resource, name

    def _device_code_grant(self, app: App, form: dict[str, str]) -> Response:
        with self._lock:
            device = self._device_codes.get(form.get("device_code", ""))
        if device is None or device.client_id != app.client_id:
            return self._error(
                400,
                "bad_verification_code",
                70019,
                "Verification code expired or was not recognized.",
            )
        if device.state == "redeemed" or self.clock() >= device.expires_at:
            return self._error(
                400,
                "expired_token",
                70020,
                "The provided value for the input parameter 'device_code' is not valid. This device code has expired.",
            )
        if device.state == "declined":
            return self._error(400, "authorization_declined", 70000, "The user denied the authorization request.")
        if device.state == "pending":
            return self._error(
                400,
                "authorization_pending",
                70016,
                "The provided request has not yet been authorized by the user. The user must input their code.",
            )
        assert device.user is not None
        with self._lock:
            device.state = "redeemed"
        return self._user_token_response(app, device.user, device.scopes, refresh_token=None)

    def _refresh_grant(self, app: App, form: dict[str, str]) -> Response:
        with self._lock:
            rt = self._refresh_tokens.get(form.get("refresh_token", ""))
        now = self.clock()
        if rt is None or rt.client_id != app.client_id:
            return self._error(
                400,
                "invalid_grant",
                9002313,
                "Invalid request. Request is malformed or invalid.",
            )
        with self._lock:
            if rt.revoked is None and now - rt.last_used > self.refresh_token_max_inactive:
                rt.revoked = "expired"
        if rt.revoked == "revoked":
            return self._error(
                400,
                "invalid_grant",
                50173,
                "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might "
                "have changed or reset their password.",
            )
        if rt.revoked == "expired":
            return self._error(
                400,
                "invalid_grant",
                700082,
                f"The refresh token has expired due to inactivity. The token was issued on "
                f"{datetime.fromtimestamp(rt.last_used, UTC):%Y-%m-%dT%H:%M:%S}Z and was inactive for "
                f"{int(self.refresh_token_max_inactive)} seconds.",
            )
        scopes = form.get("scope", "").split()
        problem = self._check_delegated_scopes(scopes)
        if problem is not None:
            return problem
        with self._lock:
            rt.last_used = now
        return self._user_token_response(app, rt.user, scopes, refresh_token=rt)

    def _user_token_response(
        self, app: App, user: User, scopes: list[str], refresh_token: _RefreshToken | None
    ) -> Response:
        resource_scopes = [scope for scope in scopes if scope not in OIDC_SCOPES]
        resource = self._split_scope(resource_scopes[0])[0] if resource_scopes else "https://graph.microsoft.com"
        names = {self._split_scope(scope)[1] for scope in resource_scopes}
        if ".default" in names:
            names = names - {".default"} | self._resources.get(resource.rstrip("/").lower(), set())
        info = self._issue_access_token("user", app.client_id, resource, frozenset(names), user)
        granted = [f"{resource}/{name}" for name in sorted(names)] + [s for s in scopes if s in OIDC_SCOPES]
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join(granted),
            "expires_in": self.access_token_lifetime,
            "ext_expires_in": self.access_token_lifetime,
            "access_token": info.token,
        }
        if "offline_access" in scopes:
            new_rt = _RefreshToken(secrets.token_urlsafe(64), app.client_id, user, self.tenant_id, self.clock())
            with self._lock:
                self._refresh_tokens[new_rt.token] = new_rt
            body["refresh_token"] = new_rt.token
        if "openid" in scopes:
            now = int(self.clock())
            body["id_token"] = unsigned_jwt(
                {
                    "aud": app.client_id,
                    "iss": f"{self.base_url}/{self.tenant_id}/v2.0",
                    "iat": now,
                    "nbf": now,
                    "exp": now + 3600,
                    "name": user.name,
                    "oid": user.oid,
                    "preferred_username": user.upn,
                    "sub": _b64url(user.oid.encode())[:43],
                    "tid": self.tenant_id,
                    "ver": "2.0",
                }
            )
        # client_info lets MSAL build home_account_id "<uid>.<utid>" and cache an Account
        body["client_info"] = _b64url(json.dumps({"uid": user.oid, "utid": self.tenant_id}).encode())
        return Response.json(200, body, headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"})

    def _issue_access_token(
        self, kind: str, client_id: str, resource: str, scopes: frozenset[str], user: User | None
    ) -> AccessTokenInfo:
        now = self.clock()
        expires_at = now + self.access_token_lifetime
        claims: dict[str, Any] = {
            "aud": resource,
            "iss": f"{self.base_url}/{self.tenant_id}/",
            "iat": int(now),
            "nbf": int(now),
            "exp": int(expires_at),
            "appid": client_id,
            "tid": self.tenant_id,
            "idtyp": kind,
            "uti": secrets.token_urlsafe(16),
            "ver": "1.0",
        }
        if user is not None:
            claims.update({"oid": user.oid, "upn": user.upn, "name": user.name, "scp": " ".join(sorted(scopes))})
        else:
            claims.update({"oid": str(uuid.uuid5(uuid.NAMESPACE_URL, client_id)), "roles": []})
        info = AccessTokenInfo(
            token=unsigned_jwt(claims),
            kind=kind,
            client_id=client_id,
            audience=resource,
            scopes=scopes,
            roles=frozenset(),
            tenant_id=self.tenant_id,
            expires_at=expires_at,
            user=user,
        )
        with self._lock:
            self._access_tokens[info.token] = info
        return info
