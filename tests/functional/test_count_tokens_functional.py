"""POST /v1/messages/count_tokens through the anthropic SDK: exact from an Anthropic upstream, else estimated."""

from __future__ import annotations

from tests.conftest import config, provider
from tests.fakes.upstream import reply_json

MESSAGES = [{"role": "user", "content": "count the tokens of this sentence, please " * 20}]


async def test_estimated_for_an_openai_style_upstream(fake_upstream, gateway, anthropic_client) -> None:
    up = await fake_upstream()
    gw = await gateway(config(provider("openai/qwen", up)))
    result = await anthropic_client(gw).messages.count_tokens(model="openai/qwen", messages=MESSAGES)
    assert 150 < result.input_tokens < 300  # ~880 bytes of JSON at about four bytes a token
    assert up.received == []


async def test_exact_from_an_anthropic_upstream(fake_upstream, gateway, anthropic_client) -> None:
    up = await fake_upstream()
    up.script(reply_json({"input_tokens": 42}))
    gw = await gateway(config(provider("anthropic/claude-sonnet-4-5", up)))
    result = await anthropic_client(gw).messages.count_tokens(model="anthropic/claude-sonnet-4-5",
                                                              messages=MESSAGES)
    assert result.input_tokens == 42
    (rec,) = up.received
    assert rec.path == "/v1/messages/count_tokens"
    assert rec.json["model"] == "claude-sonnet-4-5"
    assert rec.headers["x-api-key"] == "key-for-anthropic/claude-sonnet-4-5"


async def test_unknown_model_without_default_is_404(fake_upstream, gateway, anthropic_client) -> None:
    import anthropic
    import pytest

    up = await fake_upstream()
    gw = await gateway(config(provider("openai/qwen", up)))
    with pytest.raises(anthropic.NotFoundError) as info:
        await anthropic_client(gw).messages.count_tokens(model="nope", messages=MESSAGES)
    assert info.value.body["error"]["type"] == "not_found_error"


async def test_a_channel_the_privacy_class_may_not_reach_is_never_sent_the_prompt(
        fake_upstream, gateway, anthropic_client) -> None:
    from tests.functional.users_setup import KEYS, TRUSTED, users_setup

    cfg, fakes = await users_setup(fake_upstream)
    for p in cfg["model_providers"]:
        if p["model"] == "openrouter/anthropic/claude-3.5-sonnet":
            p["provider_interface"] = "anthropic"
    fakes["openrouter"].script(reply_json({"input_tokens": 42}))
    gw = await gateway(cfg, env=KEYS)
    client = anthropic_client(gw)

    local_only = await client.messages.count_tokens(model="cloud-general", messages=MESSAGES)
    assert 150 < local_only.input_tokens < 300 and fakes["openrouter"].received == []
    trusted = await client.messages.count_tokens(model="cloud-general", messages=MESSAGES, extra_headers=TRUSTED)
    assert trusted.input_tokens == 42 and len(fakes["openrouter"].received) == 1


async def test_an_upstream_without_the_endpoint_gets_an_estimate(fake_upstream, gateway, anthropic_client) -> None:
    from tests.fakes.upstream import reply_status

    up = await fake_upstream()
    up.script(reply_status(404))
    gw = await gateway(config(provider("anthropic/claude-sonnet-4-5", up)))
    result = await anthropic_client(gw).messages.count_tokens(model="anthropic/claude-sonnet-4-5",
                                                              messages=MESSAGES)
    assert 150 < result.input_tokens < 300 and len(up.received) == 1
