"""The router-model call (SPEC §4.2): one OpenAI chat request to `overrides.llm_routing_model`.

An edge module: it uses the gateway's upstream pool and returns the answer text or a failure value,
never an exception, so the caller can fall back to the embedded router on any failure.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from plano_daemon.catalog import CHAT, Channel
from plano_daemon.upstream import TransportFailure, UpstreamPool, read_all

TEMPERATURE = 0.01
#: A route name is a few tokens; a model that rambles past this is not following the contract.
MAX_ANSWER_TOKENS = 64


@dataclass(frozen=True, slots=True)
class RouterFailure:
    """Why the router model did not decide: timeout | connect | reset | status_NNN | bad_response."""

    kind: str


async def ask_router_model(pool: UpstreamPool, channel: Channel, prompt: str, *,
                           timeout: float) -> str | RouterFailure:
    """The model's answer text, within `timeout` seconds overall."""
    body = json.dumps({"model": channel.model_id, "messages": [{"role": "user", "content": prompt}],
                       "temperature": TEMPERATURE, "max_tokens": MAX_ANSWER_TOKENS,
                       "stream": False}).encode()
    headers = {"Content-Type": "application/json", **dict(channel.auth_headers), **dict(channel.extra_headers)}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    resp = await pool.send(channel.url(CHAT), headers, body, headers_timeout=timeout)
    if isinstance(resp, TransportFailure):
        return RouterFailure(resp.kind)
    resp.limit(deadline, "the router model's answer did not arrive in time")
    data = await read_all(resp)
    resp.release()
    if isinstance(data, TransportFailure):
        return RouterFailure(data.kind)
    if resp.status != 200:
        return RouterFailure(f"status_{resp.status}")
    return _content(data)


def _content(data: bytes) -> str | RouterFailure:
    try:
        parsed = json.loads(data)
        content = parsed["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        return RouterFailure("bad_response")
    return content if isinstance(content, str) else RouterFailure("bad_response")
