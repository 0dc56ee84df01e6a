"""Codex (`codex exec`) through the gateway, against a chat upstream (vLLM) and an Anthropic one.

Three setups: a custom provider (`[model_providers.plano]`, HTTP only); the built-in OpenAI provider pointed at
the gateway with `openai_base_url` (Codex opens the Responses WebSocket first); and code mode (model names
for which Codex sends its tools as `additional_tools`/`namespace` input items, not top-level `tools`)."""

from __future__ import annotations

import json

import pytest

from tests.clients.conftest import MODEL, Sandbox, Stack, StackFactory, assert_round_trip, run_client
from tests.conftest import CLIENT_KEY
from tests.fakes.strict_llm import PlannedCall, Planner, ToolSpec

CONTENT = "written by codex through the gateway"
#: A model name for which Codex 0.171 runs in code mode; the gateway maps it to the served model by alias.
CODE_MODE_NAME = "gpt-6-sol"


def shell_plan(filename: str) -> Planner:
    """Codex's `exec_command` tool (`{cmd}`); in code mode, its freeform `exec` tool of the `functions`
    namespace (flattened by the gateway to `functions__exec`, `{input}`), whose JavaScript calls the same tool."""
    cmd = f"printf '{CONTENT}' > {filename}"

    def plan(tools: list[ToolSpec]) -> PlannedCall | None:
        names = {t["name"] for t in tools}
        if "exec_command" in names:
            return PlannedCall(name="exec_command", arguments={"cmd": cmd})
        if "functions__exec" in names:
            script = f"const r = await tools.exec_command({{cmd: {json.dumps(cmd)}}});\ntext(r.output);\n"
            return PlannedCall(name="functions__exec", arguments={"input": script})
        return None
    return plan


def codex_config(st: Stack, setup: str) -> str:
    common = 'check_for_update_on_startup = false\n[analytics]\nenabled = false\n'
    if setup == "builtin":
        return f'openai_base_url = "{st.gateway.base_url}"\n{common}'
    return (f'model_provider = "plano"\n{common}[model_providers.plano]\nname = "plano"\n'
            f'base_url = "{st.gateway.base_url}"\nenv_key = "PLANO_API_KEY"\nwire_api = "responses"\n')


@pytest.mark.parametrize("interface", ["chat", "anthropic"])
@pytest.mark.parametrize("setup", ["custom", "builtin", "code_mode"])
async def test_codex_runs_a_command(setup: str, interface: str, stack: StackFactory, sandbox: Sandbox) -> None:
    prefix = "vllm" if interface == "chat" else "anthropic"
    name = CODE_MODE_NAME if setup == "code_mode" else MODEL
    st = await stack(interface, shell_plan("hello.txt"), aliases={CODE_MODE_NAME: f"{prefix}/{MODEL}"})
    codex_home = sandbox.home / ".codex"
    codex_home.mkdir()
    (codex_home / "config.toml").write_text(codex_config(st, setup))
    sandbox.env.update({"CODEX_HOME": str(codex_home), "OPENAI_API_KEY": CLIENT_KEY, "PLANO_API_KEY": CLIENT_KEY})
    done = await run_client(["codex", "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox",
                             "-m", name, "Write hello.txt"], sandbox)
    assert_round_trip(st, done, sandbox.work / "hello.txt", CONTENT)
    # the WebSocket transport works first time: no reconnect, no fallback to HTTP
    assert "Reconnecting" not in done.stderr and "Falling back" not in done.stderr, str(done)
