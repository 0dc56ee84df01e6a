"""Budgets through real sockets: every attempt counts, the cap answers 429 without failover, and the
counts survive a gateway restart (same state directory)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
import yaml

from plano_daemon.config.load import load_config
from plano_daemon.policy.budgets import BudgetStore, DayCounts, local_day
from tests.fakes.upstream import reply_status
from tests.functional.users_setup import GENERAL, KEYS, PLANNING, TRUSTED, users_setup


async def metrics_text(url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(url + "/metrics") as resp:
        return await resp.text()


async def test_request_budget_counts_retries_denies_at_the_cap_and_survives_a_restart(
        fake_upstream, gateway, openai_client, state_directory: Path):
    cfg, fakes = await users_setup(fake_upstream, budgets=[{"target": "cloud-general", "daily_requests": 3}])
    cfg["model_providers"][1]["retry_policy"] = {
        "fallback_models": ["nous/hermes-3-llama-3.1-405b"], "default_strategy": "same_model",
        "default_max_attempts": 2, "backoff": {"base_ms": 1, "max_ms": 1}}
    fakes["openrouter"].script(reply_status(503))
    gw = await gateway(cfg, env=KEYS)
    client = openai_client(gw)

    await client.chat.completions.create(model="cloud-general", messages=GENERAL, extra_headers=TRUSTED)
    await client.chat.completions.create(model="cloud-general", messages=GENERAL, extra_headers=TRUSTED)
    assert len(fakes["openrouter"].received) == 3  # a 503, its retry, then the second request
    assert 'plano_budget_usage{kind="requests",target="cloud-general"} 3.0' in await metrics_text(gw.url)

    with pytest.raises(openai.RateLimitError) as err:
        await client.chat.completions.create(model="cloud-general", messages=GENERAL, extra_headers=TRUSTED)
    assert err.value.body["code"] == "budget_hard_limit"
    assert "3/3" in err.value.body["message"]
    assert len(fakes["openrouter"].received) == 3 and not fakes["nous"].received  # no failover
    assert 'plano_policy_denials_total{code="budget_hard_limit"} 1.0' in await metrics_text(gw.url)
    local = await client.chat.completions.create(model="local-code", messages=[
        {"role": "user", "content": "refactor this python function"}])
    assert local.model == "qwen2.5-coder-14b-instruct"  # other channels are not affected

    await gw.server.stop()
    saved = json.loads((state_directory / "budgets.json").read_text())
    assert saved["usage"]["cloud-general"]["requests"] == 3

    restarted = await gateway(cfg, env=KEYS)
    with pytest.raises(openai.RateLimitError):
        await openai_client(restarted).chat.completions.create(model="cloud-general", messages=GENERAL,
                                                               extra_headers=TRUSTED)
    assert len(fakes["openrouter"].received) == 3


async def test_token_budget_applies_to_the_prefix_whatever_name_reaches_it(fake_upstream, gateway, openai_client,
                                                                         state_directory: Path):
    cfg, fakes = await users_setup(fake_upstream, budgets=[{"target": "nvidia/*", "daily_tokens": 20}])
    gw = await gateway(cfg, env=KEYS)
    client = openai_client(gw)

    await client.chat.completions.create(model="planning", messages=PLANNING, extra_headers=TRUSTED)
    await client.chat.completions.create(model="nvidia/nemotron-4-340b-instruct", messages=PLANNING,
                                         extra_headers=TRUSTED)
    with pytest.raises(openai.RateLimitError) as err:  # routed there: still the same budget
        await client.chat.completions.create(model="local-code", messages=PLANNING, extra_headers=TRUSTED)
    assert err.value.body["code"] == "budget_hard_limit"
    assert len(fakes["nvidia"].received) == 2  # each fake answer reports 18 tokens

    await gw.server.stop()
    records = [json.loads(line) for line in (state_directory / "route-decisions.jsonl").read_text().splitlines()]
    denied: dict[str, Any] = records[-1]
    assert denied["decision_outcome"] == "denied"
    assert denied["policy_denials"][0]["code"] == "budget_hard_limit"
    assert denied["rejected_sources"]["nvidia-planning"][0].startswith("budget_hard_limit: daily tokens budget")


async def test_budget_gauge_is_set_from_the_store_at_start_after_a_reload_and_across_midnight(
        fake_upstream, gateway, state_directory: Path):
    state_directory.mkdir(parents=True, exist_ok=True)
    (state_directory / "budgets.json").write_text(DayCounts(local_day(), {
        "cloud-general": {"requests": 2, "tokens": 30}, "planning": {"requests": 1, "tokens": 0}}).to_json())
    cfg, _ = await users_setup(fake_upstream, budgets=[{"target": "cloud-general", "daily_requests": 5}])
    gw = await gateway(cfg, env=KEYS)
    gauge = 'plano_budget_usage{kind="requests",target="%s"} %s'

    text = await metrics_text(gw.url)  # a restarted gateway, before any request
    assert gauge % ("cloud-general", "2.0") in text and 'target="planning"' not in text

    cfg["dubnium"]["budgets"].append({"target": "planning", "daily_requests": 5})
    gw.server.gateway.swap(load_config(None, text=yaml.safe_dump(cfg), environ=KEYS))
    assert gauge % ("planning", "1.0") in await metrics_text(gw.url)

    day = [local_day()]
    services = gw.server.gateway.services
    services.budgets = BudgetStore(state_directory / "budgets.json", today=lambda: day[0])
    day[0] = "2999-01-01"  # midnight passed and no request came since
    text = await metrics_text(gw.url)
    assert gauge % ("cloud-general", "0.0") in text and gauge % ("planning", "0.0") in text
