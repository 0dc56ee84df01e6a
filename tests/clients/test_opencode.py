"""OpenCode (`opencode run`) through the gateway, as an OpenAI-compatible provider, against a chat upstream
(vLLM) and an Anthropic one."""

from __future__ import annotations

import json

import pytest

from tests.clients.conftest import MAX_MODEL_LEN, MODEL, Sandbox, StackFactory, assert_round_trip, run_client
from tests.conftest import CLIENT_KEY
from tests.fakes.strict_llm import PlannedCall, Planner, ToolSpec

CONTENT = "written by opencode through the gateway\n"


def write_plan(path: str) -> Planner:
    """OpenCode's `write` tool: `{filePath, content}`."""
    def plan(tools: list[ToolSpec]) -> PlannedCall | None:
        if "write" not in {t["name"] for t in tools}:
            return None
        return PlannedCall(name="write", arguments={"filePath": path, "content": CONTENT})
    return plan


def opencode_config(base_url: str) -> dict[str, object]:
    return {
        "$schema": "https://opencode.ai/config.json",
        "autoupdate": False, "share": "disabled",
        "permission": {"edit": "allow", "bash": "allow"},
        "model": f"plano/{MODEL}",
        "provider": {"plano": {
            "npm": "@ai-sdk/openai-compatible", "name": "plano",
            "options": {"baseURL": base_url, "apiKey": CLIENT_KEY},
            # OpenCode asks 32000 output tokens unless told the model's limits, and a chat client's request
            # to a chat upstream passes through as sent: a local vLLM's max_model_len must be declared here
            "models": {MODEL: {"name": MODEL, "limit": {"context": MAX_MODEL_LEN, "output": 8192}}}}},
    }


@pytest.mark.parametrize("interface", ["chat", "anthropic"])
async def test_opencode_writes_a_file(interface: str, stack: StackFactory, sandbox: Sandbox) -> None:
    target = sandbox.work / "hello.txt"
    st = await stack(interface, write_plan(str(target)))
    (sandbox.work / "opencode.json").write_text(json.dumps(opencode_config(st.gateway.base_url), indent=2))
    sandbox.env.update({"OPENCODE_DISABLE_AUTOUPDATE": "1", "OPENCODE_DISABLE_MODELS_FETCH": "1",
                        "OPENCODE_DISABLE_SHARE": "1", "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
                        "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1", "OPENCODE_DISABLE_CLAUDE_CODE": "1"})
    done = await run_client(["opencode", "run", "Write hello.txt"], sandbox)
    assert_round_trip(st, done, target, CONTENT)
