"""Plano's `tracing` keys: validated as Plano validates them, and nothing set is ignored silently."""

from __future__ import annotations

import pytest
import yaml

from plano_daemon.config.load import load_config
from plano_daemon.errors import ConfigError
from plano_daemon.tracing import StreamFinish, finish_reasons

BASE = {"version": "v0.4.0", "listeners": [{"type": "model", "name": "m", "port": 12000}],
        "model_providers": [{"model": "openai/gpt-4o", "access_key": "k"}]}


def load(tracing: object) -> object:
    return load_config(None, text=yaml.safe_dump({**BASE, "tracing": tracing}), environ={})


def test_plano_tracing_keys_load_with_plano_defaults():
    loaded = load({"random_sampling": 10, "trace_arch_internal": True})
    assert loaded.config.tracing.random_sampling == 10
    assert loaded.config.tracing.opentracing_grpc_endpoint == "http://localhost:4317"
    assert load({}).config.tracing.random_sampling == 100


@pytest.mark.parametrize("bad", [{"random_sampling": 101}, {"opentracing_grpc_endpoint": "localhost:4317"},
                                 {"opentracing_grpc_endpoint": "http://collector:4317/v1/traces"},
                                 {"sampling": 5}])
def test_bad_tracing_settings_are_errors_with_their_path(bad):
    with pytest.raises(ConfigError) as err:
        load(bad)
    assert any(p.startswith("tracing.") for p in err.value.problems)


def test_posthog_exporters_are_accepted_with_a_warning():
    loaded = load({"exporters": [{"type": "posthog", "url": "https://x", "api_key": "k"}]})
    assert any(w.startswith("tracing.exporters: accepted but not acted on") for w in loaded.warnings)


def test_finish_reasons_in_each_dialect():
    assert finish_reasons("chat", b'{"choices":[{"finish_reason":"length"}]}') == ["length"]
    assert finish_reasons("messages", b'{"stop_reason":"end_turn"}') == ["end_turn"]
    assert finish_reasons("responses", b'{"status":"completed"}') == ["completed"]
    assert finish_reasons("chat", b"not json") == []


def test_stream_finish_reasons_in_each_dialect_across_chunk_boundaries():
    streams = {
        "chat": b'data: {"choices":[{"delta":{"content":"hi"},"finish_reason":null}]}\n\n'
                b'data: {"choices":[{"delta":{},"finish_reason":"tool_calls"}]}\n\ndata: [DONE]\n\n',
        "messages": b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"max_tokens"}}\n\n',
        "responses": b'event: response.completed\r\ndata: {"type":"response.completed","response":'
                     b'{"status":"completed"}}\r\n\r\n',
    }
    expected = {"chat": ["tool_calls"], "messages": ["max_tokens"], "responses": ["completed"]}
    for api, data in streams.items():
        sniff = StreamFinish(api)
        for i in range(0, len(data), 5):
            sniff.feed(data[i:i + 5])
        assert sniff.reasons == expected[api], api
