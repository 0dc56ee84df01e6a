"""What a newcomer meets first: `./dev`'s usage, the embedded default's model list, a clean install."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import aiohttp
import yaml

from plano_daemon.cli import default_config_text

ROOT = Path(__file__).resolve().parents[2]


def test_dev_help_prints_the_usage_and_exits_0_and_no_command_is_a_usage_error() -> None:
    helped = subprocess.run([str(ROOT / "dev"), "help"], capture_output=True, text=True, timeout=30)
    assert helped.returncode == 0
    assert "./dev test" in helped.stdout and "set -euo" not in helped.stdout and "#" not in helped.stdout
    bare = subprocess.run([str(ROOT / "dev")], capture_output=True, text=True, timeout=30)
    assert bare.returncode == 2 and bare.stderr == helped.stdout
    wrong = subprocess.run([str(ROOT / "dev"), "tset"], capture_output=True, text=True, timeout=30)
    assert wrong.returncode == 2 and "unknown command 'tset'" in wrong.stderr


def test_the_license_is_an_spdx_expression_so_setuptools_does_not_warn() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "Apache-2.0"
    assert "setuptools>=77" in project["build-system"]["requires"]


async def test_the_embedded_default_lists_the_local_endpoints_models_which_then_answer(fake_upstream, gateway) -> None:
    local = await fake_upstream("vllm")
    local.models = {"qwen3-coder": None}
    cfg = yaml.safe_load(default_config_text())
    cfg["listeners"][0]["port"] = 0
    cfg["model_providers"][0]["base_url"] = local.base_url
    gw = await gateway(cfg)
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{gw.base_url}/models") as resp:
            listed = [m["id"] for m in (await resp.json())["data"]]
        assert listed == ["local/qwen3-coder"]
        body = {"model": listed[0], "messages": [{"role": "user", "content": "hi"}]}
        async with s.post(f"{gw.base_url}/chat/completions", json=body) as resp:
            assert resp.status == 200
    assert local.received[-1].json["model"] == "qwen3-coder"
