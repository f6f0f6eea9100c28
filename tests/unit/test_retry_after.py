"""One Retry-After parser for every outbound client: seconds or an HTTP date, never negative, capped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.integrations.http import MAX_RETRY_AFTER, retry_after

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, 5.0),
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("-3", 0.0),
        ("99999999", MAX_RETRY_AFTER),  # a huge value no longer closes the shared gate for days
        ("inf", 5.0),
        ("nan", 5.0),
        ("soon", 5.0),
        (format_datetime(NOW + timedelta(seconds=42), usegmt=True), 42.0),  # an HTTP date
        (format_datetime(NOW - timedelta(hours=1), usegmt=True), 0.0),  # a date in the past: now
        (format_datetime(NOW + timedelta(days=30), usegmt=True), MAX_RETRY_AFTER),
    ],
)
def test_retry_after(value, expected):
    headers = {} if value is None else {"Retry-After": value}
    assert retry_after(headers, 5.0, now=NOW) == pytest.approx(expected)


def test_a_caller_may_cap_lower():
    assert retry_after({"Retry-After": "120"}, 1.0, cap=60) == 60


@given(st.text(max_size=60))
def test_any_header_value_gives_a_bounded_wait(value):
    wait = retry_after({"Retry-After": value}, 1.0, now=NOW)
    assert 0.0 <= wait <= MAX_RETRY_AFTER
