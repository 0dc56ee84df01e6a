"""Outcome classification: which upstream answers are retried, returned at once, or end the request."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from plano_daemon.failover.outcome import classify, is_safety_refusal, parse_retry_after


@dataclass(frozen=True)
class Failure:
    kind: str
    detail: str = ""


@pytest.mark.parametrize("status", [200, 201, 204, 304])
def test_success_statuses_are_ok(status: int) -> None:
    assert classify(status=status).kind == "ok"


@pytest.mark.parametrize(("status", "reason"), [
    (429, "rate_limited"), (500, "provider_5xx"), (502, "provider_5xx"), (503, "provider_5xx"),
    (504, "provider_5xx"), (529, "provider_5xx"), (408, "timeout"),
])
def test_operational_statuses_are_retryable_with_profile_reasons(status: int, reason: str) -> None:
    out = classify(status=status)
    assert (out.kind, out.reason, out.status) == ("retryable", reason, status)


@pytest.mark.parametrize("status", [400, 401, 404, 409, 413, 422])
def test_other_4xx_are_client_errors(status: int) -> None:
    out = classify(status=status)
    assert (out.kind, out.reason) == ("client_error", "client_error")


def test_a_4xx_listed_in_on_status_codes_becomes_retryable() -> None:
    out = classify(status=401, retry_codes={401, 429, 503})
    assert (out.kind, out.reason) == ("retryable", "retryable_status")


def test_403_is_a_policy_failure_even_when_listed() -> None:
    out = classify(status=403, retry_codes={403})
    assert (out.kind, out.reason) == ("policy", "safety_policy_denial")


@pytest.mark.parametrize("body", [
    {"error": {"message": "x", "type": "invalid_request_error", "code": "content_filter"}},
    {"error": {"message": "x", "type": "invalid_request_error", "code": "content_policy_violation"}},
    {"error": {"message": "The response was filtered", "code": "ResponsibleAIPolicyViolation",
               "innererror": {"code": "ResponsibleAIPolicyViolation"}}},
    {"error": {"message": "Your request was rejected as a result of our safety system.", "type": "x"}},
    {"type": "error", "error": {"type": "invalid_request_error",
                                "message": "Output blocked by content filtering policy"}},
])
def test_upstream_safety_refusals_are_policy_failures(body: dict) -> None:
    out = classify(status=400, body=json.dumps(body).encode())
    assert (out.kind, out.reason) == ("policy", "safety_policy_denial")


def test_a_refusal_on_a_5xx_is_still_a_policy_failure() -> None:
    body = json.dumps({"error": {"code": "content_filter", "message": "blocked"}}).encode()
    assert classify(status=500, body=body).kind == "policy"


def test_a_truncated_refusal_body_is_recognised() -> None:
    body = b'{"error": {"code": "content_policy_violation", "message": "' + b"x" * 5000
    assert is_safety_refusal(body)


@pytest.mark.parametrize("body", [
    b"", b"not json", b'{"error": {"message": "max_tokens is too large", "code": "invalid_value"}}',
    b'[1, 2]', b'{"error": "plain string"}',
])
def test_ordinary_error_bodies_are_not_refusals(body: bytes) -> None:
    assert not is_safety_refusal(body)
    assert classify(status=400, body=body).kind == "client_error"


@pytest.mark.parametrize(("kind", "reason"), [
    ("connect", "transient_network_failure"), ("reset", "transient_network_failure"), ("timeout", "timeout"),
])
def test_transport_failures_are_retryable(kind: str, reason: str) -> None:
    out = classify(failure=Failure(kind))
    assert (out.kind, out.reason, out.error, out.status) == ("retryable", reason, kind, None)


def test_classify_needs_a_status_or_a_failure() -> None:
    with pytest.raises(ValueError):
        classify()


def test_retry_after_seconds_is_parsed_case_insensitively() -> None:
    assert classify(status=429, headers={"Retry-After": "7"}).retry_after == 7.0
    assert parse_retry_after({"retry-after": " 1.5 "}, now=0) == 1.5


def test_retry_after_http_date_is_relative_to_now() -> None:
    now = 1_700_000_000.0
    date = format_datetime(datetime.fromtimestamp(now + 30, tz=UTC), usegmt=True)
    assert parse_retry_after({"Retry-After": date}, now=now) == pytest.approx(30.0)


def test_retry_after_date_in_the_past_means_no_wait() -> None:
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1_700_000_000) == 0.0


def test_retry_after_ms_wins_over_seconds() -> None:
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "3"}, now=0) == 0.25


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf", ""])
def test_garbage_retry_after_is_ignored(value: str) -> None:
    assert parse_retry_after({"Retry-After": value}, now=0) is None


def test_retry_after_on_a_client_error_is_not_kept_as_a_reason_to_retry() -> None:
    out = classify(status=400, headers={"Retry-After": "5"})
    assert out.kind == "client_error" and not out.retryable
