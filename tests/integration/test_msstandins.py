"""The Microsoft stand-ins, driven by the real MSAL for Python and httpx over HTTPS on 127.0.0.1.

Nothing is mocked: MSAL does its OpenID discovery, token and device-code requests against the
identity stand-in, httpx calls the Dataverse and Referrals stand-ins with the bearer tokens it
got, and both verify the stand-ins' certificate against the test CA.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msal
import pytest
import requests

from devtools.msstandins import (
    PARTNER_CENTER_RESOURCE,
    Standins,
    decode_claims,
    make_referral,
    start_standins,
)
from devtools.msstandins.referrals import format_timestamp

REPO = Path(__file__).resolve().parents[2]
LEADS = "/api/data/v9.2/leads"


@pytest.fixture
def ms() -> Iterator[Standins]:
    with start_standins() as standins:
        standins.identity.device_code_interval = 1  # MSAL sleeps `interval` seconds between polls
        yield standins


@pytest.fixture
def http(ms: Standins) -> Iterator[httpx.Client]:
    with httpx.Client(verify=ms.ssl_context(), timeout=10) as client:
        yield client


def confidential_app(ms: Standins, secret: str | None = None) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        ms.confidential_client_id,
        client_credential=secret or ms.confidential_client_secret,
        authority=ms.authority,
        instance_discovery=False,
        http_client=ms.msal_http_client(),
    )


def public_app(ms: Standins, cache: msal.TokenCache | None = None) -> msal.PublicClientApplication:
    return msal.PublicClientApplication(
        ms.public_client_id,
        authority=ms.authority,
        instance_discovery=False,
        http_client=ms.msal_http_client(),
        token_cache=cache,
    )


def dataverse_token(ms: Standins) -> str:
    result = confidential_app(ms).acquire_token_for_client([ms.dataverse_scope])
    assert "access_token" in result, result
    return str(result["access_token"])


def device_code_sign_in(ms: Standins, app: msal.PublicClientApplication, user: str = "seller@contoso.com") -> dict:
    flow = app.initiate_device_flow(scopes=[ms.partner_center_scope])
    assert "user_code" in flow, flow
    ms.identity.approve_device_code(flow["user_code"], user)
    result = app.acquire_token_by_device_flow(flow)
    assert "access_token" in result, result
    return dict(result)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --------------------------------------------------------------------------- identity + MSAL


def test_client_credentials_token_for_the_dataverse_scope(ms: Standins) -> None:
    app = confidential_app(ms)
    first = app.acquire_token_for_client([ms.dataverse_scope])
    assert first["token_type"] == "Bearer" and first["token_source"] == "identity_provider"
    assert "refresh_token" not in first  # client credentials never get one
    claims = decode_claims(first["access_token"])
    assert claims["aud"] == ms.dataverse_url and claims["idtyp"] == "app" and claims["tid"] == ms.tenant_id
    assert claims["appid"] == ms.confidential_client_id
    second = app.acquire_token_for_client([ms.dataverse_scope])
    assert second["token_source"] == "cache" and second["access_token"] == first["access_token"]
    assert ms.identity.stats.discovery == 1  # MSAL fetched the OpenID configuration once, nothing else
    assert ms.identity.stats.token_requests == {"client_credentials": 1}


def test_wrong_secret_comes_back_as_msals_error_dict(ms: Standins) -> None:
    result = confidential_app(ms, secret="not-the-secret").acquire_token_for_client([ms.dataverse_scope])
    assert "access_token" not in result
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000215]
    assert result["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")


def test_client_credentials_need_a_dot_default_scope(ms: Standins) -> None:
    result = confidential_app(ms).acquire_token_for_client([f"{ms.dataverse_url}/user_impersonation"])
    assert result["error"] == "invalid_scope" and result["error_codes"] == [1002012]
    unknown = confidential_app(ms).acquire_token_for_client(["https://unknown.example/.default"])
    assert unknown["error"] == "invalid_resource" and unknown["error_codes"] == [500011]


def test_msal_verify_argument_loses_to_requests_ca_bundle(ms: Standins, monkeypatch: pytest.MonkeyPatch) -> None:
    """requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override Session.verify, which is where MSAL's
    ``verify=`` goes; hence ``http_client=ms.msal_http_client()`` in these tests."""
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(Path(requests.certs.where())))
    with pytest.raises(requests.exceptions.SSLError):
        msal.ConfidentialClientApplication(
            ms.confidential_client_id,
            client_credential=ms.confidential_client_secret,
            authority=ms.authority,
            instance_discovery=False,
            verify=str(ms.ca_path),
        )
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    app = msal.ConfidentialClientApplication(
        ms.confidential_client_id,
        client_credential=ms.confidential_client_secret,
        authority=ms.authority,
        instance_discovery=False,
        verify=str(ms.ca_path),
    )
    assert "access_token" in app.acquire_token_for_client([ms.dataverse_scope])


def test_device_code_flow_pending_until_approved(ms: Standins, http: httpx.Client) -> None:
    app = public_app(ms)
    flow = app.initiate_device_flow(scopes=[ms.partner_center_scope])
    assert flow["interval"] == 1 and flow["expires_in"] == 900
    assert flow["verification_uri"].startswith(ms.authority_host) and flow["user_code"] in flow["message"]
    pending = app.acquire_token_by_device_flow(flow, exit_condition=lambda flow: True)  # one poll, no waiting
    assert pending["error"] == "authorization_pending" and pending["error_codes"] == [70016]
    assert ms.identity.pending_device_codes() == [flow["user_code"]]

    ms.identity.approve_device_code(flow["user_code"], "seller@contoso.com")
    result = app.acquire_token_by_device_flow(flow)
    assert {"access_token", "refresh_token", "id_token"} <= set(result)
    assert result["id_token_claims"]["preferred_username"] == "seller@contoso.com"
    claims = decode_claims(result["access_token"])
    assert claims["aud"] == PARTNER_CENTER_RESOURCE and claims["scp"] == "user_impersonation"
    assert [account["username"] for account in app.get_accounts()] == ["seller@contoso.com"]
    answer = http.get(f"{ms.partner_center_url}/v1.0/engagements/referrals", headers=bearer(result["access_token"]))
    assert answer.status_code == 200

    again = app.acquire_token_by_device_flow(flow, exit_condition=lambda flow: True)
    assert again["error"] == "expired_token"  # a device code is redeemed once


def test_device_code_declined_and_expired(ms: Standins) -> None:
    app = public_app(ms)
    declined = app.initiate_device_flow(scopes=[ms.partner_center_scope])
    ms.identity.decline_device_code(declined["user_code"])
    assert app.acquire_token_by_device_flow(declined)["error"] == "authorization_declined"

    ms.identity.device_code_lifetime = 0
    expired = app.initiate_device_flow(scopes=[ms.partner_center_scope])
    result = app.acquire_token_by_device_flow(expired, exit_condition=lambda flow: True)
    assert result["error"] == "expired_token" and result["error_codes"] == [70020]


def test_silent_refresh_after_expiry_with_a_serialized_cache(ms: Standins, http: httpx.Client) -> None:
    ms.identity.access_token_lifetime = 1
    cache = msal.SerializableTokenCache()
    first = device_code_sign_in(ms, public_app(ms, cache))
    referrals = f"{ms.partner_center_url}/v1.0/engagements/referrals"
    assert http.get(referrals, headers=bearer(first["access_token"])).status_code == 200
    time.sleep(1.1)
    expired = http.get(referrals, headers=bearer(first["access_token"]))
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "unauthenticated"

    restored = msal.SerializableTokenCache()
    restored.deserialize(cache.serialize())  # e.g. written to disk by one run, read by the next
    app = public_app(ms, restored)
    (account,) = app.get_accounts()
    refreshed = app.acquire_token_silent([ms.partner_center_scope], account=account)
    assert refreshed is not None and refreshed["token_source"] == "identity_provider"
    assert refreshed["access_token"] != first["access_token"]
    assert ms.identity.stats.token_requests.get("refresh_token") == 1
    assert restored.has_state_changed  # the rotated refresh token is there to be saved again
    assert http.get(referrals, headers=bearer(refreshed["access_token"])).status_code == 200


@pytest.mark.parametrize(("reason", "code"), [("revoked", 50173), ("expired", 700082)])
def test_invalidated_refresh_token_is_invalid_grant(ms: Standins, reason: str, code: int) -> None:
    app = public_app(ms)
    device_code_sign_in(ms, app, "seller@contoso.com")
    assert ms.identity.revoke_refresh_tokens("seller@contoso.com", reason=reason) == 1
    (account,) = app.get_accounts()
    result = app.acquire_token_silent_with_error([ms.partner_center_scope], account=account, force_refresh=True)
    assert result is not None and result["error"] == "invalid_grant"
    assert result["error_codes"] == [code] and result["error_description"].startswith(f"AADSTS{code}:")


# --------------------------------------------------------------------------- Dataverse


def test_upsert_by_alternate_key_creates_then_updates(ms: Standins, http: httpx.Client) -> None:
    headers = bearer(dataverse_token(ms))
    url = f"{ms.dataverse_url}{LEADS}(new_domain='acme.com.tr')"
    created = http.patch(url, json={"companyname": "Acme", "new_leadscore": 72}, headers=headers)
    assert created.status_code == 204 and created.content == b""
    assert created.headers["OData-Version"] == "4.0" and created.headers["x-ms-dop-hint"] == "8"
    row = ms.dataverse.row_by_key("acme.com.tr")
    assert row is not None and row["companyname"] == "Acme" and row["statecode"] == 0
    assert created.headers["OData-EntityId"] == f"{ms.dataverse_url}{LEADS}({row['leadid']})"

    updated = http.patch(url, json={"new_leadscore": 80}, headers=headers)
    assert updated.status_code == 204 and updated.headers["OData-EntityId"] == created.headers["OData-EntityId"]
    stats = ms.dataverse.snapshot()
    assert (stats.creates, stats.updates, ms.dataverse.count()) == (1, 1, 1)
    assert ms.dataverse.row_by_key("ACME.com.tr")["new_leadscore"] == 80  # type: ignore[index]


def test_upsert_with_return_representation_and_select(ms: Standins, http: httpx.Client) -> None:
    headers = {**bearer(dataverse_token(ms)), "Prefer": "return=representation"}
    url = f"{ms.dataverse_url}{LEADS}(new_domain='beta.com')"
    created = http.patch(
        url, params={"$select": "companyname,new_leadscore"}, json={"companyname": "Beta"}, headers=headers
    )
    assert created.status_code == 201 and created.headers["Preference-Applied"] == "return=representation"
    assert "OData-EntityId" not in created.headers
    body = created.json()
    assert set(body) == {"@odata.context", "@odata.etag", "companyname", "new_leadscore", "leadid"}
    assert body["companyname"] == "Beta" and body["new_leadscore"] is None
    assert body["@odata.context"].endswith("/$metadata#leads/$entity")

    updated = http.patch(url, params={"$select": "new_leadscore"}, json={"new_leadscore": 55}, headers=headers)
    assert updated.status_code == 200 and updated.json()["new_leadscore"] == 55
    assert updated.json()["leadid"] == body["leadid"] and updated.json()["@odata.etag"] != body["@odata.etag"]


def test_if_match_and_if_none_match_limit_the_upsert(ms: Standins, http: httpx.Client) -> None:
    token = bearer(dataverse_token(ms))
    url = f"{ms.dataverse_url}{LEADS}(new_domain='gamma.com')"
    missing = http.patch(url, json={"companyname": "Gamma"}, headers={**token, "If-Match": "*"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "0x80040217"
    assert ms.dataverse.count() == 0  # If-Match: * never creates

    create_only = {**token, "If-None-Match": "*"}
    assert http.patch(url, json={"companyname": "Gamma"}, headers=create_only).status_code == 204
    exists = http.patch(url, json={"companyname": "Gamma 2"}, headers=create_only)
    assert exists.status_code == 412
    assert exists.json()["error"]["message"] == "A record with matching key values already exists."
    assert ms.dataverse.row_by_key("gamma.com")["companyname"] == "Gamma"  # type: ignore[index]

    assert http.patch(url, json={"companyname": "Gamma 3"}, headers={**token, "If-Match": "*"}).status_code == 204
    stale = http.patch(url, json={"companyname": "Gamma 4"}, headers={**token, "If-Match": 'W/"1"'})
    assert stale.status_code == 412  # optimistic concurrency on a stale row version
    stats = ms.dataverse.snapshot()
    assert (stats.creates, stats.updates, stats.precondition_failed, stats.not_found) == (1, 1, 2, 1)


def test_bad_bodies_and_queries_are_odata_400s(ms: Standins, http: httpx.Client) -> None:
    headers = bearer(dataverse_token(ms))
    url = f"{ms.dataverse_url}{LEADS}(new_domain='delta.com')"
    unknown = http.patch(url, json={"companyname": "Delta", "bogus_column": 1}, headers=headers)
    assert unknown.status_code == 400
    assert (
        "Invalid property 'bogus_column' was found in entity 'Microsoft.Dynamics.CRM.lead'"
        in (unknown.json()["error"]["message"])
    )
    option = http.patch(url, json={"leadqualitycode": 9}, headers=headers)
    assert option.status_code == 400 and option.json()["error"]["code"] == "0x8004431a"
    assert option.json()["error"]["message"].endswith("is outside the valid range. Accepted Values: 1,2,3")
    wrong_type = http.patch(url, json={"new_leadscore": "high"}, headers=headers)
    assert wrong_type.status_code == 400 and wrong_type.json()["error"]["code"] == "0x80048d19"
    select = http.get(f"{ms.dataverse_url}{LEADS}", params={"$select": "nope"}, headers=headers)
    assert select.status_code == 400
    assert (
        select.json()["error"]["message"]
        == "Could not find a property named 'nope' on type 'Microsoft.Dynamics.CRM.lead'."
    )
    other_key = http.patch(f"{ms.dataverse_url}{LEADS}(emailaddress1='a@b.c')", json={}, headers=headers)
    assert other_key.status_code == 400
    segment = http.get(f"{ms.dataverse_url}/api/data/v9.2/Leads", headers=headers)
    assert segment.status_code == 404 and segment.json()["error"]["code"] == "0x8006088a"
    assert ms.dataverse.count() == 0 and ms.dataverse.snapshot().bad_requests == 5


def test_reads_by_id_key_and_filter(ms: Standins, http: httpx.Client) -> None:
    headers = bearer(dataverse_token(ms))
    for domain, score in (("one.com", 10), ("two.com", 90), ("three.com", 90)):
        http.patch(f"{ms.dataverse_url}{LEADS}(new_domain='{domain}')", json={"new_leadscore": score}, headers=headers)
    row = ms.dataverse.row_by_key("two.com")
    assert row is not None
    by_id = http.get(f"{ms.dataverse_url}{LEADS}({row['leadid']})", params={"$select": "new_domain"}, headers=headers)
    assert by_id.status_code == 200 and by_id.json()["new_domain"] == "two.com"
    by_key = http.get(f"{ms.dataverse_url}{LEADS}(new_domain='three.com')", headers=headers)
    assert by_key.json()["new_leadscore"] == 90
    listed = http.get(
        f"{ms.dataverse_url}{LEADS}",
        params={"$filter": "new_leadscore eq 90", "$select": "new_domain", "$orderby": "new_domain", "$count": "true"},
        headers=headers,
    ).json()
    assert listed["@odata.count"] == 2 and [item["new_domain"] for item in listed["value"]] == ["three.com", "two.com"]
    gone = http.get(f"{ms.dataverse_url}{LEADS}(new_domain='nine.com')", headers=headers)
    assert gone.status_code == 404


def test_missing_expired_or_foreign_tokens_get_401(ms: Standins, http: httpx.Client) -> None:
    url = f"{ms.dataverse_url}{LEADS}(new_domain='epsilon.com')"
    missing = http.patch(url, json={"companyname": "Epsilon"})
    assert missing.status_code == 401 and missing.content == b""
    assert missing.headers["WWW-Authenticate"] == (
        f"Bearer authorization_uri={ms.authority}/oauth2/authorize, resource_id={ms.dataverse_url}/"
    )
    token = dataverse_token(ms)
    assert http.patch(url, json={"companyname": "Epsilon"}, headers=bearer(token)).status_code == 204
    ms.identity.expire_access_tokens()  # e.g. the token ran out mid-run
    assert http.patch(url, json={"companyname": "Epsilon 2"}, headers=bearer(token)).status_code == 401
    other = confidential_app(ms).acquire_token_for_client([f"{PARTNER_CENTER_RESOURCE}/.default"])
    assert http.patch(url, json={}, headers=bearer(other["access_token"])).status_code == 401  # wrong audience
    assert (
        ms.dataverse.snapshot().unauthorized == 3 and ms.dataverse.row_by_key("epsilon.com")["companyname"] == "Epsilon"
    )  # type: ignore[index]


def test_throttling_retry_after_and_the_violation_counter(ms: Standins, http: httpx.Client) -> None:
    headers = bearer(dataverse_token(ms))
    url = f"{ms.dataverse_url}{LEADS}(new_domain='zeta.com')"
    ms.dataverse.throttle.grace = 0.0
    ms.dataverse.throttle.force(1, retry_after=1)
    throttled = http.patch(url, json={"companyname": "Zeta"}, headers=headers)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"
    assert throttled.json()["error"] == {
        "code": "0x80072322",
        "message": "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
    }
    impatient = http.patch(url, json={"companyname": "Zeta"}, headers=headers)  # ignores Retry-After
    assert impatient.status_code == 429 and ms.dataverse.snapshot().rate_limit_violations == 1
    time.sleep(1.05)
    assert http.patch(url, json={"companyname": "Zeta"}, headers=headers).status_code == 204

    ms.dataverse.throttle.force(1, retry_after=1, reason="execution_time")
    again = http.patch(url, json={"companyname": "Zeta 2"}, headers=headers)
    assert again.status_code == 429 and again.json()["error"]["code"] == "0x80072321"
    time.sleep(int(again.headers["Retry-After"]) + 0.05)  # a polite client
    assert http.patch(url, json={"companyname": "Zeta 2"}, headers=headers).status_code == 204
    stats = ms.dataverse.snapshot()
    assert (stats.throttled, stats.rate_limit_violations, stats.requests_in_retry_window) == (3, 1, 1)
    assert (stats.creates, stats.updates) == (1, 1)


def test_a_parallel_client_that_honours_retry_after_has_no_violations(ms: Standins, http: httpx.Client) -> None:
    """What the benchmark relies on: 8 workers sharing one pause on 429 never count as violators,
    although requests already on the wire when the 429 came back do land inside the window."""
    headers = bearer(dataverse_token(ms))
    ms.dataverse.latency = 0.02
    ms.dataverse.throttle.rate = 0.05  # seeded: the 3rd, 11th and 19th throttle checks are 429s
    ms.dataverse.throttle.retry_after = 1
    # A client that ignored Retry-After would be back within milliseconds; 0.5 s of grace (not 0.2)
    # keeps a thread the busy CI machine descheduled between its check and its send from counting.
    ms.dataverse.throttle.grace = 0.5
    lock = threading.Lock()
    todo = [f"p{index}.com" for index in range(30)]
    resume_at = [0.0]

    def worker() -> None:
        while True:
            with lock:
                if not todo:
                    return
                domain = todo.pop()
            while True:
                while (wait := resume_at[0] - time.monotonic()) > 0:  # re-read: another 429 may move it
                    time.sleep(wait)
                answer = http.patch(f"{ms.dataverse_url}{LEADS}(new_domain='{domain}')", json={}, headers=headers)
                if answer.status_code != 429:
                    assert answer.status_code == 204
                    break
                with lock:
                    resume_at[0] = max(resume_at[0], time.monotonic() + int(answer.headers["Retry-After"]))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats = ms.dataverse.snapshot()
    assert stats.creates == 30 and stats.throttled >= 3
    assert stats.rate_limit_violations == 0


def test_concurrency_limit_share_of_429s_and_503s(ms: Standins, http: httpx.Client) -> None:
    headers = bearer(dataverse_token(ms))
    ms.dataverse.latency = 0.3
    ms.dataverse.max_concurrent_requests = 1
    results: list[httpx.Response] = []

    def call(domain: str) -> None:
        results.append(http.patch(f"{ms.dataverse_url}{LEADS}(new_domain='{domain}')", json={}, headers=headers))

    threads = [threading.Thread(target=call, args=(f"c{index}.com",)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(response.status_code for response in results)
    assert codes == [204, 429]
    (limited,) = [response for response in results if response.status_code == 429]
    assert limited.json()["error"]["code"] == "0x80072326"

    ms.dataverse.latency, ms.dataverse.max_concurrent_requests = 0.0, None
    ms.dataverse.throttle.reset()
    ms.dataverse.throttle.rate = 0.5
    ms.dataverse.throttle.retry_after = 1
    first = [http.get(f"{ms.dataverse_url}/api/data/v9.2/WhoAmI", headers=headers).status_code for _ in range(20)]
    assert first[0] in (200, 429) and 429 in first  # once throttled, this caller waits out the window
    ms.dataverse.throttle.rate = 0.0
    ms.dataverse.throttle.reset()
    ms.dataverse.failures.force(1, status=503)
    assert http.get(f"{ms.dataverse_url}/api/data/v9.2/WhoAmI", headers=headers).status_code == 503
    assert http.get(f"{ms.dataverse_url}/api/data/v9.2/WhoAmI", headers=headers).status_code == 200
    assert ms.dataverse.snapshot().unavailable == 1


# --------------------------------------------------------------------------- Referrals


def seed_referrals(ms: Standins, count: int, start: datetime) -> list[dict[str, Any]]:
    return [
        ms.referrals.add_referral(
            make_referral(
                name=f"Referral {index}",
                customer_name=f"Customer {index} A.S.",
                contact_email=f"it@customer{index}.com.tr",
                created=start + timedelta(hours=index),
                deal_value=1000 * index,
            )
        )
        for index in range(count)
    ]


def test_referrals_page_through_next_links(ms: Standins, http: httpx.Client) -> None:
    token = device_code_sign_in(ms, public_app(ms))["access_token"]
    seeded = seed_referrals(ms, 10, datetime(2026, 1, 5, tzinfo=UTC))
    ms.referrals.page_size = 4
    url: str | None = f"{ms.partner_center_url}/v1.0/engagements/referrals"
    params: dict[str, str] | None = {"$orderby": "createdDateTime asc"}
    pages: list[list[dict[str, Any]]] = []
    while url:
        answer = http.get(url, params=params, headers=bearer(token))
        assert answer.status_code == 200
        body = answer.json()
        assert body["@odata.count"] == 10 and body["@odata.context"].endswith("/v1.0/$metadata#Referrals")
        pages.append(body["value"])
        url, params = body.get("@odata.nextLink"), None
    assert [len(page) for page in pages] == [4, 4, 2]
    received = [item for page in pages for item in page]
    assert [item["id"] for item in received] == [item["id"] for item in seeded]
    first = received[0]
    assert first["type"] == "Independent" and first["direction"] == "Incoming" and first["status"] == "New"
    assert first["customerProfile"]["team"][0]["email"] == "it@customer0.com.tr"
    assert first["customerProfile"]["address"]["country"] == "TR" and received[3]["details"]["dealValue"] == 3000
    assert first["links"]["self"]["uri"] == f"{ms.partner_center_url}/v1.0/engagements/referrals/{first['id']}"
    assert ms.referrals.snapshot().pages == 3


def test_referrals_filter_on_updated_time_status_and_top(ms: Standins, http: httpx.Client) -> None:
    token = device_code_sign_in(ms, public_app(ms))["access_token"]
    seeded = seed_referrals(ms, 5, datetime(2026, 1, 5, tzinfo=UTC))
    since = format_timestamp(datetime.now(UTC) - timedelta(seconds=1))
    ms.referrals.update_referral(seeded[2]["id"], status="Active", substatus="Accepted")
    ms.referrals.add_referral(make_referral(name="Fresh one"))
    url = f"{ms.partner_center_url}/v1.0/engagements/referrals"

    changed = http.get(url, params={"$filter": f"updatedDateTime ge {since}"}, headers=bearer(token)).json()
    assert sorted(item["name"] for item in changed["value"]) == ["Fresh one", "Referral 2"]
    active = http.get(
        url, params={"$filter": f"updatedDateTime ge {since} and status eq 'Active'"}, headers=bearer(token)
    ).json()
    assert [item["id"] for item in active["value"]] == [seeded[2]["id"]]
    top = http.get(url, params={"$orderby": "createdDateTime desc", "$top": "2"}, headers=bearer(token)).json()
    assert [item["name"] for item in top["value"]] == ["Fresh one", "Referral 4"] and "@odata.nextLink" not in top
    bad = http.get(url, params={"$filter": "team/any(t:t/email eq 'x')"}, headers=bearer(token))
    assert bad.status_code == 400


def test_referrals_reject_app_only_and_expired_tokens(ms: Standins, http: httpx.Client) -> None:
    url = f"{ms.partner_center_url}/v1.0/engagements/referrals"
    app_only = confidential_app(ms).acquire_token_for_client([f"{PARTNER_CENTER_RESOURCE}/.default"])
    answer = http.get(url, headers=bearer(app_only["access_token"]))
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthenticated"
    assert "App+User" in answer.json()["error"]["message"]
    assert http.get(url).status_code == 401
    token = device_code_sign_in(ms, public_app(ms))["access_token"]
    ms.identity.expire_access_tokens(lambda info: info.kind == "user")
    assert http.get(url, headers=bearer(token)).status_code == 401
    stats = ms.referrals.snapshot()
    assert (stats.unauthorized, stats.app_only_rejected) == (3, 1)


def test_referrals_throttling(ms: Standins, http: httpx.Client) -> None:
    token = device_code_sign_in(ms, public_app(ms))["access_token"]
    ms.referrals.throttle.force(1, retry_after=2)
    url = f"{ms.partner_center_url}/v1.0/engagements/referrals"
    answer = http.get(url, headers=bearer(token))
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "2"
    assert ms.referrals.snapshot().throttled == 1


# --------------------------------------------------------------------------- as a process


def test_module_runs_as_a_process_for_the_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)  # so MSAL's verify= below is not overridden
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.msstandins", "--auto-approve", "demo@contoso.com", "--referrals", "3"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        settings = json.loads(process.stdout.readline())
        app = msal.PublicClientApplication(
            settings["MSSTANDINS_PUBLIC_CLIENT_ID"],
            authority=settings["MSSTANDINS_AUTHORITY"],
            instance_discovery=False,
            verify=settings["REQUESTS_CA_BUNDLE"],
        )
        flow = app.initiate_device_flow(scopes=[settings["MSSTANDINS_PARTNER_CENTER_SCOPE"]])
        flow["interval"] = 1
        time.sleep(0.4)  # --auto-approve approves pending codes every 0.2 s
        result = app.acquire_token_by_device_flow(flow)
        assert result["id_token_claims"]["preferred_username"] == "demo@contoso.com"
        with httpx.Client(verify=ssl.create_default_context(cafile=settings["SSL_CERT_FILE"])) as client:
            answer = client.get(
                f"{settings['MSSTANDINS_PARTNER_CENTER_URL']}/v1.0/engagements/referrals",
                headers=bearer(result["access_token"]),
            )
        assert answer.status_code == 200 and answer.json()["@odata.count"] == 3
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
