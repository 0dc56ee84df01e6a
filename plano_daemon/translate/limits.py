"""What a translated chat request may carry for its upstream model: the output-limit field it accepts, a
limit it can give, sampling parameters it accepts.

OpenAI's reasoning families (gpt-5*, o1/o3/o4 ...) reject `max_tokens` and want `max_completion_tokens`,
whoever serves them (OpenAI itself, or an aggregator channel such as `custom/gpt-5.4`); other
OpenAI-compatible servers (vLLM, llama.cpp, older proxies) know only `max_tokens`. A provider may
name its field in `dubnium.upstream_models`.

A limit above what the model can produce is a 400 on vLLM (prompt + max_tokens > max_model_len);
Claude Code asks for 32k–128k by default. When the context window is known the limit is lowered to
fit beside an over-estimate of the prompt, or left out when even that does not fit (vLLM then gives
what is left of the window).

The reasoning families also reject `temperature` and `top_p` other than 1 (Claude Code sends
`temperature: 1`, other Anthropic clients other values): those are left out for them.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_TOKENS = "max_tokens"
MAX_COMPLETION_TOKENS = "max_completion_tokens"

#: Model ids (last path segment) of OpenAI's reasoning families.
_REASONING = re.compile(r"^(gpt-5|o[1-9])(?![0-9a-z])", re.IGNORECASE)
#: Fewer output tokens than this left beside the prompt: send no limit, let the upstream fill the window.
MIN_ROOM = 256
#: Prompt tokens are over-estimated as serialized bytes / this (English ≈ 4 bytes a token, code ≈ 3).
_BYTES_PER_TOKEN = 3
#: Role markers and template text the serialized JSON does not show.
_TEMPLATE_OVERHEAD = 64


def is_reasoning_model(model_id: str) -> bool:
    return bool(_REASONING.match(model_id.rsplit("/", 1)[-1]))


def token_field(model_id: str, override: str | None = None) -> str:
    if override is not None:
        return override
    return MAX_COMPLETION_TOKENS if is_reasoning_model(model_id) else MAX_TOKENS


def prompt_estimate(body: dict[str, Any]) -> int:
    """An over-estimate of a chat request's prompt tokens, from the size of what the template renders."""
    size = len(json.dumps([body.get("messages"), body.get("tools")], ensure_ascii=False).encode())
    return size // _BYTES_PER_TOKEN + _TEMPLATE_OVERHEAD


def fit_output_limit(body: dict[str, Any], *, model_id: str, field: str | None,
                     window: int | None) -> dict[str, Any]:
    """`body` (a translated chat request, changed in place and returned) with its limit in the right field,
    no larger than the window leaves beside the prompt."""
    limit = body.pop(MAX_TOKENS, None)
    limit = body.pop(MAX_COMPLETION_TOKENS, limit)
    if not isinstance(limit, int) or isinstance(limit, bool):
        return body
    if window is not None:
        room = window - prompt_estimate(body)
        if limit > room:
            if room < MIN_ROOM:
                return body
            limit = room
    body[token_field(model_id, field)] = limit
    return body


#: Sampling parameters OpenAI's reasoning models accept only at their default value, 1.
_FIXED_SAMPLING = ("temperature", "top_p")


def drop_unsupported_sampling(body: dict[str, Any], *, model_id: str) -> dict[str, Any]:
    """`body` (changed in place) without sampling values a reasoning model would reject."""
    if is_reasoning_model(model_id):
        for key in _FIXED_SAMPLING:
            if key in body and body[key] != 1:
                del body[key]
    return body


def fit_upstream(body: dict[str, Any], *, model_id: str, field: str | None, window: int | None) -> dict[str, Any]:
    """A translated chat request made acceptable to its upstream model (see the module docstring)."""
    return drop_unsupported_sampling(fit_output_limit(body, model_id=model_id, field=field, window=window),
                                     model_id=model_id)
