"""Plano's `ratelimits` through real sockets: token-aware windows per model and header value, 429 with
Retry-After in the client's dialect, one shared window for two instances on one Redis."""

from __future__ import annotations

from typing import Any

import anthropic
import openai

from tests.conftest import config, provider
from tests.shared_state.conftest import until_shared

HELLO = [{"role": "user", "content": "hello"}]


def limited(up: Any, tokens: int, **extra: Any) -> dict[str, Any]:
    rules = [{"model": "up/m", "selector": {"key": "x-user-id", "value": "*"}, "limit": {"tokens": tokens, "unit": "day"}},
             {"model": "up/m", "selector": {"key": "x-user-id", "value": "vip"},
              "limit": {"tokens": 100000, "unit": "day"}}]
    return config(provider("up/m", up, provider_interface="openai"), ratelimits=rules, **extra)


async def served_until_limited(client: openai.AsyncOpenAI, user: str, tries: int = 20) -> tuple[int, Any]:
    """How many requests were served before the first 429, and that 429."""
    for served in range(tries):
        try:
            await client.chat.completions.create(model="up/m", messages=HELLO, extra_headers={"x-user-id": user})
        except openai.RateLimitError as err:
            return served, err
    raise AssertionError(f"{user} was never limited")


async def test_a_subject_is_limited_by_tokens_and_told_when_to_retry(gateway, fake_upstream, openai_client):
    up = await fake_upstream("up")
    gw = await gateway(limited(up, 60))
    client = openai_client(gw)

    served, err = await served_until_limited(client, "alice")

    assert 1 <= served <= 3  # each request reserves its prompt estimate, then its 18 reported tokens count
    assert len(up.received) == served  # the refused request never reached the upstream
    assert err.body["code"] == "rate_limit_exceeded" and err.body["type"] == "tokens"
    assert 1 <= int(err.response.headers["retry-after"]) <= 86400
    # Each header value is its own subject; a rule for one value wins over the wildcard; no header, no limit.
    await client.chat.completions.create(model="up/m", messages=HELLO, extra_headers={"x-user-id": "bob"})
    for _ in range(5):
        await client.chat.completions.create(model="up/m", messages=HELLO, extra_headers={"x-user-id": "vip"})
        await client.chat.completions.create(model="up/m", messages=HELLO)


async def test_the_429_is_in_the_anthropic_dialect_for_an_anthropic_client(gateway, fake_upstream, anthropic_client):
    up = await fake_upstream("up")
    gw = await gateway(limited(up, 1))  # smaller than any prompt: refused at once
    try:
        await anthropic_client(gw).messages.create(model="up/m", max_tokens=16, messages=HELLO,
                                                   extra_headers={"x-user-id": "alice"})
    except anthropic.RateLimitError as err:
        assert err.body["error"]["type"] == "rate_limit_error"
        assert int(err.response.headers["retry-after"]) >= 1
    else:
        raise AssertionError("not limited")
    assert not up.received


async def test_two_instances_on_one_redis_count_into_the_same_window(gateway, fake_upstream, redis_server,
                                                                   openai_client):
    up = await fake_upstream("up")
    cfg = limited(up, 60, routing={"session_cache": {"type": "redis", "url": redis_server.url}})
    a, b = await gateway(cfg), await gateway(cfg)
    await until_shared(a, True)
    await until_shared(b, True)

    served, _ = await served_until_limited(openai_client(a), "alice")
    # A's background writer sends its counts within milliseconds; B reads the shared window.
    again, _ = await served_until_limited(openai_client(b), "alice")

    assert served >= 1 and again == 0
    await openai_client(b).chat.completions.create(model="up/m", messages=HELLO, extra_headers={"x-user-id": "bob"})
