"""What reaches an OpenAI-compatible upstream: token-limit fields, limits within the context window, one system message."""

from __future__ import annotations

import json

import aiohttp
import pytest

from tests.conftest import config, provider


@pytest.mark.parametrize("model", ["custom/gpt-5.4", "openai/gpt-5-mini-2025-08-07", "openrouter/openai/o3-mini"])
async def test_an_anthropic_client_to_a_reasoning_model_sends_max_completion_tokens(
        fake_upstream, gateway, anthropic_client, model):
    up = await fake_upstream()
    gw = await gateway(config(provider(model, up)))

    await anthropic_client(gw).messages.create(model=model, max_tokens=700, extra_body={"temperature": 0.3},
                                               messages=[{"role": "user", "content": "hi"}])

    (rec,) = up.received
    assert rec.json["max_completion_tokens"] == 700 and "max_tokens" not in rec.json
    assert "temperature" not in rec.json  # OpenAI's reasoning models accept only the default
    assert rec.json["model"] == model.split("/", 1)[1]


async def test_a_responses_client_to_a_reasoning_model_sends_max_completion_tokens(
        fake_upstream, gateway, openai_client):
    up = await fake_upstream()
    gw = await gateway(config(provider("custom/gpt-5.4", up)))

    await openai_client(gw).responses.create(model="custom/gpt-5.4", input="hi", max_output_tokens=900)

    assert up.received[0].json["max_completion_tokens"] == 900 and "max_tokens" not in up.received[0].json


async def test_a_provider_override_picks_the_field(fake_upstream, gateway, anthropic_client):
    up = await fake_upstream()
    gw = await gateway(config(provider("custom/gpt-5.4", up),
                              dubnium={"upstream_models": {"custom/*": {"max_tokens_field": "max_tokens"}}}))

    await anthropic_client(gw).messages.create(model="custom/gpt-5.4", max_tokens=700,
                                               messages=[{"role": "user", "content": "hi"}])

    assert up.received[0].json["max_tokens"] == 700


async def test_claude_codes_default_limit_fits_a_small_vllm_window(fake_upstream, gateway, anthropic_client):
    """vLLM rejects prompt + max_tokens > max_model_len; the window is read from its /v1/models."""
    up = await fake_upstream()
    up.models = {"qwen": 16384}
    gw = await gateway(config(provider("vllm/qwen", up)))
    prompt = "word " * 2000

    for _ in range(2):
        await anthropic_client(gw, timeout=60).messages.create(model="vllm/qwen", max_tokens=128000,
                                                   messages=[{"role": "user", "content": prompt}])

    sent = [r.json for r in up.received]
    assert all(0 < s["max_tokens"] and s["max_tokens"] + len(json.dumps(s["messages"])) // 4 <= 16384 for s in sent)
    assert len(up.model_list_requests) == 1  # learned once
    assert up.model_list_requests[0].headers["Authorization"] == "Bearer key-for-vllm/qwen"


async def test_a_configured_window_wins_and_models_report_it(fake_upstream, gateway, anthropic_client):
    up = await fake_upstream()
    up.models = {"qwen": 131072, "coder": 65536}
    gw = await gateway(config(provider("vllm/qwen", up), provider("vllm/coder", up), provider("openai/gpt-5", up),
                              model_aliases={"fast": {"target": "vllm/coder"}},
                              dubnium={"upstream_models": {"vllm/qwen": {"context_window": 4096}}}))

    await anthropic_client(gw).messages.create(model="vllm/qwen", max_tokens=8000,
                                               messages=[{"role": "user", "content": "hi"}])
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{gw.base_url}/models") as resp:
            listed = {m["id"]: m.get("max_model_len") for m in (await resp.json())["data"]}
        retrieved = {}
        for model in listed:
            async with s.get(f"{gw.base_url}/models/{model}") as resp:
                assert resp.status == 200
                retrieved[model] = (await resp.json()).get("max_model_len")
        async with s.get(f"{gw.base_url}/models/nope") as resp:
            assert resp.status == 404
            assert (await resp.json())["error"]["code"] == "model_not_found"

    assert up.received[0].json["max_tokens"] < 4096
    assert listed == {"vllm/qwen": 4096, "vllm/coder": 65536, "openai/gpt-5": None, "fast": 65536}
    assert retrieved == listed


async def test_a_chat_clients_two_system_messages_reach_a_chat_upstream_as_one(fake_upstream, gateway, openai_client):
    """OpenCode sends its system prompt as two messages; many vLLM templates accept only one, first."""
    up = await fake_upstream()
    gw = await gateway(config(provider("vllm/qwen", up)))

    await openai_client(gw).chat.completions.create(model="vllm/qwen", messages=[
        {"role": "system", "content": "A"}, {"role": "system", "content": "B"}, {"role": "user", "content": "hi"}])

    assert up.received[0].json["messages"] == [{"role": "system", "content": "A\n\nB"},
                                               {"role": "user", "content": "hi"}]
    assert up.received[0].json["model"] == "qwen"
