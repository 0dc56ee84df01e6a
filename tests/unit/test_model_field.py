"""`with_model`: only the top-level model id changes, byte for byte, with the compiled pattern reused."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

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


_KEYS = st.sampled_from(['"model"', '"mod\\u0065l"', '"x"', '"models"', '"a\\"model"'])
_SPACE = st.sampled_from(["", " ", "\n  ", "\t", " " * 70])
_VALUES = st.sampled_from(['"local-code"', '"local\\u002dcode"', '"local-code2"', '"other"'])


@given(st.lists(st.tuples(_KEYS, _SPACE, _SPACE, _VALUES), min_size=1, max_size=4), _SPACE)
def test_the_edit_equals_the_patterns_one_match(pairs: list[tuple[str, str, str, str]], lead: str) -> None:
    """Whatever the spacing and the other pairs, the result is the pattern's: the one `"model": "local-code"`
    pair rewritten in place, else the body serialised."""
    members = [f'{key}{before}:{after}{value}' for key, before, after, value in pairs]
    raw = ('{' + lead + ', '.join(members) + '}').encode()
    try:
        body = json.loads(raw)
    except ValueError:
        return
    if body.get("model") != "local-code":
        return
    pattern, _, replacement = _model_edit("local-code", "qwen")
    expected, count = pattern.subn(lambda m: m.group(1) + replacement, raw, count=2)
    out = with_model(raw, body, "qwen")
    if count == 1:
        assert out == expected
    else:
        assert out == json.dumps({**body, "model": "qwen"}, ensure_ascii=False, separators=(",", ":")).encode()
