"""/routing/v1 applies the proxy's policy, and every ledger line names sources one way: the user's own
profile and config against loopback fakes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp

from tests.functional.users_setup import KEYS, PLANNING, TRUSTED, users_setup

PLANNING_MODEL = "nvidia/nemotron-4-340b-instruct"
NOT_LOCAL_ONLY = ["boundary trusted_cloud not allowed for privacy_class local_only"]


async def decide(gw: Any, messages: list[dict[str, Any]], **headers: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as s, s.post(f"{gw.url}/routing/v1/chat/completions", headers=headers,
                                                    json={"model": "local-code", "messages": messages}) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def ledger(gw: Any) -> list[dict[str, Any]]:
    gw.accounted()
    writer = gw.server.gateway.services.ledger
    await writer.flush()
    return [json.loads(line) for line in Path(writer.path).read_text().splitlines()]


async def test_routing_answers_only_models_the_privacy_class_may_use(fake_upstream, gateway):
    cfg, fakes = await users_setup(fake_upstream)
    gw = await gateway(cfg, env=KEYS)

    trusted = await decide(gw, PLANNING, **TRUSTED)
    local_only = await decide(gw, PLANNING)  # unlabelled: the profile's default, local_only
    private_code = await decide(gw, PLANNING, **{"X-Privacy-Class": "public_cloud_ok", "X-Data-Class": "source_code"})

    assert (trusted["models"], trusted["route"]) == ([PLANNING_MODEL], "planning work")
    # nothing the route offers may be used: "none", and the client's own model goes to the proxy's gate
    assert (local_only["models"], local_only["route"]) == (["none"], "planning work")
    assert private_code["models"] == ["none"]
    assert not any(f.received for f in fakes.values())

    lines = await ledger(gw)
    assert [x["privacy_class"] for x in lines] == ["trusted_cloud_ok", "local_only", "public_cloud_ok"]
    ok, denied, code = lines
    assert (ok["selected_source"], ok["candidate_sources"], ok["eligible_sources"], ok["ranked_sources"]) == (
        "nvidia-planning", ["nvidia-planning"], ["nvidia-planning"], ["nvidia-planning"])
    assert ok["rejected_sources"] == {} and ok["decision_outcome"] == "selected"
    assert (denied["selected_source"], denied["candidate_sources"], denied["eligible_sources"]) == (
        None, ["nvidia-planning"], [])
    assert denied["rejected_sources"] == {"nvidia-planning": NOT_LOCAL_ONLY}
    assert denied["policy_denials"] == [] and "privacy_violation" in denied["fallback_policy"]["forbidden_reasons"]
    assert code["data_classes"] == ["source_code"]
    assert code["rejected_sources"] == {"nvidia-planning": ["boundary trusted_cloud excluded by rule "
                                                            "private-code-local-only"]}


async def test_a_pinned_decision_is_narrowed_for_each_request(fake_upstream, gateway):
    cfg, _ = await users_setup(fake_upstream)
    gw = await gateway(cfg, env=KEYS)
    key = {"X-Session-Id": "agent-loop-1"}

    first = await decide(gw, PLANNING, **TRUSTED, **key)
    second = await decide(gw, PLANNING, **key)  # same session, now without the cloud-approved label

    assert (first["models"], first["pinned"]) == ([PLANNING_MODEL], False)
    assert (second["models"], second["pinned"], second["route"]) == (["none"], True, "planning work")
    assert "model" not in second


async def test_proxy_ledger_names_every_source_by_the_profiles_id(fake_upstream, gateway, openai_client):
    cfg, fakes = await users_setup(fake_upstream)
    gw = await gateway(cfg, env=KEYS)
    client = openai_client(gw)

    await client.chat.completions.create(model="local-code", messages=PLANNING, extra_headers=TRUSTED)
    await client.chat.completions.create(model="local-code", messages=PLANNING)
    assert len(fakes["nvidia"].received) == 1 and len(fakes["local"].received) == 1

    cloud, local = await ledger(gw)
    assert (cloud["selected_source"], cloud["candidate_sources"], cloud["eligible_sources"],
            cloud["ranked_sources"]) == ("nvidia-planning", ["nvidia-planning"], ["nvidia-planning"],
                                         ["nvidia-planning"])
    # the route's cloud model is refused; the requested local-code serves, under its source id everywhere
    assert (local["selected_source"], local["candidate_sources"], local["eligible_sources"],
            local["ranked_sources"]) == ("dubnium-local-code", ["nvidia-planning", "dubnium-local-code"],
                                         ["dubnium-local-code"], ["dubnium-local-code"])
    assert local["rejected_sources"] == {"nvidia-planning": NOT_LOCAL_ONLY}
    names = {cloud["selected_source"], *cloud["candidate_sources"], local["selected_source"],
             *local["candidate_sources"], *local["rejected_sources"]}
    assert not any("/" in n for n in names)  # no provider model names mixed in with source ids
