"""Body caps per route (shared.http.limits), enforced by dispatch in process: 20 MB for uploads, 1 MB
of JSON, 64 KB for routes that read no body; a larger declared Content-Length counts too."""

from __future__ import annotations

import json

import pytest

from shared.config import Settings
from shared.http.dispatch import dispatch
from shared.http.limits import (
    JSON_BODY_LIMIT,
    MB,
    NO_BODY_LIMIT,
    UPLOAD_BODY_LIMIT,
    body_limit,
    body_limit_for,
    declared_length,
)
from shared.http.types import PROBLEM_JSON, HttpRequest
from shared.runtime import Runtime, set_runtime
from shared.triggers.registry import ROUTES


@pytest.fixture
def runtime(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'hunter.db'}", whois_enabled=False)
    runtime = Runtime(settings)
    set_runtime(runtime)
    yield runtime
    set_runtime(None)


def test_the_caps_are_20_mb_for_uploads_1_mb_for_json_and_small_elsewhere():
    assert (UPLOAD_BODY_LIMIT, JSON_BODY_LIMIT, NO_BODY_LIMIT) == (20 * MB, 1 * MB, 64 * 1024)
    for route in ROUTES:
        expected = UPLOAD_BODY_LIMIT if route.uploads else JSON_BODY_LIMIT if route.body_model else NO_BODY_LIMIT
        assert body_limit(route) == expected, route.name
    assert body_limit_for("POST", "/v1/scans") == body_limit_for("POST", "/v1/scans/preview") == UPLOAD_BODY_LIMIT
    assert body_limit_for("POST", "/v1/scan") == body_limit_for("POST", "/v1/admin/keys") == JSON_BODY_LIMIT
    assert body_limit_for("GET", "/v1/leads") == body_limit_for("POST", "/v1/leads/a.com/rescan") == NO_BODY_LIMIT
    assert body_limit_for("POST", "/v1/nowhere") == body_limit(None) == NO_BODY_LIMIT


@pytest.mark.parametrize(
    ("method", "path", "limit"),
    [
        ("POST", "/v1/scans/preview", UPLOAD_BODY_LIMIT),
        ("POST", "/v1/scans", UPLOAD_BODY_LIMIT),
        ("POST", "/v1/scan", JSON_BODY_LIMIT),
        ("POST", "/v1/d365/push", JSON_BODY_LIMIT),
        ("GET", "/v1/leads", NO_BODY_LIMIT),
        ("POST", "/v1/leads/acme.com.tr/rescan", NO_BODY_LIMIT),
        ("POST", "/v1/no-such-route", NO_BODY_LIMIT),
    ],
)
def test_dispatch_answers_413_one_byte_over_the_cap_and_not_at_it(runtime, method, path, limit):
    over = dispatch(HttpRequest(method, path, body=b"x" * (limit + 1)), runtime)
    assert over.status == 413
    assert over.headers["Content-Type"] == PROBLEM_JSON
    problem = json.loads(over.body_bytes())
    assert problem["status"] == 413 and problem["title"] == "Payload too large"
    size = f"{limit // MB} MB" if limit >= MB else f"{limit // 1024} KB"
    assert size in problem["detail"]
    assert over.headers["Cache-Control"] == "no-store"  # a problem like any other API answer
    at = dispatch(HttpRequest(method, path, body=b"x" * limit), runtime)
    assert at.status != 413  # the next check answers: no key (401) or no route (404)
    assert at.status in (401, 404)


def test_a_declared_content_length_over_the_cap_is_refused_without_the_body(runtime):
    request = HttpRequest("POST", "/v1/scan", headers={"content-length": str(2 * MB), "x-api-key": "hunter_x_y"})
    assert dispatch(request, runtime).status == 413  # before the key is even looked at
    request = HttpRequest("POST", "/v1/scans", headers={"content-length": str(2 * MB)})
    assert dispatch(request, runtime).status == 401  # 2 MB is fine for an upload: the key is next
    assert declared_length({"content-length": " 12 "}) == 12
    assert declared_length({"content-length": "-1"}) is None
    assert declared_length({}) is None


def test_the_local_runner_answers_before_reading_a_body_that_cannot_matter(runtime):
    """What ``hunter serve`` asks once a head has arrived (shared.local.entry.early_answer)."""
    from shared.local.entry import body_limit_of, early_answer

    key = runtime.keys.create("scanner", ["scan"])[0]
    reader = runtime.keys.create("reader", ["read"])[0]
    length = {"content-length": "100"}
    assert early_answer("POST", "/api/v1/scan", {"content-length": str(2 * MB), "x-api-key": key}).status == 413
    assert early_answer("POST", "/api/v1/scan", length).status == 401
    assert early_answer("POST", "/api/v1/scan", {**length, "x-api-key": "not-a-key"}).status == 401
    assert early_answer("POST", "/api/v1/scan", {**length, "x-api-key": "hunter_nope_nope"}).status == 401
    assert early_answer("POST", "/api/v1/scan", {**length, "x-api-key": key}) is None  # go on: read the body
    assert runtime.keys.cached(key) is not None  # verified once: dispatch will not pay Argon2 again
    assert early_answer("POST", "/api/v1/scan", {**length, "x-api-key": reader}).status == 403
    assert early_answer("POST", "/elsewhere", length).status == 404
    assert early_answer("POST", "/api/v1/scans/preview", {"content-length": str(2 * MB), "x-api-key": key}) is None
    assert body_limit_of("POST", "/api/v1/scans/preview") == UPLOAD_BODY_LIMIT
    assert body_limit_of("POST", "/api/v1/scan") == JSON_BODY_LIMIT
    assert body_limit_of("POST", "/elsewhere") == NO_BODY_LIMIT


def test_a_wrong_key_refused_before_the_body_counts_as_one_failure(runtime, monkeypatch):
    from shared.local.entry import early_answer

    failures = []
    limiter = runtime.auth_failures
    original = limiter.failed
    monkeypatch.setattr(limiter, "failed", lambda names: failures.append(names) or original(names))
    headers = {"content-length": "100", "x-api-key": "hunter_abc123_wrong"}
    assert early_answer("POST", "/api/v1/scan", headers, "10.0.0.9").status == 401
    assert failures == [["ip:10.0.0.9", "key:abc123"]]
