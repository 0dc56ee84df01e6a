"""What Codex sends beyond plain function tools: code mode's additional_tools and namespaces, items with
no chat form, hosted tools. Shapes as codex-rs (0.17x) serializes them."""

from __future__ import annotations

import json
from typing import Any

from plano_daemon.translate.chat_stream_to_responses import ChatStreamToResponses
from plano_daemon.translate.responses_to_anthropic import ResponsesToMessages
from plano_daemon.translate.responses_to_chat import ResponsesToChat
from plano_daemon.wire.sse import SSEParser

EXEC_COMMAND = {"type": "function", "name": "exec_command", "description": "Run a command",
                "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}}
EXEC = {"type": "custom", "name": "exec", "description": "Run JavaScript",
        "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}}


def code_mode(*history: dict[str, Any]) -> dict[str, Any]:
    """Codex in code mode: no top-level tools; input[0] carries them, namespaced."""
    return {"model": "gpt-5.4", "instructions": "You are Codex.", "tools": [], "stream": False, "input": [
        {"type": "additional_tools", "role": "developer", "tools": [
            {"type": "namespace", "name": "functions", "description": "", "tools": [EXEC_COMMAND, EXEC]},
            {"type": "web_search"}]},
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "sandbox"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "make a.txt"}]},
        *history]}


def chat_reply(*calls: tuple[str, str, str]) -> dict[str, Any]:
    tool_calls = [{"id": i, "type": "function", "function": {"name": n, "arguments": a}} for i, n, a in calls]
    return {"id": "chatcmpl-1", "model": "m", "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": None, "tool_calls": tool_calls}}], "usage": {}}


def test_code_mode_tools_reach_a_chat_upstream_flattened() -> None:
    out = ResponsesToChat().request(code_mode(), "m")

    assert [t["function"]["name"] for t in out["tools"]] == ["functions__exec_command", "functions__exec"]
    assert out["tools"][0]["function"]["parameters"] == EXEC_COMMAND["parameters"]
    assert out["tools"][1]["function"]["parameters"]["required"] == ["input"]
    assert [m["role"] for m in out["messages"]] == ["system", "user"]
    assert "web_search" in out["messages"][0]["content"] and "You are Codex." in out["messages"][0]["content"]


def test_calls_come_back_with_their_namespace_and_own_name() -> None:
    t = ResponsesToChat(created=1)
    t.request(code_mode(), "m")

    out = t.response(chat_reply(("c1", "functions__exec_command", '{"cmd":"ls"}'),
                                ("c2", "functions__exec", '{"input":"text(1)"}')))

    assert out["output"] == [
        {"type": "function_call", "id": "fc_1_0", "call_id": "c1", "name": "exec_command", "namespace": "functions",
         "arguments": '{"cmd":"ls"}', "status": "completed"},
        {"type": "custom_tool_call", "id": "ctc_1_1", "call_id": "c2", "name": "exec", "namespace": "functions",
         "input": "text(1)", "status": "completed"}]


def test_streamed_calls_come_back_with_their_namespace() -> None:
    t = ResponsesToChat(created=1)
    t.request({**code_mode(), "stream": True}, "m")
    chunks = [{"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "id": "c1", "type": "function", "function": {"name": "functions__exec_command",
                                                                  "arguments": '{"cmd":"ls"}'}}]}}]},
              {"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}]
    stream: ChatStreamToResponses = t.stream()
    data = b"".join(stream.feed(f"data: {json.dumps(c)}\n\n".encode()) for c in chunks)
    data += stream.feed(b"data: [DONE]\n\n") + stream.finish()  # a stream without [DONE] is a failure

    events = [json.loads(e.data) for e in SSEParser().feed(data)]
    added = next(e["item"] for e in events if e["type"] == "response.output_item.added")
    done = next(e["item"] for e in events if e["type"] == "response.output_item.done")
    assert (added["name"], added["namespace"]) == ("exec_command", "functions")
    assert done == {"type": "function_call", "id": "fc_1_0", "call_id": "c1", "name": "exec_command",
                    "namespace": "functions", "arguments": '{"cmd":"ls"}', "status": "completed"}


def test_history_with_namespaced_calls_and_items_without_a_chat_form() -> None:
    history = [{"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "xyz"},
               {"type": "function_call", "call_id": "c1", "name": "exec_command", "namespace": "functions",
                "arguments": '{"cmd":"ls"}'},
               {"type": "function_call_output", "call_id": "c1",
                "output": [{"type": "input_text", "text": "a.txt"}, {"type": "input_image", "image_url": "data:x"}]},
               {"type": "web_search_call", "status": "completed", "action": {"type": "search", "query": "q"}},
               {"type": "something_new", "payload": 1}]

    out = ResponsesToChat().request(code_mode(*history), "m")["messages"]

    assert out[2] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "functions__exec_command", "arguments": '{"cmd":"ls"}'}}]}
    assert out[3] == {"role": "tool", "tool_call_id": "c1", "content": "a.txt"}
    assert len(out) == 4


def test_a_namespaced_name_that_collides_with_a_plain_tool_still_maps_back() -> None:
    body = code_mode()
    body["tools"] = [{"type": "function", "name": "functions__exec_command", "parameters": {"type": "object"}}]
    t = ResponsesToChat(created=1)

    names = [x["function"]["name"] for x in t.request(body, "m")["tools"]]
    out = t.response(chat_reply(("c1", names[1], "{}"), ("c2", names[0], "{}")))

    assert len(set(names)) == 3
    assert [(o["name"], o.get("namespace")) for o in out["output"]] == [
        ("exec_command", "functions"), ("functions__exec_command", None)]


def test_code_mode_toward_anthropic() -> None:
    t = ResponsesToMessages(created=1)
    out = t.request(code_mode(), "claude")
    assert [x["name"] for x in out["tools"]] == ["functions__exec_command", "functions__exec"]

    reply = t.response({"id": "msg_1", "model": "claude", "stop_reason": "tool_use", "usage": {}, "content": [
        {"type": "tool_use", "id": "toolu_1", "name": "functions__exec", "input": {"input": "text(1)"}}]})

    assert reply["output"][0]["type"] == "custom_tool_call"
    assert (reply["output"][0]["name"], reply["output"][0]["namespace"], reply["output"][0]["input"]) == (
        "exec", "functions", "text(1)")


def test_a_reasoning_item_between_parallel_calls_keeps_them_in_one_assistant_turn() -> None:
    history = [{"type": "function_call", "call_id": "a", "name": "exec_command", "namespace": "functions",
                "arguments": "{}"},
               {"type": "reasoning", "id": "rs_1", "summary": []},
               {"type": "function_call", "call_id": "b", "name": "exec_command", "namespace": "functions",
                "arguments": "{}"},
               {"type": "function_call_output", "call_id": "a", "output": "1"},
               {"type": "function_call_output", "call_id": "b", "output": "2"}]

    out = ResponsesToChat().request(code_mode(*history), "m")["messages"]

    assert [m["role"] for m in out] == ["system", "user", "assistant", "tool", "tool"]
    assert [c["id"] for c in out[2]["tool_calls"]] == ["a", "b"]


def test_a_tool_choice_naming_a_namespaced_tool_names_its_flat_function() -> None:
    body = {**code_mode(), "tool_choice": {"type": "function", "name": "exec_command", "namespace": "functions"}}
    assert ResponsesToChat().request(body, "m")["tool_choice"] == {
        "type": "function", "function": {"name": "functions__exec_command"}}
