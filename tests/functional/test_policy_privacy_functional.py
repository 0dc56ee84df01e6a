"""The user's own profile and config, pointed at loopback fakes: privacy boundaries hold end to end.

Every fake listens on 127.0.0.1, so the cloud channels count as cloud only because the profile's sources
say so (alias → trusted_cloud); the local channel is local by its sources and its loopback address.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import openai
import pytest

from tests.fakes.upstream import FakeUpstream, reply_status
from tests.functional.users_setup import GENERAL, KEYS, PLANNING, TRUSTED, users_setup


def cloud_traffic(fakes: dict[str, FakeUpstream]) -> int:
    return sum(len(f.received) for name, f in fakes.items() if name != "local")


def ledger_records(state: Path) -> list[dict[str, Any]]:
    path = state / "route-decisions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def test_local_only_request_routed_to_a_cloud_route_stays_on_the_local_model(
        fake_upstream, gateway, openai_client):
    cfg, fakes = await users_setup(fake_upstream)
    gw = await gateway(cfg, env=KEYS)
    client = openai_client(gw)

    routed = await client.chat.completions.create(model="local-code", messages=PLANNING, extra_headers=TRUSTED)
    assert routed.model == "nemotron-4-340b-instruct" and len(fakes["nvidia"].received) == 1

    for headers in ({"X-Privacy-Class": "local_only"}, {}, {"X-Privacy-Class": "bogus"}):
        reply = await client.chat.completions.create(model="local-code", messages=PLANNING, extra_headers=headers)
        assert reply.model == "qwen2.5-coder-14b-instruct"
    assert len(fakes["local"].received) == 3 and cloud_traffic(fakes) == 1


async def test_unlabelled_or_local_only_request_for_a_cloud_alias_is_denied_before_any_upstream(
        fake_upstream, gateway, openai_client, anthropic_client, state_directory):
    cfg, fakes = await users_setup(fake_upstream)
    gw = await gateway(cfg, env=KEYS)

    for headers in ({}, {"X-Privacy-Class": "local_only"}):
        with pytest.raises(openai.PermissionDeniedError) as err:
            await openai_client(gw).chat.completions.create(model="cloud-general", messages=PLANNING,
                                                            extra_headers=headers)
        assert err.value.status_code == 403
        assert err.value.body["code"] == "privacy_violation"
    with pytest.raises(anthropic.PermissionDeniedError) as aerr:
        await anthropic_client(gw).messages.create(model="cloud-general", max_tokens=50, messages=PLANNING)
    assert aerr.value.body["type"] == "error" and aerr.value.body["error"]["type"] == "permission_error"
    assert cloud_traffic(fakes) == 0 and not fakes["local"].received

    async with aiohttp.ClientSession() as http, http.get(gw.url + "/metrics") as resp:
        metrics = await resp.text()
    assert 'plano_policy_denials_total{code="privacy_violation"} 3.0' in metrics

    await gw.server.stop()
    denied = [r for r in ledger_records(state_directory) if r["decision_outcome"] == "denied"]
    assert len(denied) == 3
    first = denied[0]
    assert first["privacy_class"] == "local_only" and first["data_classes"] == []
    assert first["rejected_sources"]["openrouter-cloud-general"] == [
        "boundary trusted_cloud not allowed for privacy_class local_only"]
    assert first["policy_denials"][0]["code"] == "privacy_violation"
    assert "budget_hard_limit" in first["fallback_policy"]["forbidden_reasons"]


async def test_trusted_cloud_ok_request_may_use_the_cloud_alias(fake_upstream, gateway, openai_client,
                                                                state_directory):
    cfg, fakes = await users_setup(fake_upstream)
    gw = await gateway(cfg, env=KEYS)

    reply = await openai_client(gw).chat.completions.create(model="cloud-general", messages=GENERAL,
                                                            extra_headers={**TRUSTED, "X-Task": "chat"})
    assert reply.model == "anthropic/claude-3.5-sonnet"
    assert cloud_traffic(fakes) == 1 and len(fakes["openrouter"].received) == 1
    assert fakes["openrouter"].received[0].headers["Authorization"] == "Bearer key-openrouter_api_key"

    await gw.server.stop()
    (record,) = ledger_records(state_directory)
    assert record["decision_outcome"] == "selected" and record["privacy_class"] == "trusted_cloud_ok"
    assert record["eligible_sources"] and not record["policy_denials"]


async def test_private_source_code_stays_local_even_for_a_public_class(fake_upstream, gateway, openai_client):
    cfg, fakes = await users_setup(fake_upstream)
    gw = await gateway(cfg, env=KEYS)
    headers = {"X-Privacy-Class": "public_cloud_ok", "X-Data-Class": "source_code"}

    reply = await openai_client(gw).chat.completions.create(model="local-code", messages=PLANNING,
                                                            extra_headers=headers)
    assert reply.model == "qwen2.5-coder-14b-instruct"
    with pytest.raises(openai.PermissionDeniedError):
        await openai_client(gw).chat.completions.create(model="planning", messages=PLANNING,
                                                        extra_headers=headers)
    assert cloud_traffic(fakes) == 0


async def test_failover_never_crosses_a_boundary(fake_upstream, gateway, openai_client):
    cfg, fakes = await users_setup(fake_upstream)
    cfg["model_providers"][0]["retry_policy"] = {
        "fallback_models": ["openrouter/anthropic/claude-3.5-sonnet"], "default_max_attempts": 3}
    fakes["local"].script(reply_status(503), reply_status(503))
    gw = await gateway(cfg, env=KEYS)

    with pytest.raises(openai.InternalServerError) as err:
        await openai_client(gw).chat.completions.create(model="local-code", messages=[
            {"role": "user", "content": "refactor this python function"}])
    assert err.value.status_code == 503
    assert len(fakes["local"].received) == 1 and cloud_traffic(fakes) == 0

    reply = await openai_client(gw).chat.completions.create(model="local-code", extra_headers=TRUSTED, messages=[
        {"role": "user", "content": "refactor this python function"}])
    assert reply.model == "anthropic/claude-3.5-sonnet" and len(fakes["openrouter"].received) == 1


async def test_a_failure_reason_the_profile_forbids_ends_the_request(fake_upstream, gateway, openai_client):
    cfg, fakes = await users_setup(fake_upstream)
    cfg["model_providers"][1]["retry_policy"] = {
        "fallback_models": ["nous/hermes-3-llama-3.1-405b"],
        "on_status_codes": [{"codes": [401], "strategy": "different_provider", "max_attempts": 2}]}
    fakes["openrouter"].script(reply_status(401))
    gw = await gateway(cfg, env=KEYS)

    with pytest.raises(openai.AuthenticationError):
        await openai_client(gw).chat.completions.create(model="cloud-general", messages=GENERAL,
                                                        extra_headers=TRUSTED)
    assert len(fakes["openrouter"].received) == 1 and not fakes["nous"].received


async def test_a_router_model_outside_the_boundary_never_sees_a_local_only_prompt(
        fake_upstream, gateway, openai_client, state_directory):
    cfg, fakes = await users_setup(fake_upstream)
    cfg["overrides"] = {"llm_routing_model": "cloud-general"}  # a cloud router model (trusted_cloud)
    gw = await gateway(cfg, env=KEYS)
    client = openai_client(gw)

    await client.chat.completions.create(model="local-code", messages=PLANNING)
    assert cloud_traffic(fakes) == 0 and len(fakes["local"].received) == 1

    await client.chat.completions.create(model="local-code", messages=PLANNING, extra_headers=TRUSTED)
    router_calls = [r for r in fakes["openrouter"].received if r.json.get("temperature") == 0.01]
    assert len(router_calls) == 1

    await gw.server.gateway.services.ledger.close()
    first = ledger_records(state_directory)[0]
    assert (first["router"], first["router_error"]) == ("embedded", "withheld_by_privacy_policy")
