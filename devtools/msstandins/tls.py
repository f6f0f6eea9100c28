"""A throwaway certificate authority and a loopback server certificate for the stand-ins.

Real MSAL and httpx only talk HTTPS with certificate verification on, so the stand-ins
present a certificate for ``127.0.0.1``, ``localhost`` and ``::1`` issued by a test CA
made with ``trustme``. Clients trust it through :attr:`TestTLS.ca_path` (``verify=`` for
MSAL/requests, :meth:`TestTLS.client_context` for httpx, or the ``SSL_CERT_FILE`` /
``REQUESTS_CA_BUNDLE`` variables from :meth:`TestTLS.env`); verification is never turned off.
"""

from __future__ import annotations

import shutil
import ssl
import tempfile
from pathlib import Path

import trustme

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


class TestTLS:
    """One CA and one server certificate, with the CA bundle written to a file.

    The CA lives only in memory and in ``directory`` (a temporary folder by default,
    removed by :meth:`cleanup`), so nothing here can be trusted outside one test run.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, directory: Path | None = None) -> None:
        self._owns_directory = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="msstandins-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        self.ca = trustme.CA(organization_name="Hunter test CA (msstandins)")
        self.cert = self.ca.issue_cert(*LOOPBACK_NAMES)
        self.ca_path = self.directory / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_path))

    def server_context(self) -> ssl.SSLContext:
        """A TLS 1.2+ server context presenting the loopback certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.cert.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts only the test CA (for ``httpx.Client(verify=...)``)."""
        return ssl.create_default_context(cafile=str(self.ca_path))

    def env(self) -> dict[str, str]:
        """Environment variables that make requests/httpx/OpenSSL trust the test CA in a child process."""
        path = str(self.ca_path)
        return {"SSL_CERT_FILE": path, "REQUESTS_CA_BUNDLE": path}

    def cleanup(self) -> None:
        """Remove the CA bundle folder when this object created it."""
        if self._owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)
