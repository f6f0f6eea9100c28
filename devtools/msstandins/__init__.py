"""Local HTTPS stand-ins for Microsoft's identity platform, Dataverse Web API and the
Partner Center Referrals API, for tests, benchmarks and the demo.

Real clients -- MSAL for Python, httpx -- talk to them over TLS on 127.0.0.1 exactly as they
would to Microsoft, with certificate verification on (the test CA is in ``ca_path``)::

    with start_standins() as ms:
        app = msal.ConfidentialClientApplication(
            ms.confidential_client_id, client_credential=ms.confidential_client_secret,
            authority=ms.authority, instance_discovery=False, http_client=ms.msal_http_client())
        token = app.acquire_token_for_client([ms.dataverse_scope])["access_token"]
        with httpx.Client(verify=ms.ssl_context()) as http:
            http.patch(f"{ms.dataverse_url}/api/data/v9.2/leads(new_domain='acme.com.tr')",
                       json={"companyname": "Acme"}, headers={"Authorization": f"Bearer {token}"})
        assert ms.dataverse.snapshot().creates == 1

Nothing in production imports this package.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from devtools.msstandins.dataverse import DataverseStandin, DataverseStats
from devtools.msstandins.identity import AccessTokenInfo, IdentityStandin, decode_claims
from devtools.msstandins.referrals import (
    RESOURCE_ID as PARTNER_CENTER_RESOURCE,
)
from devtools.msstandins.referrals import (
    SCOPE as PARTNER_CENTER_SCOPE,
)
from devtools.msstandins.referrals import (
    ReferralsStandin,
    ReferralsStats,
    make_referral,
)
from devtools.msstandins.server import HTTPSServer
from devtools.msstandins.tls import TestTLS

__all__ = [
    "PARTNER_CENTER_RESOURCE",
    "PARTNER_CENTER_SCOPE",
    "AccessTokenInfo",
    "DataverseStandin",
    "DataverseStats",
    "IdentityStandin",
    "ReferralsStandin",
    "ReferralsStats",
    "Standins",
    "TestTLS",
    "decode_claims",
    "make_referral",
    "start_standins",
]

DEFAULT_TENANT_ID = "6f3c1b52-3d8a-4c7e-9b1a-2f4d5e6a7b8c"
CONFIDENTIAL_CLIENT_ID = "0c6f7a1e-52d4-4b8e-9a51-7f0e3c2d1b00"  # "Hunter Dataverse push" (client credentials)
PUBLIC_CLIENT_ID = "9e2d4c3b-1a0f-4e6d-8c7b-5a4f3e2d1c00"  # "Hunter Partner Center sync" (device code)


@dataclass
class Standins:
    """The three running stand-ins, their URLs, the CA, and the in-memory state."""

    tls: TestTLS
    identity: IdentityStandin
    dataverse: DataverseStandin
    referrals: ReferralsStandin
    confidential_client_id: str
    confidential_client_secret: str
    public_client_id: str
    servers: list[HTTPSServer] = field(default_factory=list)

    @property
    def authority_host(self) -> str:
        """``https://127.0.0.1:PORT`` of the identity stand-in."""
        return self.identity.base_url

    @property
    def authority(self) -> str:
        """MSAL ``authority=``: ``https://127.0.0.1:PORT/<tenant id>`` (use ``instance_discovery=False``)."""
        return self.identity.authority

    @property
    def tenant_id(self) -> str:
        return self.identity.tenant_id

    @property
    def dataverse_url(self) -> str:
        """The organization URL (Web API at ``/api/data/v9.2``); also the token resource."""
        return self.dataverse.base_url

    @property
    def dataverse_scope(self) -> str:
        """Client-credentials scope for the Dataverse stand-in: ``<org url>/.default``."""
        return f"{self.dataverse.base_url}/.default"

    @property
    def partner_center_url(self) -> str:
        """Base URL replacing ``https://api.partner.microsoft.com`` (API under ``/v1.0/engagements/referrals``)."""
        return self.referrals.base_url

    @property
    def partner_center_scope(self) -> str:
        """The real delegated scope; the stand-in accepts tokens for the real resource id."""
        return PARTNER_CENTER_SCOPE

    @property
    def ca_path(self) -> Path:
        return self.tls.ca_path

    def ssl_context(self) -> Any:
        """A verifying ``ssl.SSLContext`` trusting only the test CA (``httpx.Client(verify=...)``)."""
        return self.tls.client_context()

    def msal_http_client(self) -> requests.Session:
        """A ``requests.Session`` for MSAL's ``http_client=`` that trusts only the test CA.

        MSAL's ``verify=`` ends up as ``Session.verify``, which requests ignores whenever
        ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` is set (the environment wins while
        ``trust_env`` is on), so tests pass this session instead; ``trust_env`` is off.
        """
        session = requests.Session()
        session.trust_env = False
        session.verify = str(self.ca_path)
        return session

    def env(self) -> dict[str, str]:
        """Variables for a child process: the CA bundle plus every URL, id and secret."""
        return {
            **self.tls.env(),
            "MSSTANDINS_AUTHORITY": self.authority,
            "MSSTANDINS_TENANT_ID": self.tenant_id,
            "MSSTANDINS_DATAVERSE_URL": self.dataverse_url,
            "MSSTANDINS_DATAVERSE_SCOPE": self.dataverse_scope,
            "MSSTANDINS_PARTNER_CENTER_URL": self.partner_center_url,
            "MSSTANDINS_PARTNER_CENTER_SCOPE": self.partner_center_scope,
            "MSSTANDINS_CONFIDENTIAL_CLIENT_ID": self.confidential_client_id,
            "MSSTANDINS_CONFIDENTIAL_CLIENT_SECRET": self.confidential_client_secret,
            "MSSTANDINS_PUBLIC_CLIENT_ID": self.public_client_id,
        }

    def reset(self) -> None:
        """Clear rows, referrals, counters and injected faults between tests sharing one instance."""
        self.dataverse.reset()
        self.referrals.reset()

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()
        self.servers.clear()
        self.tls.cleanup()

    def __enter__(self) -> Standins:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_standins(
    *,
    tenant_id: str = DEFAULT_TENANT_ID,
    alternate_key: str = "new_domain",
    extra_columns: dict[str, str] | None = None,
    d365_mapping: Path | None = None,
    referral_page_size: int = 100,
    tls: TestTLS | None = None,
) -> Standins:
    """Start identity, Dataverse and Referrals stand-ins on free loopback ports.

    Registers a confidential client (client credentials, random secret) and a public client
    (device code), and the Dataverse org URL and Partner Center as resources. With
    ``d365_mapping`` (a Hunter column mapping, e.g. the bundled one) the lead table also has the
    custom columns and option sets that mapping writes, as a customised Dataverse org would.
    Returns a :class:`Standins`; use it as a context manager or call :meth:`Standins.stop`.
    """
    option_sets: dict = {}
    if d365_mapping is not None:
        from shared.integrations.d365.mapping import load_mapping

        columns, option_sets = load_mapping(d365_mapping).required_columns()
        extra_columns = {**columns, **(extra_columns or {})}
    tls = tls or TestTLS()
    identity = IdentityStandin(tenant_id)
    dataverse = DataverseStandin(identity, alternate_key=alternate_key, extra_columns=extra_columns)
    dataverse.option_sets.update(option_sets)
    referrals = ReferralsStandin(identity, page_size=referral_page_size)
    servers: list[HTTPSServer] = []
    try:
        for app, name in ((identity, "identity"), (dataverse, "dataverse"), (referrals, "referrals")):
            server = HTTPSServer(app, tls.server_context(), name=name)
            app.base_url = server.url
            servers.append(server.start())
    except BaseException:
        for server in servers:
            server.stop()
        tls.cleanup()
        raise
    identity.register_resource(dataverse.base_url, ["user_impersonation"])
    identity.register_resource(referrals.base_url, ["user_impersonation"])
    identity.register_resource(PARTNER_CENTER_RESOURCE, ["user_impersonation"])
    secret = secrets.token_urlsafe(30)
    identity.register_app(CONFIDENTIAL_CLIENT_ID, secret, name="Hunter Dataverse push", public=False)
    identity.register_app(PUBLIC_CLIENT_ID, None, name="Hunter Partner Center sync", public=True)
    return Standins(tls, identity, dataverse, referrals, CONFIDENTIAL_CLIENT_ID, secret, PUBLIC_CLIENT_ID, servers)
