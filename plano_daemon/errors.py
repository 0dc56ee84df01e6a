"""Errors the gateway answers with, each knowing its HTTP status and machine-readable code.

    GatewayError                      status, code, message; rendered in the client's dialect by wire/
    ├── BadRequest                    400 invalid_request_error: the client sent something we cannot use
    ├── ModelNotFound                 404 model_not_found: no alias, provider or route serves the name
    ├── RequestTimeout                408 request_timeout: the client was too slow sending its request
    ├── PayloadTooLarge               413 request_too_large
    ├── PolicyDenied                  403/429 privacy_violation, budget_hard_limit, ...: never retried
    └── UpstreamFailure               502/504: no upstream gave a usable answer
        └── UpstreamTimeout           504, also a TimeoutError

    ConfigError                       not HTTP: a config that must not be served, with every problem
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any


class GatewayError(Exception):
    """An error the gateway itself answers with; `extra` is merged into the JSON error object."""

    status: int = 500
    code: str = "internal_error"
    error_type: str = "api_error"
    #: HTTP headers the answer carries (Retry-After on a rate limit); read-only.
    headers: Mapping[str, str] = MappingProxyType({})

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.extra = extra or {}


class BadRequest(GatewayError):
    status = 400
    code = "invalid_request"
    error_type = "invalid_request_error"


class ModelNotFound(GatewayError):
    status = 404
    code = "model_not_found"
    error_type = "not_found_error"


class RequestTimeout(GatewayError):
    status = 408
    code = "request_timeout"
    error_type = "invalid_request_error"


class PayloadTooLarge(GatewayError):
    status = 413
    code = "request_too_large"
    error_type = "request_too_large"


class PolicyDenied(GatewayError):
    """A policy failure: it ends the request, with no retry and no fallback."""

    status = 403
    code = "privacy_violation"
    error_type = "permission_error"


class UpstreamFailure(GatewayError):
    status = 502
    code = "upstream_error"
    error_type = "api_error"


class UpstreamTimeout(UpstreamFailure, TimeoutError):
    status = 504
    code = "upstream_timeout"


class ConfigError(Exception):
    """A config that must not be served; `problems` are `path: message` lines, never secret values."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
