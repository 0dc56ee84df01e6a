"""Selection policy and affinity through real sockets: the proxy feeds observed latency to `prefer: fastest`,
the user's profile orders `prefer: cheapest` by cost class and decides where a pinning key comes from."""

from __future__ import annotations

import contextlib
from typing import Any

import aiohttp
import openai
import yaml

from tests.conftest import FIXTURES, config, provider
from tests.fakes.upstream import reply_status
from tests.functional.users_setup import KEYS, users_setup

CODE = "Write a Python function that implements binary search"


async def decide(gw: Any, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as s, s.post(f"{gw.url}/routing/v1/chat/completions", json=body,
                                                    headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


def inline(prefer: str, *models: str) -> dict[str, Any]:
    return {"model": "any", "messages": [{"role": "user", "content": CODE}], "routing_preferences": [
        {"name": "code", "description": "code generation, python functions", "models": list(models),
         "selection_policy": {"prefer": prefer}}]}


async def test_fastest_follows_what_the_proxy_observed(fake_upstream, gateway, openai_client):
    slow, fast, broken = [await fake_upstream(n) for n in ("slow", "fast", "broken")]
    gw = await gateway(config(provider("a/slow", slow, default=True), provider("a/fast", fast),
                              provider("a/broken", broken), provider("a/unseen", broken)))
    latency = gw.server.gateway.services.latency
    broken.default = reply_status(500)
    client = openai_client(gw)

    await client.chat.completions.create(model="a/fast", messages=[{"role": "user", "content": "hi"}])
    with contextlib.suppress(openai.APIStatusError):
        await client.chat.completions.create(model="a/broken", messages=[{"role": "user", "content": "hi"}])
    assert broken.received and latency.estimate("a/broken") is None  # failures say nothing about speed
    assert latency.estimate("a/fast") is not None

    latency.observe("a/slow", 5.0)  # the numbers are inputs: no test waits on a slow upstream
    latency.observe("a/fast", 0.01)
    out = await decide(gw, inline("fastest", "a/unseen", "a/slow", "a/fast"))
    assert out["models"] == ["a/fast", "a/slow", "a/unseen"]
    out = await decide(gw, inline("none", "a/unseen", "a/slow", "a/fast"))
    assert out["models"] == ["a/unseen", "a/slow", "a/fast"]


async def test_cheapest_follows_the_users_profile_cost_classes(fake_upstream, gateway):
    cfg, _ = await users_setup(fake_upstream)
    gw = await gateway(cfg, env=KEYS)

    out = await decide(gw, inline("cheapest", "cloud-general", "cheap-fast", "local-code"),
                       **{"X-Privacy-Class": "public_cloud_ok"})

    assert out["models"] == ["local-code", "cheap-fast", "cloud-general"]  # free < low < metered


async def test_pinning_keys_come_from_the_profiles_key_sources_in_its_order(fake_upstream, gateway, tmp_path):
    headers = {"X-Session-Id": "the-session", "X-Model-Affinity": "the-explicit-key"}
    profile = yaml.safe_load((FIXTURES / "local-first-dev.yaml").read_text())
    profile["affinity"]["key_sources"] = ["explicit_affinity_key", "session_id"]
    reordered = tmp_path / "reordered.yaml"
    reordered.write_text(yaml.safe_dump(profile))
    profile["affinity"]["enabled"] = False
    disabled = tmp_path / "disabled.yaml"
    disabled.write_text(yaml.safe_dump(profile))

    cfg, _ = await users_setup(fake_upstream)
    assert (await decide(await gateway(cfg, env=KEYS), inline("none", "local-code"), **headers))[
        "session_id"] == "the-session"  # the user's profile: session_id before explicit_affinity_key
    cfg, _ = await users_setup(fake_upstream, policy_profile=str(reordered))
    assert (await decide(await gateway(cfg, env=KEYS), inline("none", "local-code"), **headers))[
        "session_id"] == "the-explicit-key"
    cfg, _ = await users_setup(fake_upstream, policy_profile=str(disabled))
    gw = await gateway(cfg, env=KEYS)
    out = await decide(gw, inline("none", "local-code"), **headers)
    assert "session_id" not in out and "pinned" not in out and len(gw.server.gateway.services.pins) == 0
