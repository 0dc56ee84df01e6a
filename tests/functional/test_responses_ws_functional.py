"""The Responses WebSocket transport Codex opens first (GET /v1/responses + upgrade), through real sockets."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp
import pytest

from tests.conftest import CLIENT_KEY, config, provider
from tests.fakes.upstream import chat_chunks, hang, reply_sse

CODEX_HEADERS = {"Authorization": f"Bearer {CLIENT_KEY}", "openai-beta": "responses_websockets=2026-02-06",
                 "session_id": "s-1", "originator": "codex_exec"}
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def create(**body: Any) -> str:
    return json.dumps({"type": "response.create", "model": "vllm/qwen", "instructions": "You are Codex.",
                       "tools": [], "tool_choice": "auto", "parallel_tool_calls": False, "store": False,
                       "stream": True, "include": [], **body})


async def turn(ws: aiohttp.ClientWebSocketResponse, message: str) -> list[dict[str, Any]]:
    """Send one response.create; the events until a terminal one."""
    await ws.send_str(message)
    events = []
    while True:
        msg = await ws.receive(timeout=10)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        events.append(json.loads(msg.data))
        if events[-1]["type"] in ("response.completed", "response.incomplete", "response.failed", "error"):
            return events


async def access_lines(caplog: pytest.LogCaptureFixture, until: Any) -> list[dict[str, Any]]:
    """The access-log lines so far, once `until(lines)` holds (the server logs after the client is done)."""
    for _ in range(100):
        lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "plano_daemon.access"]
        if until(lines):
            break
        await asyncio.sleep(0.05)
    return lines


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


async def test_codex_turns_over_the_websocket_with_incremental_input(fake_upstream, gateway, caplog):
    caplog.set_level(logging.INFO, logger="plano_daemon.access")
    up = await fake_upstream()
    call = {"index": 0, "id": "call_1", "type": "function",
            "function": {"name": "exec_command", "arguments": '{"cmd":"touch a.txt"}'}}
    first = b"".join([b'data: {"id":"chatcmpl-1","choices":[{"index":0,"delta":{"tool_calls":[' + json.dumps(call).encode()
                      + b']}}]}\n\n', b'data: {"id":"chatcmpl-1","choices":[{"index":0,"delta":{},'
                      b'"finish_reason":"tool_calls"}]}\n\n', b"data: [DONE]\n\n"])
    up.script(reply_sse([first]), reply_sse(chat_chunks("qwen", ["done"])))
    gw = await gateway(config(provider("vllm/qwen", up)))
    tools = [{"type": "function", "name": "exec_command", "parameters": {"type": "object", "properties": {}}}]

    async with aiohttp.ClientSession() as s, s.ws_connect(f"{gw.base_url}/responses", headers=CODEX_HEADERS) as ws:
        warm = await turn(ws, create(input=[user("make a.txt")], tools=tools, generate=False))
        one = await turn(ws, create(input=[], tools=tools, previous_response_id=warm[-1]["response"]["id"],
                                    client_metadata={"ws_request_header_traceparent": TRACEPARENT}))
        output = one[-1]["response"]["output"]
        two = await turn(ws, create(tools=tools, previous_response_id=one[-1]["response"]["id"], input=[
            {"type": "function_call_output", "call_id": "call_1", "output": "ok"}]))

    assert [e["type"] for e in warm] == ["response.created", "response.completed"]
    assert one[0]["type"] == "response.created" and one[-1]["type"] == "response.completed"
    assert [(o["type"], o["name"]) for o in output] == [("function_call", "exec_command")]
    assert two[-1]["response"]["output"][0]["content"][0]["text"] == "done"
    assert len(up.received) == 2  # the prewarm reached no model
    second = up.received[1].json["messages"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "tool"]
    assert second[3] == {"role": "tool", "tool_call_id": "call_1", "content": "ok"}
    assert all(CLIENT_KEY not in json.dumps(r.headers) for r in up.received)
    assert up.received[0].headers["traceparent"].split("-")[1] == TRACEPARENT.split("-")[1]
    assert "client_metadata" not in up.received[0].json
    lines = await access_lines(caplog, lambda ls: any(line.get("status") == 101 for line in ls))
    assert sum(1 for line in lines if line.get("api") == "responses") == 2  # one line per answered request
    assert [line["path"] for line in lines if line.get("status") == 101] == ["/v1/responses"]


async def test_refusals_arrive_as_error_messages_with_their_status(fake_upstream, gateway):
    up = await fake_upstream()
    gw = await gateway(config(provider("vllm/qwen", up)))

    async with aiohttp.ClientSession() as s, s.ws_connect(f"{gw.base_url}/responses", headers=CODEX_HEADERS) as ws:
        unknown_model = await turn(ws, create(model="nope", input=[user("hi")]))
        unknown_previous = await turn(ws, create(input=[user("hi")], previous_response_id="resp_elsewhere"))
        ok = await turn(ws, create(input=[user("hi")]))

    assert (unknown_model[-1]["type"], unknown_model[-1]["status"]) == ("error", 404)
    assert unknown_model[-1]["error"]["code"] == "model_not_found"
    assert (unknown_previous[-1]["status"], unknown_previous[-1]["error"]["code"]) == (
        400, "previous_response_not_found")
    assert ok[-1]["type"] == "response.completed"


async def test_a_plain_get_is_a_json_400_and_unknown_paths_are_logged(gateway, fake_upstream, caplog):
    caplog.set_level(logging.INFO, logger="plano_daemon.access")
    gw = await gateway(config(provider("vllm/qwen", await fake_upstream())))
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{gw.base_url}/responses") as resp:
            assert resp.status == 400
            assert (await resp.json())["error"]["code"] == "websocket_upgrade_required"
        async with s.get(f"{gw.url}/v1/nothing") as resp:
            assert resp.status == 404
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "plano_daemon.access"]
    assert {(line["path"], line["status"]) for line in lines} >= {("/v1/responses", 400), ("/v1/nothing", 404)}


async def test_the_websocket_works_toward_an_anthropic_upstream(fake_upstream, gateway):
    up = await fake_upstream()
    gw = await gateway(config(provider("claude/sonnet", up, provider_interface="anthropic")))
    async with aiohttp.ClientSession() as s, s.ws_connect(f"{gw.base_url}/responses", headers=CODEX_HEADERS) as ws:
        events = await turn(ws, create(model="claude/sonnet", input=[user("hello")]))
    assert events[-1]["type"] == "response.completed"
    assert up.received[0].path == "/v1/messages"


async def test_a_client_leaving_mid_answer_cancels_the_request(fake_upstream, gateway, caplog):
    caplog.set_level(logging.INFO, logger="plano_daemon.access")
    up = await fake_upstream()
    up.script(hang(30))
    gw = await gateway(config(provider("vllm/qwen", up)))

    async with aiohttp.ClientSession() as s, s.ws_connect(f"{gw.base_url}/responses", headers=CODEX_HEADERS) as ws:
        await ws.send_str(create(input=[user("hi")]))
        for _ in range(100):  # until the upstream has the request
            if up.received:
                break
            await asyncio.sleep(0.02)

    lines = await access_lines(caplog, lambda ls: any(line.get("api") == "responses" for line in ls))
    assert [line["status"] for line in lines if line.get("api") == "responses"] == [499]
