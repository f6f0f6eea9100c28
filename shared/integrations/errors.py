"""What every integration error (Dataverse, Partner Center, Microsoft sign-in) has in common.

A failure crosses layers as a stable Hunter reason ``code`` (the same for every service, so a
queue handler, a health probe or a client decides on it without parsing text) and ``permanent``
(no retry can help: a bad request, a missing privilege). The service's own error code, where it
sent one, is ``service_code``. The English wording of each code is written once, in
:data:`ERROR_TEXTS`; :meth:`IntegrationError.describe` adds the service's own detail to it.
"""

from __future__ import annotations

from enum import StrEnum


class IntegrationErrorCode(StrEnum):
    THROTTLED = "throttled"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    BAD_REQUEST = "bad_request"
    SERVER_ERROR = "server_error"
    NETWORK = "network"
    UNEXPECTED_ANSWER = "unexpected_answer"
    NEEDS_LOGIN = "needs_login"
    SIGN_IN_FAILED = "sign_in_failed"
    NOT_CONFIGURED = "not_configured"
    MAPPING_INVALID = "mapping_invalid"


# The English text of each code, the one place it is written.
ERROR_TEXTS: dict[IntegrationErrorCode, str] = {
    IntegrationErrorCode.THROTTLED: "the service is throttling requests; a later retry goes through",
    IntegrationErrorCode.UNAUTHORIZED: "the service refused the credentials",
    IntegrationErrorCode.FORBIDDEN: "the service denied access: the app registration lacks a privilege",
    IntegrationErrorCode.NOT_FOUND: "the service does not know the resource asked for",
    IntegrationErrorCode.BAD_REQUEST: "the service refused the request (a wrong mapping or value)",
    IntegrationErrorCode.SERVER_ERROR: "the service failed; a later retry may go through",
    IntegrationErrorCode.NETWORK: "the service could not be reached",
    IntegrationErrorCode.UNEXPECTED_ANSWER: "the service answered something Hunter cannot read",
    IntegrationErrorCode.NEEDS_LOGIN: "a person must sign in again",
    IntegrationErrorCode.SIGN_IN_FAILED: "the sign-in failed",
    IntegrationErrorCode.NOT_CONFIGURED: "the integration is not configured",
    IntegrationErrorCode.MAPPING_INVALID: "the field mapping is not valid",
}


def code_for_status(status: int) -> IntegrationErrorCode:
    """The reason code of an HTTP status a service answered (0: no answer at all)."""
    if status == 0:
        return IntegrationErrorCode.NETWORK
    if status == 429:
        return IntegrationErrorCode.THROTTLED
    if status == 401:
        return IntegrationErrorCode.UNAUTHORIZED
    if status == 403:
        return IntegrationErrorCode.FORBIDDEN
    if status == 404:
        return IntegrationErrorCode.NOT_FOUND
    if status >= 500 or status == 408:
        return IntegrationErrorCode.SERVER_ERROR
    if status >= 400:
        return IntegrationErrorCode.BAD_REQUEST
    return IntegrationErrorCode.UNEXPECTED_ANSWER  # a success status with a body Hunter cannot use


class IntegrationError(RuntimeError):
    """A call to an outside service failed. ``code`` says why, ``permanent`` whether a retry can help."""

    code: IntegrationErrorCode
    permanent: bool
    service_code: str | None

    def __init__(
        self,
        message: str,
        *,
        code: str,
        permanent: bool = False,
        service_code: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = IntegrationErrorCode(code)
        self.permanent = permanent
        self.service_code = service_code
        self.detail = message if detail is None else detail

    @property
    def text(self) -> str:
        """The English text of :attr:`code`."""
        return ERROR_TEXTS[self.code]

    def describe(self) -> str:
        """English for an operator: the code's text, then the service's own detail."""
        return f"{self.text}: {self.detail}" if self.detail else self.text
