"""Errors cross layers as stable codes (plus English from one table), never as prose to parse."""

from __future__ import annotations

import json
import time

import pytest

from shared.config import Settings
from shared.integrations.d365.client import DataverseError
from shared.integrations.errors import ERROR_TEXTS, IntegrationError, IntegrationErrorCode, code_for_status
from shared.integrations.identity import SignInError
from shared.integrations.partner_center.client import PartnerCenterError

# -- the HTTP layer: a refused domain is answered with its code ---------------------------------------------------


@pytest.fixture
def runtime(tmp_path):
    from shared.runtime import Runtime
    from shared.store.keys import ApiKeyStore

    context = Runtime(Settings(database_url=f"sqlite:///{tmp_path / 'hunter.db'}"), time.monotonic())
    key = ApiKeyStore(context.engine).create("reader", ["read", "scan"])[0]
    return context, key


def _call(runtime, method: str, path: str, body: object = None) -> tuple[int, dict]:
    from shared.http.dispatch import dispatch
    from shared.http.types import HttpRequest

    context, key = runtime
    headers = {"x-api-key": key, "content-type": "application/json"}
    raw = json.dumps(body).encode() if body is not None else b""
    reply = dispatch(HttpRequest(method, path, headers=headers, body=raw), context)
    return reply.status, json.loads(reply.body_bytes() or b"null")


def test_a_lead_address_that_is_no_domain_is_a_422_with_the_reason_code(runtime) -> None:
    status, problem = _call(runtime, "GET", "/v1/leads/not a domain")
    assert status == 422, problem
    assert problem["errors"] == [
        {"field": "domain", "message": "contains spaces; a domain has none", "code": "contains_spaces", "params": {}}
    ]
    assert problem["detail"] == "contains spaces; a domain has none"


def test_a_scan_of_a_public_suffix_is_a_422_with_the_code_and_its_params(runtime) -> None:
    status, problem = _call(runtime, "POST", "/v1/scan", {"domain": "com.tr"})
    assert status == 422, problem
    (item,) = problem["errors"]
    assert item == {
        "field": "domain",
        "message": "'com.tr' is a public suffix, not a company domain",
        "code": "public_suffix",
        "params": {"suffix": "com.tr"},
    }


# -- integration errors: one base, a Hunter code and `permanent` on every one --------------------------------------


def test_every_integration_code_has_an_english_text() -> None:
    assert set(ERROR_TEXTS) == set(IntegrationErrorCode)
    assert all(text.strip() for text in ERROR_TEXTS.values())


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (0, "network"),
        (200, "unexpected_answer"),
        (400, "bad_request"),
        (401, "unauthorized"),
        (403, "forbidden"),
        (404, "not_found"),
        (408, "server_error"),
        (412, "bad_request"),
        (429, "throttled"),
        (500, "server_error"),
        (503, "server_error"),
    ],
)
def test_http_statuses_map_to_codes(status: int, code: str) -> None:
    assert code_for_status(status) == code


def test_dataverse_error_keeps_its_text_and_moves_the_odata_code_to_service_code() -> None:
    error = DataverseError(400, "0x80048d19", "'new_notacolumn' is not a property of lead", permanent=True)
    assert isinstance(error, IntegrationError)
    assert error.code == "bad_request" and error.permanent and error.service_code == "0x80048d19"
    assert error.describe() == "HTTP 400 0x80048d19: 'new_notacolumn' is not a property of lead"
    assert str(error) == "400 0x80048d19 'new_notacolumn' is not a property of lead"
    network = DataverseError(0, None, "ConnectTimeout talking to Dataverse", permanent=False)
    assert (network.code, network.permanent, network.service_code) == ("network", False, None)
    assert network.describe() == "HTTP 0: ConnectTimeout talking to Dataverse"
    throttled = DataverseError(
        503, None, "Busy", permanent=False, hunter_code=IntegrationErrorCode.THROTTLED
    )  # a 503 with Retry-After is Dataverse's throttling
    assert throttled.code == "throttled"


def test_partner_center_error_keeps_its_text() -> None:
    error = PartnerCenterError(403, "Forbidden", "the account is not in a partner role")
    assert isinstance(error, IntegrationError)
    assert (error.code, error.permanent, error.service_code) == ("forbidden", True, "Forbidden")
    assert error.describe() == "Partner Center HTTP 403 Forbidden: the account is not in a partner role"
    network = PartnerCenterError(0, None, "ReadTimeout talking to Partner Center")
    assert (network.code, network.permanent) == ("network", False)
    assert network.describe() == "Partner Center network: ReadTimeout talking to Partner Center"
    assert PartnerCenterError(429, None, "slow down (Retry-After 300 s)").permanent is False
    assert PartnerCenterError(200, "unexpectedBody", "the answer is not JSON").code == "unexpected_answer"


def test_sign_in_error_codes() -> None:
    login = SignInError("nobody has signed in to Partner Center: run `hunter pc login`", needs_login=True, code="x")
    assert isinstance(login, IntegrationError)
    assert (login.code, login.needs_login, login.permanent, login.service_code) == ("needs_login", True, False, "x")
    assert login.describe() == str(login) == "nobody has signed in to Partner Center: run `hunter pc login`"
    failed = SignInError("Dataverse sign-in failed: invalid_client: bad secret", code="invalid_client")
    assert (failed.code, failed.needs_login, failed.service_code) == ("sign_in_failed", False, "invalid_client")
    missing = SignInError("D365 needs settings", hunter_code=IntegrationErrorCode.NOT_CONFIGURED)
    assert missing.code == "not_configured" and not missing.needs_login


def test_the_base_describes_with_the_table_text_and_the_detail() -> None:
    error = IntegrationError("column new_x: no option value", code="mapping_invalid", permanent=True)
    assert error.describe() == "the field mapping is not valid: column new_x: no option value"
    assert error.text == ERROR_TEXTS[IntegrationErrorCode.MAPPING_INVALID]
    with pytest.raises(ValueError):
        IntegrationError("x", code="no_such_code")
