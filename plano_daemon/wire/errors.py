"""Gateway errors rendered in the client's dialect (OpenAI or Anthropic JSON)."""

from __future__ import annotations

import json
from typing import Any

from plano_daemon.errors import GatewayError

_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def openai_error_body(message: str, *, error_type: str, code: str,
                      extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "code": code, "param": None, **(extra or {})}}


def anthropic_error_body(message: str, *, status: int, code: str,
                         extra: dict[str, Any] | None = None) -> dict[str, Any]:
    error_type = _ANTHROPIC_TYPES.get(status, "api_error")
    return {"type": "error", "error": {"type": error_type, "message": message, "code": code, **(extra or {})}}


def error_body(api: str, err: GatewayError) -> dict[str, Any]:
    """The JSON object for `err` as a client of `api` ("chat", "messages", "responses") expects it."""
    if api == "messages":
        return anthropic_error_body(err.message, status=err.status, code=err.code, extra=err.extra)
    return openai_error_body(err.message, error_type=err.error_type, code=err.code, extra=err.extra)


def error_bytes(api: str, err: GatewayError) -> bytes:
    return json.dumps(error_body(api, err)).encode()
