"""`with_model`: only the top-level model id changes, byte for byte, with the compiled pattern reused."""

from __future__ import annotations

import json

from plano_daemon.wire.model_field import _model_edit, with_model


def test_only_the_model_value_changes_and_spacing_is_kept() -> None:
    raw = b'{"model" :  "local-code", "messages": [{"role": "user", "content": "hi"}]}'
    out = with_model(raw, json.loads(raw), "qwen2.5-coder")
    assert out == b'{"model" :  "qwen2.5-coder", "messages": [{"role": "user", "content": "hi"}]}'


def test_a_nested_model_key_with_the_same_value_falls_back_to_serialising() -> None:
    raw = b'{"model": "a", "metadata": {"model": "a"}}'
    assert json.loads(with_model(raw, json.loads(raw), "b")) == {"model": "b", "metadata": {"model": "a"}}


def test_an_id_with_backslashes_and_quotes_is_written_as_valid_json() -> None:
    raw = b'{"model": "x"}'
    assert json.loads(with_model(raw, json.loads(raw), 'we"ird\\id')) == {"model": 'we"ird\\id'}


def test_the_pattern_is_compiled_once_per_name() -> None:
    assert _model_edit("local-code", "qwen") is _model_edit("local-code", "qwen")

