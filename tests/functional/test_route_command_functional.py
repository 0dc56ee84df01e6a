"""`plano-daemon route` decides as the running gateway's /routing/v1 does: one routing implementation.

The command and a real gateway are given the same config and the same chat body; their models and route
must agree (ranking by the profile's cost classes included). With a router model configured, the gateway
asks it while the command never does: the one difference the command documents.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from plano_daemon.cli import main
from plano_daemon.config.envsubst import referenced_vars
from tests.conftest import FIXTURES
from tests.fakes.router_model import route_by_keywords


async def cli_route(capsys: pytest.CaptureFixture[str], config: Path, prompt: str) -> dict[str, Any]:
    """The command, in a thread: it runs its own event loop, as from a shell."""
    code = await asyncio.to_thread(main, ["route", "--config", str(config), prompt])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


async def routing_v1(url: str, prompt: str, **headers: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{url}/routing/v1/chat/completions", headers=headers,
                          json={"messages": [{"role": "user", "content": prompt}]}) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()


def write(tmp_path: Path, doc: dict[str, Any]) -> tuple[Path, str]:
    doc["listeners"][0]["port"] = 0
    text = yaml.safe_dump(doc, sort_keys=False)
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path, text


@pytest.mark.parametrize("prompt", [
    "Write a Python function that implements binary search",
    "Think step by step: which of these two proofs is sound, and why?",
    "What is the capital of France?",
])
async def test_the_command_and_routing_v1_decide_the_same(gateway, capsys, tmp_path, prompt):
    path, text = write(tmp_path, yaml.safe_load((FIXTURES / "seed-routing-service.yaml").read_text()))
    gw = await gateway(text, env=dict.fromkeys(referenced_vars(text), "k"))

    served, offline = await routing_v1(gw.url, prompt), await cli_route(capsys, path, prompt)

    assert (offline["models"], offline["route"]) == (served["models"], served["route"])
    assert offline["router"] == "embedded"


async def test_prefer_cheapest_ranks_the_same_with_the_users_profile(gateway, capsys, tmp_path):
    doc = yaml.safe_load((FIXTURES / "dubnium-vllm.yaml").read_text())
    doc["routing_preferences"][0]["models"] = ["cloud-general", "cheap-fast", "local-code"]
    doc["routing_preferences"][0]["selection_policy"] = {"prefer": "cheapest"}
    doc.setdefault("dubnium", {})["policy_profile"] = str(FIXTURES / "local-first-dev.yaml")
    path, text = write(tmp_path, doc)
    gw = await gateway(text, env=dict.fromkeys(referenced_vars(text), "k"))
    prompt = "refactor this python function and generate code"

    # A class that may use every boundary, and no task: the policy narrows nothing, only the ranking shows.
    served = await routing_v1(gw.url, prompt, **{"X-Privacy-Class": "public_cloud_ok"})
    offline = await cli_route(capsys, path, prompt)

    assert served["models"] == ["local-code", "cheap-fast", "cloud-general"]
    assert (offline["models"], offline["route"]) == (served["models"], served["route"])


async def test_the_command_never_asks_the_router_model_the_gateway_asks(gateway, fake_upstream, capsys, tmp_path):
    router = await fake_upstream("router")
    router.default = route_by_keywords({"binary search": "complex_reasoning"})
    doc = yaml.safe_load((FIXTURES / "seed-routing-service.yaml").read_text())
    doc["model_providers"].append({"model": "local/arch-router", "base_url": router.base_url})
    doc["overrides"] = {"llm_routing_model": "local/arch-router"}
    path, text = write(tmp_path, doc)
    gw = await gateway(text, env=dict.fromkeys(referenced_vars(text), "k"))
    prompt = "Write a Python function that implements binary search"

    offline = await cli_route(capsys, path, prompt)
    assert (offline["route"], offline["router"]) == ("code_generation", "embedded")
    assert not router.received

    served = await routing_v1(gw.url, prompt)
    assert served["route"] == "complex_reasoning" and len(router.received) == 1
