"""Hermes Agent (`hermes chat -q`) through the gateway, as a custom OpenAI-compatible endpoint, against a chat
upstream (vLLM) and an Anthropic one."""

from __future__ import annotations

import pytest
import yaml

from tests.clients.conftest import MODEL, Sandbox, StackFactory, assert_round_trip, run_client
from tests.conftest import CLIENT_KEY
from tests.fakes.strict_llm import PlannedCall, Planner, ToolSpec

CONTENT = "written by hermes through the gateway\n"


def write_plan(path: str) -> Planner:
    """Hermes' `write_file` tool: `{path, content}`."""
    def plan(tools: list[ToolSpec]) -> PlannedCall | None:
        if "write_file" not in {t["name"] for t in tools}:
            return None
        return PlannedCall(name="write_file", arguments={"path": path, "content": CONTENT})
    return plan


@pytest.mark.parametrize("interface", ["chat", "anthropic"])
async def test_hermes_writes_a_file(interface: str, stack: StackFactory, sandbox: Sandbox) -> None:
    target = sandbox.work / "hello.txt"
    st = await stack(interface, write_plan(str(target)))
    hermes_home = sandbox.home / ".hermes"
    hermes_home.mkdir()
    (hermes_home / "config.yaml").write_text(yaml.safe_dump({
        # without max_tokens Hermes asks 65536 output tokens, which a 64K vLLM refuses (a chat request to a
        # chat upstream passes through as sent)
        "model": {"provider": "custom", "default": MODEL, "base_url": st.gateway.base_url, "api_key": CLIENT_KEY,
                  "max_tokens": 8192}}))
    sandbox.env.update({"HERMES_HOME": str(hermes_home), "HERMES_DISABLE_LAZY_INSTALLS": "1"})
    done = await run_client(["hermes", "chat", "-Q", "--yolo", "-q", "Write hello.txt"], sandbox)
    assert_round_trip(st, done, target, CONTENT)
