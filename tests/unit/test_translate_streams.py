"""Stream translators: event lifecycles, content preserved, independence from chunking, bad input."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from plano_daemon.translate.anthropic_stream_to_chat import AnthropicStreamToChat
from plano_daemon.translate.chat_stream_to_anthropic import ChatStreamToAnthropic
from plano_daemon.translate.chat_stream_to_responses import ChatStreamToResponses, ResponseShape
from plano_daemon.translate.responses_to_anthropic import ResponsesToMessages
from plano_daemon.translate.stream_base import StreamTranslatorBase
from plano_daemon.wire.sse import SSEParser


@dataclass
class Script:
    """What an upstream said: text pieces, then tool calls as (id, name, argument fragments)."""

    text: list[str]
    calls: list[tuple[str, str, list[str]]]
    finish: str
    usage: tuple[int, int]


scripts = st.builds(
    Script,
    st.lists(st.text(min_size=1, max_size=6), max_size=5),
    st.lists(st.tuples(st.from_regex(r"call_[a-z0-9]{1,6}", fullmatch=True), st.from_regex(r"[a-z]{1,8}", fullmatch=True),
                       st.lists(st.text(min_size=1, max_size=5), max_size=4)), max_size=3, unique_by=lambda c: c[0]),
    st.sampled_from(["stop", "length", "tool_calls"]),
    st.tuples(st.integers(0, 999), st.integers(0, 999)))


def chat_stream(s: Script, *, crlf: bool = False) -> bytes:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": "qwen",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    objs = [chunk({"role": "assistant", "content": ""})] + [chunk({"content": t}) for t in s.text]
    for n, (cid, name, frags) in enumerate(s.calls):
        objs.append(chunk({"tool_calls": [{"index": n, "id": cid, "type": "function",
                                           "function": {"name": name, "arguments": ""}}]}))
        objs += [chunk({"tool_calls": [{"index": n, "function": {"arguments": f}}]}) for f in frags]
    objs.append(chunk({}, s.finish))
    objs.append({"id": "chatcmpl-x", "choices": [], "usage": {"prompt_tokens": s.usage[0],
                                                              "completion_tokens": s.usage[1]}})
    nl = "\r\n" if crlf else "\n"
    body = "".join(f": keep-alive{nl}data: {json.dumps(o)}{nl}{nl}" for o in objs) + f"data: [DONE]{nl}{nl}"
    return body.encode()


def anthropic_stream(s: Script) -> bytes:
    def ev(obj: dict[str, Any]) -> str:
        return f"event: {obj['type']}\ndata: {json.dumps(obj)}\n\n"

    out = [ev({"type": "message_start", "message": {"id": "msg_x", "model": "claude", "content": [],
                                                    "usage": {"input_tokens": s.usage[0], "output_tokens": 0}}})]
    index = 0
    if s.text:
        out.append(ev({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}))
        out += [ev({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}})
                for t in s.text]
        out.append(ev({"type": "content_block_stop", "index": 0}))
        index = 1
    for n, (cid, name, frags) in enumerate(s.calls, start=index):
        out.append(ev({"type": "content_block_start", "index": n,
                       "content_block": {"type": "tool_use", "id": cid, "name": name, "input": {}}}))
        out += [ev({"type": "content_block_delta", "index": n, "delta": {"type": "input_json_delta", "partial_json": f}})
                for f in frags]
        out.append(ev({"type": "content_block_stop", "index": n}))
    stop = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}[s.finish]
    out.append(ev({"type": "message_delta", "delta": {"stop_reason": stop}, "usage": {"output_tokens": s.usage[1]}}))
    out.append(ev({"type": "message_stop"}))
    return "".join(out).encode()


def events(data: bytes) -> list[tuple[str | None, Any]]:
    parser = SSEParser()
    parsed = parser.feed(data) + parser.flush()
    return [(e.event, e.text if e.text == "[DONE]" else json.loads(e.data)) for e in parsed]


def run(translator: Any, data: bytes, cuts: list[int] | None = None) -> bytes:
    points = sorted({c % (len(data) + 1) for c in cuts or []})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    return b"".join(translator.feed(p) for p in pieces) + translator.finish()


cut_lists = st.lists(st.integers(0, 10**6), max_size=30)


# --- chat upstream → Anthropic client -----------------------------------------------------------------

def check_anthropic_lifecycle(evs: list[tuple[str | None, Any]]) -> None:
    kinds = [name for name, _ in evs]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds.count("message_start") == kinds.count("message_stop") == 1
    open_index: int | None = None
    next_index = 0
    for name, obj in evs:
        assert obj["type"] == name
        if name == "content_block_start":
            assert open_index is None and obj["index"] == next_index
            open_index, next_index = obj["index"], next_index + 1
        elif name == "content_block_delta":
            assert obj["index"] == open_index
        elif name == "content_block_stop":
            assert obj["index"] == open_index
            open_index = None
    assert open_index is None


@settings(max_examples=150, deadline=None)
@given(scripts, cut_lists, st.booleans())
def test_chat_to_anthropic_lifecycle_content_and_chunking(s: Script, cuts: list[int], crlf: bool) -> None:
    data = chat_stream(s, crlf=crlf)
    whole = events(run(ChatStreamToAnthropic(), data))
    assert events(run(ChatStreamToAnthropic(), data, cuts)) == whole
    check_anthropic_lifecycle(whole)
    deltas = [o["delta"] for n, o in whole if n == "content_block_delta"]
    assert "".join(d["text"] for d in deltas if d["type"] == "text_delta") == "".join(s.text)
    uses = [o["content_block"] for n, o in whole if n == "content_block_start" and o["content_block"]["type"] == "tool_use"]
    assert [(u["id"], u["name"]) for u in uses] == [(c[0], c[1]) for c in s.calls]
    assert "".join(d["partial_json"] for d in deltas if d["type"] == "input_json_delta") == "".join(
        "".join(c[2]) for c in s.calls)
    final = whole[-2][1]
    expected = "tool_use" if s.calls and s.finish != "length" else {"stop": "end_turn", "length": "max_tokens",
                                                                    "tool_calls": "tool_use"}[s.finish]
    assert final["delta"]["stop_reason"] == expected
    assert final["usage"] == {"input_tokens": s.usage[0], "output_tokens": s.usage[1]}


def test_empty_upstream_is_a_failure_not_an_empty_answer() -> None:
    t = ChatStreamToAnthropic()
    evs = events(t.finish())
    assert [name for name, _ in evs] == ["error"] and not t.started
    assert t.failure == "the upstream stream ended without an answer"
    assert t.finish() == b"" and t.feed(b'data: {"choices":[]}\n\n') == b""
    only_done = ChatStreamToAnthropic()
    assert [name for name, _ in events(only_done.feed(b"data: [DONE]\n\n"))] == ["error"]


def test_chat_stream_cut_before_done_ends_with_an_error_not_end_turn() -> None:
    t = ChatStreamToAnthropic()
    out = run(t, chat_stream(Script(["hi"], [], "stop", (1, 1))).split(b"data: [DONE]")[0])
    kinds = [name for name, _ in events(out)]
    assert kinds[-1] == "error" and "message_stop" not in kinds
    assert t.failure == "the upstream stream ended before its end event"


def test_wrong_shape_and_html_are_anomalies_not_an_answer() -> None:
    for junk in (b'data: {"foo": 1}\n\n', b"<html><body>502 Bad Gateway</body></html>\n\n"):
        for t in (ChatStreamToAnthropic(), ChatStreamToResponses(), AnthropicStreamToChat()):
            t.feed(junk)
            assert not t.started, (t, junk)
            t.finish()
            assert t.failure == "the upstream stream ended without an answer"


def test_nothing_follows_message_stop() -> None:
    t = ChatStreamToAnthropic()
    out = t.feed(chat_stream(Script(["hi"], [], "stop", (1, 1))))
    assert out.endswith(b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
    assert t.feed(b'data: {"choices":[{"index":0,"delta":{"content":"late"}}]}\n\n') == b""
    assert t.finish() == b"" and t.error("boom") == b""


def test_malformed_event_is_kept_as_a_comment_and_the_stream_goes_on() -> None:
    t = ChatStreamToAnthropic()
    out = t.feed(b'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\ndata: {broken\n\n'
                 b'data: {"choices":[{"index":0,"delta":{"content":"b"}}]}\n\n') + t.finish()
    assert b": data: {broken\n\n" in out
    assert t.anomalies == 1
    texts = [o["delta"]["text"] for n, o in events(out) if n == "content_block_delta"]
    assert texts == ["a", "b"]


def test_upstream_error_mid_stream_becomes_an_anthropic_error_event() -> None:
    t = ChatStreamToAnthropic()
    out = t.feed(b'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n'
                 b'data: {"error":{"message":"overloaded"}}\n\n')
    name, obj = events(out)[-1]
    assert name == "error" and obj == {"type": "error", "error": {"type": "api_error", "message": "overloaded"}}
    assert t.finish() == b""


def test_reasoning_becomes_thinking_only_when_asked_for() -> None:
    data = b'data: {"choices":[{"index":0,"delta":{"reasoning_content":"hmm"}}]}\n\n' \
           b'data: {"choices":[{"index":0,"delta":{"content":"ok"}}]}\n\ndata: [DONE]\n\n'
    shown = events(run(ChatStreamToAnthropic(thinking=True), data))
    hidden = events(run(ChatStreamToAnthropic(), data))
    check_anthropic_lifecycle(shown)
    assert [o["content_block"]["type"] for n, o in shown if n == "content_block_start"] == ["thinking", "text"]
    assert [o["content_block"]["type"] for n, o in hidden if n == "content_block_start"] == ["text"]


# --- Anthropic upstream → chat client -----------------------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(scripts, cut_lists, st.booleans())
def test_anthropic_to_chat_content_and_chunking(s: Script, cuts: list[int], include_usage: bool) -> None:
    data = anthropic_stream(s)
    whole = events(run(AnthropicStreamToChat(include_usage=include_usage), data))
    assert events(run(AnthropicStreamToChat(include_usage=include_usage), data, cuts)) == whole
    assert whole[-1] == (None, "[DONE]") and [e for e in whole if e[1] == "[DONE]"] == [(None, "[DONE]")]
    chunks = [o for _, o in whole[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert "".join(d.get("content") or "" for d in deltas) == "".join(s.text)
    calls = [tc for d in deltas for tc in d.get("tool_calls", [])]
    assert [(tc["index"], tc["id"]) for tc in calls if "id" in tc] == [(n, c[0]) for n, c in enumerate(s.calls)]
    for n, c in enumerate(s.calls):
        assert "".join(tc["function"]["arguments"] for tc in calls if tc["index"] == n) == "".join(c[2])
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert finishes == [s.finish]
    if include_usage:
        assert chunks[-1]["choices"] == []
        assert (chunks[-1]["usage"]["prompt_tokens"], chunks[-1]["usage"]["completion_tokens"]) == s.usage


def test_anthropic_error_event_becomes_a_chat_error_and_ends_the_stream() -> None:
    t = AnthropicStreamToChat()
    out = t.feed(b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"busy"}}\n\n')
    assert events(out) == [(None, {"error": {"message": "busy", "type": "api_error", "code": "upstream_stream_error"}})]
    assert t.finish() == b""


def test_truncated_anthropic_stream_ends_with_a_chat_error_not_done() -> None:
    t = AnthropicStreamToChat()
    out = run(t, anthropic_stream(Script(["x"], [], "stop", (1, 1))).split(b"event: message_delta")[0])
    evs = events(out)
    assert "error" in evs[-1][1] and (None, "[DONE]") not in evs
    assert all(c["choices"][0]["finish_reason"] is None for _, c in evs[:-1])


# --- chat upstream → Responses client -----------------------------------------------------------------

def check_responses_lifecycle(evs: list[tuple[str | None, Any]]) -> None:
    kinds = [name for name, _ in evs]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] in ("response.completed", "response.incomplete")
    assert [o["sequence_number"] for _, o in evs] == list(range(len(evs)))
    assert kinds.count("response.output_item.added") == kinds.count("response.output_item.done")
    open_item: int | None = None
    for name, obj in evs:
        assert obj["type"] == name
        if name == "response.output_item.added":
            assert open_item is None
            open_item = obj["output_index"]
        elif name == "response.output_item.done":
            assert obj["output_index"] == open_item
            open_item = None
        elif "output_index" in obj:
            assert obj["output_index"] == open_item


@settings(max_examples=150, deadline=None)
@given(scripts, cut_lists)
def test_chat_to_responses_lifecycle_content_and_chunking(s: Script, cuts: list[int]) -> None:
    data = chat_stream(s)
    whole = events(run(ChatStreamToResponses(created=1), data))
    assert events(run(ChatStreamToResponses(created=1), data, cuts)) == whole
    check_responses_lifecycle(whole)
    final = whole[-1][1]["response"]
    assert final["status"] == ("incomplete" if s.finish == "length" else "completed")
    output = final["output"]
    if s.text:
        assert output[0]["content"][0]["text"] == "".join(s.text)
    calls = [o for o in output if o["type"] == "function_call"]
    assert [(c["call_id"], c["name"], c["arguments"]) for c in calls] == [
        (c[0], c[1], "".join(c[2])) for c in s.calls]
    assert (final["usage"]["input_tokens"], final["usage"]["output_tokens"]) == s.usage


def test_custom_tool_call_streams_its_decoded_input() -> None:
    shape = ResponseShape(custom=frozenset({"apply_patch"}))
    data = chat_stream(Script([], [("call_1", "apply_patch", ['{"inp', 'ut": "*** Begin\\n"}'])], "tool_calls", (1, 2)))
    evs = events(run(ChatStreamToResponses(shape=shape), data))
    check_responses_lifecycle(evs)
    done = [o for n, o in evs if n == "response.custom_tool_call_input.done"]
    assert [d["input"] for d in done] == ["*** Begin\n"]
    assert evs[-1][1]["response"]["output"][0] == {"type": "custom_tool_call", "id": "ctc_x_0", "call_id": "call_1",
                                                   "name": "apply_patch", "input": "*** Begin\n"}


def test_responses_error_is_a_failed_response_with_the_next_sequence_number() -> None:
    t = ChatStreamToResponses()
    head = t.feed(b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n')
    name, obj = events(t.error("upstream went away"))[-1]
    assert name == "response.failed"
    assert obj["sequence_number"] == len(events(head))
    assert obj["response"]["status"] == "failed" and obj["response"]["error"]["message"] == "upstream went away"


@settings(max_examples=60, deadline=None)
@given(scripts, cut_lists)
def test_responses_over_anthropic_upstream_is_chunking_independent(s: Script, cuts: list[int]) -> None:
    data = anthropic_stream(s)
    whole = events(run(ResponsesToMessages(created=1).stream(), data))
    assert events(run(ResponsesToMessages(created=1).stream(), data, cuts)) == whole
    check_responses_lifecycle(whole)


def test_every_translator_reports_usage() -> None:
    translators: list[tuple[StreamTranslatorBase, bytes]] = [
        (ChatStreamToAnthropic(), chat_stream(Script(["a"], [], "stop", (5, 6)))),
        (AnthropicStreamToChat(), anthropic_stream(Script(["a"], [], "stop", (5, 6)))),
        (ChatStreamToResponses(), chat_stream(Script(["a"], [], "stop", (5, 6))))]
    for t, data in translators:
        run(t, data)
        assert (t.usage.input_tokens, t.usage.output_tokens) == (5, 6)
