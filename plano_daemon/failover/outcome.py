"""What one upstream attempt's result means for the request: done, retry elsewhere, or stop here.

    ok              2xx/3xx: the answer goes to the client
    retryable       timeout, rate_limited, provider_5xx, transient_network_failure, retryable_status
    client_error    other 4xx: the caller's fault, returned at once, no other channel is tried
    policy          safety_policy_denial (content/safety refusal, any 403): never retried, never failed over

The operational reason names are the policy profile's fallback reasons, so the policy layer can check a
failover against `allowed_reasons`. `retryable_status` (a 4xx the operator listed in `on_status_codes`,
like seed 001's 401) is deliberately not one of them: a local-first profile refuses that failover.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any, Literal, Protocol

Kind = Literal["ok", "retryable", "client_error", "policy"]

TIMEOUT = "timeout"
RATE_LIMITED = "rate_limited"
PROVIDER_5XX = "provider_5xx"
TRANSIENT_NETWORK_FAILURE = "transient_network_failure"
RETRYABLE_STATUS = "retryable_status"
SAFETY_POLICY_DENIAL = "safety_policy_denial"
CLIENT_ERROR = "client_error"

#: Error codes/types upstreams use for a content or safety refusal (OpenAI, Azure, Anthropic, Gemini).
_POLICY_CODES = frozenset({
    "content_filter", "content_policy_violation", "responsibleaipolicyviolation", "safety",
    "refusal", "content_blocked", "prompt_blocked", "moderation_blocked", "content_management_policy",
})
_POLICY_TEXT = re.compile(
    r"content[ _-]?(?:filter|policy|management)|safety (?:system|polic)|usage polic|"
    r"blocked by (?:our|the) .{0,40}polic|responsibleaipolicyviolation",
    re.IGNORECASE)
#: How much of an error body `classify` looks at; a refusal announces itself in the first bytes.
BODY_PREFIX_BYTES = 4096


class Failure(Protocol):
    """A transport failure value (upstream.TransportFailure): no response head arrived, or the body broke."""

    @property
    def kind(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """One attempt, as the retry plan sees it."""

    kind: Kind
    reason: str | None = None
    status: int | None = None
    error: str | None = None  # transport failure kind: connect, timeout, reset
    retry_after: float | None = None  # seconds, from Retry-After / retry-after-ms

    @property
    def retryable(self) -> bool:
        return self.kind == "retryable"


def classify(*, status: int | None = None, headers: Mapping[str, str] | None = None,
             body: bytes = b"", failure: Failure | None = None, retry_codes: Collection[int] = (),
             now: float = 0.0) -> Outcome:
    """Map a response head (+ a body prefix for errors) or a transport failure to an `Outcome`.

    `retry_codes` are the policy's `on_status_codes`: they make other 4xx retryable, never a 403 or a
    refusal. `now` (epoch seconds) is only used to turn an HTTP-date Retry-After into seconds.
    """
    if failure is not None:
        reason = TIMEOUT if failure.kind == "timeout" else TRANSIENT_NETWORK_FAILURE
        return Outcome("retryable", reason, error=failure.kind)
    if status is None:
        raise ValueError("classify needs a status or a failure")
    if status < 400:
        return _ok(status)
    retry_after = parse_retry_after(headers or {}, now=now)
    if status == 403 or is_safety_refusal(body):
        return Outcome("policy", SAFETY_POLICY_DENIAL, status=status)
    if status == 429:
        return Outcome("retryable", RATE_LIMITED, status=status, retry_after=retry_after)
    if status >= 500:
        return Outcome("retryable", PROVIDER_5XX, status=status, retry_after=retry_after)
    if status == 408:
        return Outcome("retryable", TIMEOUT, status=status, retry_after=retry_after)
    if status in retry_codes:
        return Outcome("retryable", RETRYABLE_STATUS, status=status, retry_after=retry_after)
    return Outcome("client_error", CLIENT_ERROR, status=status)


@cache
def _ok(status: int) -> Outcome:
    """The answered outcome of `status`, one shared value per status (every request makes one; a status
    below 400 has three digits: a few hundred values at most)."""
    return Outcome("ok", status=status)


def is_safety_refusal(body: bytes) -> bool:
    """True when an error body says the upstream refused on content/safety grounds."""
    if not body:
        return False
    prefix = body[:BODY_PREFIX_BYTES]
    try:
        doc = json.loads(prefix)
    except ValueError:
        text = prefix.decode("utf-8", "replace")
        return any(f'"{code}"' in text.lower() for code in _POLICY_CODES) or bool(_POLICY_TEXT.search(text))
    err = doc.get("error", doc) if isinstance(doc, dict) else None
    if isinstance(err, list) and err:  # Gemini's OpenAI-compatible path sometimes wraps errors in a list
        err = err[0].get("error", err[0]) if isinstance(err[0], dict) else None
    if not isinstance(err, dict):
        return False
    for key in ("code", "type", "status", "reason"):
        value = _text(err.get(key))
        if value and value.lower() in _POLICY_CODES:
            return True
    inner = err.get("innererror")
    if isinstance(inner, dict) and _text(inner.get("code")).lower() in _POLICY_CODES:
        return True
    return bool(_POLICY_TEXT.search(_text(err.get("message"))))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def parse_retry_after(headers: Mapping[str, str], *, now: float) -> float | None:
    """Seconds to wait, from `retry-after-ms`, `Retry-After: <seconds>` or `Retry-After: <HTTP-date>`."""
    ms = _header(headers, "retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
        except ValueError:
            value = -1.0
        if value >= 0 and value == value:
            return value
    raw = _header(headers, "retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        return max(0.0, when.timestamp() - now)
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        return None
    return seconds


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    for key, value in headers.items():  # plain dicts are case-sensitive; CIMultiDict hits above
        if key.lower() == name:
            return value
    return None
