"""Claude Code (`claude -p`) through the gateway, against a chat upstream (vLLM) and an Anthropic one.

It runs with its own default model names, which the gateway maps to the served model by aliases: the setup
the README gives."""

from __future__ import annotations

import pytest

from tests.clients.conftest import MODEL, Sandbox, StackFactory, assert_round_trip, run_client
from tests.conftest import CLIENT_KEY
from tests.fakes.strict_llm import PlannedCall, Planner, ToolSpec

CONTENT = "written by claude code through the gateway\n"

#: The model names Claude Code 2.1.x asks for by default (main loop, then its small fast model).
DEFAULT_NAMES = ("claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5", "claude-haiku-4-5",
                 "claude-haiku-4-5-20251001")


def write_plan(path: str) -> Planner:
    """Claude Code's `Write` tool: `{file_path, content}`."""
    def plan(tools: list[ToolSpec]) -> PlannedCall | None:
        if "Write" not in {t["name"] for t in tools}:
            return None
        return PlannedCall(name="Write", arguments={"file_path": path, "content": CONTENT})
    return plan


def claude_env(sandbox: Sandbox, gateway_url: str) -> dict[str, str]:
    return {"ANTHROPIC_BASE_URL": gateway_url, "ANTHROPIC_API_KEY": CLIENT_KEY,
            "CLAUDE_CONFIG_DIR": str(sandbox.home / ".claude"),
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1"}


@pytest.mark.parametrize("interface", ["chat", "anthropic"])
async def test_claude_code_default_models_write_a_file(interface: str, stack: StackFactory,
                                                       sandbox: Sandbox) -> None:
    target = sandbox.work / "hello.txt"
    prefix = "vllm" if interface == "chat" else "anthropic"
    st = await stack(interface, write_plan(str(target)),
                     aliases=dict.fromkeys(DEFAULT_NAMES, f"{prefix}/{MODEL}"))
    sandbox.env.update(claude_env(sandbox, st.gateway.url))
    done = await run_client(["claude", "-p", "Write hello.txt", "--permission-mode", "acceptEdits",
                             "--output-format", "json"], sandbox)
    assert_round_trip(st, done, target, CONTENT)
    assert '"is_error":false' in done.stdout.replace(" ", "")
