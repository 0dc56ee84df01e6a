"""Codex (`codex exec`) through the gateway, against a chat upstream (vLLM) and an Anthropic one."""

from __future__ import annotations

import json

import pytest

from tests.clients.conftest import MODEL, Sandbox, StackFactory, assert_round_trip, run_client
from tests.conftest import CLIENT_KEY
from tests.fakes.strict_llm import PlannedCall, Planner, ToolSpec


def probe_plan(tools: list[ToolSpec]) -> PlannedCall | None:
    return None


@pytest.mark.parametrize("name", ["qwen3-coder-30b", "gpt-5.5", "gpt-6-sol"])
async def test_probe(name: str, stack: StackFactory, sandbox: Sandbox) -> None:
    st = await stack("chat", probe_plan, aliases={"gpt-5.5": f"vllm/{MODEL}", "gpt-6-sol": f"vllm/{MODEL}"})
    codex_home = sandbox.home / ".codex"
    codex_home.mkdir()
    (codex_home / "config.toml").write_text(f'''check_for_update_on_startup = false
model_provider = "plano"
[model_providers.plano]
name = "plano"
base_url = "{st.gateway.base_url}"
env_key = "PLANO_API_KEY"
wire_api = "responses"
''')
    sandbox.env.update({"PLANO_API_KEY": CLIENT_KEY, "CODEX_HOME": str(codex_home)})
    done = await run_client(["codex", "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox",
                             "-m", name, "Write hello.txt"], sandbox, timeout=40)
    print(done)
