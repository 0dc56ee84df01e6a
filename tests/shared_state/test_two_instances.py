"""Two gateways on one real Redis behave as one: pins, budgets, Retry-After blocks and cool-downs are shared,
and stopping Redis mid-load loses no request (each instance carries on with local state, then catches up)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import openai
import pytest
import yaml

from tests.conftest import FIXTURES, config, provider
from tests.fakes.upstream import reply_status
from tests.shared_state.conftest import RedisServer, eventually, readyz, until_shared

HELLO = [{"role": "user", "content": "hello"}]
ENV = {"OPENAI_API_KEY": "sk-openai-secret", "ANTHROPIC_API_KEY": "sk-ant-secret"}


def shared(cfg: dict[str, Any], redis_server: RedisServer, **dubnium: Any) -> dict[str, Any]:
    cfg.setdefault("routing", {})["session_cache"] = {"type": "redis", "url": redis_server.url}
    cfg["dubnium"] = {**cfg.get("dubnium", {}), **dubnium}
    return cfg


async def two(gateway: Any, cfg: dict[str, Any], env: dict[str, str] | None = None) -> tuple[Any, Any]:
    a, b = await gateway(cfg, env=env), await gateway(cfg, env=env)
    await until_shared(a, True)
    await until_shared(b, True)
    return a, b


async def post(gw: Any, path: str, body: dict[str, Any], **headers: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as s, s.post(f"{gw.url}{path}", json=body, headers=headers) as resp:
        return resp.status, await resp.json()


def chat(text: str) -> dict[str, Any]:
    return {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": text}]}


async def test_a_pin_made_through_one_instance_is_honoured_by_the_other(gateway, fake_upstream, redis_server,
                                                                      redis_client):
    doc = yaml.safe_load((FIXTURES / "seed-routing-service.yaml").read_text())
    doc["listeners"][0]["port"] = 0
    for p in doc["model_providers"]:
        p["base_url"] = (await fake_upstream(p["model"])).base_url
    a, b = await two(gateway, shared(doc, redis_server), env=ENV)

    _, first = await post(a, "/routing/v1/chat/completions", chat("Write a Python function for binary search"),
                          **{"X-Session-Id": "s-42"})
    _, second = await post(b, "/routing/v1/chat/completions", chat("Explain the trade-offs of merge sort"),
                           **{"X-Session-Id": "s-42"})
    _, fresh = await post(b, "/routing/v1/chat/completions", chat("Explain the trade-offs of merge sort"),
                          **{"X-Session-Id": "s-43"})

    assert (first["route"], first["pinned"]) == ("code_generation", False)
    assert (second["route"], second["pinned"], second["model"]) == ("code_generation", True, first["models"][0])
    assert (fresh["route"], fresh["pinned"]) == ("complex_reasoning", False)  # a different session re-routes
    assert await redis_client.ttl("plano:affinity:s-42") > 590


async def test_a_budget_cap_holds_across_both_instances(gateway, fake_upstream, redis_server, openai_client):
    up = await fake_upstream("up")
    cfg = shared(config(provider("up/m", up)), redis_server, budgets=[{"target": "up/m", "daily_requests": 5}])
    a, b = await two(gateway, cfg)

    async def one(gw: Any) -> bool:
        try:
            await openai_client(gw).chat.completions.create(model="up/m", messages=HELLO)
            return True
        except openai.RateLimitError as err:
            assert err.body["code"] == "budget_hard_limit"
            return False

    sequential = [await one(gw) for gw in (a, b, a, b)]
    burst = await asyncio.gather(*(one(gw) for gw in (a, b) * 6))  # 12 at once across both

    assert sequential == [True] * 4
    # One request was left; in a concurrent burst each instance may admit at most one it cannot yet see
    # the other's count for: at most one over the cap per instance.
    assert 1 <= sum(burst) <= 2
    assert len(up.received) <= 5 + 1
    assert not await one(a) and not await one(b)


async def test_a_429_with_retry_after_seen_by_one_blocks_the_channel_for_the_other(
        gateway, fake_upstream, redis_server, openai_client):
    x, y = await fake_upstream("x"), await fake_upstream("y")
    x.script(reply_status(429, retry_after="30"))
    cfg = shared(config(provider("x/m", x, retry_policy={"fallback_models": ["y/m"]}), provider("y/m", y)),
                 redis_server)
    a, b = await two(gateway, cfg)

    await openai_client(a).chat.completions.create(model="x/m", messages=HELLO)
    assert [len(x.received), len(y.received)] == [1, 1]
    blocks_b = b.server.gateway.services.blocks
    await eventually(lambda: bool(blocks_b.entries(asyncio.get_running_loop().time())))

    await openai_client(b).chat.completions.create(model="x/m", messages=HELLO)
    assert [len(x.received), len(y.received)] == [1, 2]  # B went straight to y: x is blocked everywhere


async def test_a_channel_cooling_down_on_one_instance_is_skipped_by_the_other(
        gateway, fake_upstream, redis_server, openai_client):
    x, y = await fake_upstream("x"), await fake_upstream("y")
    x.script(reply_status(503), reply_status(503))
    cfg = shared(config(provider("x/m", x, retry_policy={"fallback_models": ["y/m"], "default_max_attempts": 2}),
                        provider("y/m", y)),
                 redis_server, health={"failure_threshold": 2, "cooldown_seconds": 60})
    a, b = await two(gateway, cfg)

    await openai_client(a).chat.completions.create(model="x/m", messages=HELLO)
    await openai_client(a).chat.completions.create(model="x/m", messages=HELLO)
    assert len(x.received) == 2  # two failures in a row: x's circuit opened on A
    health_b = b.server.gateway.services.health
    await eventually(lambda: health_b.state("x/m", now=asyncio.get_running_loop().time()) == "open")

    await openai_client(b).chat.completions.create(model="x/m", messages=HELLO)
    assert len(x.received) == 2


async def test_stopping_redis_mid_load_loses_no_request_and_the_instances_catch_up(
        gateway, fake_upstream, redis_server, openai_client, redis_client):
    up = await fake_upstream("up")
    doc = yaml.safe_load((FIXTURES / "seed-routing-service.yaml").read_text())
    doc["listeners"][0]["port"] = 0
    for p in doc["model_providers"]:
        p["base_url"] = up.base_url
    a, b = await two(gateway, shared(doc, redis_server, shared_state={"reconnect_seconds": 0.2}), env=ENV)
    code = [{"role": "user", "content": "Write a Python function for binary search"}]

    clients = (openai_client(a), openai_client(b))

    async def load(n: int, tag: str) -> list[str]:
        async def one(i: int) -> str:
            reply = await clients[i % 2].chat.completions.create(
                model="openai/gpt-4o", messages=code, extra_headers={"X-Session-Id": f"{tag}-{i % 5}"})
            return reply.choices[0].message.content or ""
        return await asyncio.gather(*(one(i) for i in range(n)))

    before = load(40, "before")
    task = asyncio.ensure_future(before)
    await asyncio.sleep(0.01)
    redis_server.stop()  # while the first batch is in flight
    answers = await task + await load(40, "down")
    assert len(answers) == 80 and all(a.startswith("echo:") for a in answers)
    await until_shared(a, False)
    status = (await readyz(a))["shared_state"]
    assert status["fallback"] == "serving on this instance's local state"
    async with aiohttp.ClientSession() as http, http.get(a.url + "/metrics") as resp:
        assert "plano_shared_state_up 0.0" in await resp.text()

    redis_server.start()  # empty: what the instances learnt meanwhile comes back from them
    await until_shared(a, True)
    await until_shared(b, True)
    keys = {k async for k in redis_client.scan_iter("plano:affinity:down-*")}
    assert len(keys) == 5  # pins made while Redis was down were written once it returned
    assert len(await load(10, "after")) == 10


@pytest.mark.parametrize("mode", ["closed", "open"])
async def test_budgets_while_redis_is_down_fail_closed_by_default_or_open_when_chosen(
        mode, gateway, fake_upstream, redis_server, openai_client):
    up, free = await fake_upstream("up"), await fake_upstream("free")
    cfg = shared(config(provider("up/m", up), provider("free/m", free)), redis_server,
                 budgets=[{"target": "up/m", "daily_requests": 100}],
                 shared_state={"budgets_when_unreachable": mode})
    gw = await gateway(cfg)
    await until_shared(gw, True)
    redis_server.stop()
    await until_shared(gw, False)

    client = openai_client(gw)
    await client.chat.completions.create(model="free/m", messages=HELLO)  # no cap: always served
    started = time.monotonic()
    if mode == "closed":
        with pytest.raises(openai.RateLimitError) as err:
            await client.chat.completions.create(model="up/m", messages=HELLO)
        assert "shared state store is unreachable" in err.value.body["message"]
        assert not up.received
    else:
        await client.chat.completions.create(model="up/m", messages=HELLO)
        assert len(up.received) == 1
    assert time.monotonic() - started < 1.0  # no Redis timeout paid while it is known to be down
