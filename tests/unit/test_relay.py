"""Usage parsed from the JSON the gateway reads (never sniffed from bytes), the passed-through stream's
watch (whole events out, the end checked), and secrets masked in relayed upstream errors."""

from __future__ import annotations

import json

from plano_daemon.relay import MASK, mask
from plano_daemon.translate import PassThroughStream
from plano_daemon.wire.usage import Usage, answer_usage, note_event_usage

STREAM = (b'data: {"choices":[{"delta":{"content":"hi"}}]}\n\n'
          b'data: {"choices":[],"usage":{"prompt_tokens":1234,"completion_tokens":567}}\n\ndata: [DONE]\n\n')


def test_passthrough_reads_usage_and_relays_whole_events_however_cut() -> None:
    for cut in range(1, len(STREAM)):
        watch = PassThroughStream("chat")
        out = watch.feed(STREAM[:cut])
        assert out == STREAM[:out.rfind(b"\n\n") + 2] if out else True  # only whole events go out
        out += watch.feed(STREAM[cut:]) + watch.finish()
        assert out == STREAM and watch.failure is None, cut
        assert (watch.usage.input_tokens, watch.usage.output_tokens) == (1234, 567), cut


def test_passthrough_cut_before_its_end_fails_with_an_error_event_after_the_last_whole_event() -> None:
    watch = PassThroughStream("chat")
    out = watch.feed(STREAM[:60])
    out += watch.finish()
    first, rest = out.split(b"\n\n", 1)
    assert json.loads(first.removeprefix(b"data: "))["choices"][0]["delta"]["content"] == "hi"
    assert json.loads(rest.removeprefix(b"data: "))["error"]["code"] == "upstream_stream_error"
    assert watch.failure == "the upstream stream ended before its end event"


def test_anthropic_tool_input_named_output_tokens_is_content_not_usage() -> None:
    body = {"type": "message", "content": [{"type": "tool_use", "id": "t", "name": "f",
                                            "input": {"output_tokens": 500000, "input_tokens": 9}}],
            "usage": {"input_tokens": 11, "output_tokens": 7}}
    assert answer_usage("messages", body) == Usage(11, 7)
    usage = Usage()
    note_event_usage("messages", {"type": "message_start", "message": {"usage": {"input_tokens": 11}}}, usage)
    note_event_usage("messages", {"type": "content_block_delta", "delta": {
        "type": "input_json_delta", "partial_json": '{"output_tokens": 500000}'}}, usage)
    note_event_usage("messages", {"type": "message_delta", "usage": {"output_tokens": 7}}, usage)
    assert usage == Usage(11, 7)


def test_every_secret_is_masked() -> None:
    data = b'{"error":{"message":"bad key sk-live-abcdef123 (Bearer sk-live-abcdef123)"}}'
    masked = mask(data, [b"sk-live-abcdef123"])
    assert b"sk-live" not in masked and masked.count(MASK) == 2


def test_passthrough_keeps_keep_alive_comments_without_counting_them_as_an_answer() -> None:
    watch = PassThroughStream("chat")
    assert watch.feed(b": OPENROUTER PROCESSING\n\n") == b": OPENROUTER PROCESSING\n\n"
    assert not watch.started and watch.anomalies == 0 and watch.failure is None
    assert watch.feed(STREAM) == STREAM and watch.started
