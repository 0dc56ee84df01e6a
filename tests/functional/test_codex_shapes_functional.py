"""Codex's code mode through real sockets: additional_tools/namespace tools to a chat or Anthropic upstream."""

from __future__ import annotations

import aiohttp
import pytest

from tests.conftest import CLIENT_KEY, config, provider
from tests.fakes.upstream import chat_completion, reply_json
from tests.unit.test_translate_codex import code_mode


async def test_code_mode_to_a_chat_upstream_gets_its_namespaced_call(fake_upstream, gateway):
    up = await fake_upstream()
    up.script(reply_json(chat_completion("qwen", None, finish_reason="tool_calls", tool_calls=[
        {"id": "c1", "type": "function", "function": {"name": "functions__exec_command",
                                                      "arguments": '{"cmd":"touch a.txt"}'}}])))
    gw = await gateway(config(provider("vllm/qwen", up)))

    async with aiohttp.ClientSession() as s:
        async with s.post(f"{gw.base_url}/responses", json={**code_mode(), "model": "vllm/qwen"},
                          headers={"Authorization": f"Bearer {CLIENT_KEY}"}) as resp:
            body = await resp.json()

    assert resp.status == 200, body
    sent = up.received[0].json
    assert [t["function"]["name"] for t in sent["tools"]] == ["functions__exec_command", "functions__exec"]
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    (call,) = body["output"]
    assert (call["type"], call["name"], call["namespace"], call["arguments"]) == (
        "function_call", "exec_command", "functions", '{"cmd":"touch a.txt"}')


@pytest.mark.parametrize("kind", ["reasoning", "web_search_call", "compaction"])
async def test_items_without_a_chat_form_are_dropped_not_refused(fake_upstream, gateway, kind):
    up = await fake_upstream()
    gw = await gateway(config(provider("vllm/qwen", up)))
    body = code_mode({"type": kind, "id": "x_1", "encrypted_content": "e", "summary": []},
                     {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "again"}]})

    async with aiohttp.ClientSession() as s:
        async with s.post(f"{gw.base_url}/responses", json={**body, "model": "vllm/qwen"}) as resp:
            assert resp.status == 200, await resp.text()
