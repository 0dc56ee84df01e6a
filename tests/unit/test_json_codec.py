"""The hot path's JSON (orjson) answers exactly what the standard library answers, for bodies either accepts."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plano_daemon.json_codec import dumps, loads

VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4), max_leaves=20)


@given(VALUES)
def test_parses_what_json_writes_to_the_same_value(value: object) -> None:
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False)):
        assert loads(text) == json.loads(text)
        if _utf8(text):
            assert loads(text.encode()) == json.loads(text)


@given(VALUES)
def test_writes_what_json_reads_back_as_the_same_value(value: object) -> None:
    assert json.loads(dumps(value)) == value


@pytest.mark.parametrize("text", ["NaN", "[Infinity, -Infinity]", '"\\ud800"', '{"model": "\\udfff"}', "1e400"])
def test_what_orjson_refuses_and_json_accepts_is_still_accepted(text: str) -> None:
    got, want = loads(text.encode()), json.loads(text)
    assert repr(got) == repr(want) or (isinstance(got, float) and math.isnan(got) and math.isnan(want))


@pytest.mark.parametrize("text", ["", "{", "[1,]", '{"a" 1}', "\x00", "{} {}"])
def test_what_json_refuses_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        loads(text.encode())


def test_nesting_too_deep_for_orjson_is_parsed_or_refused_as_json_would() -> None:
    deep = "[" * 2000 + "]" * 2000
    with pytest.raises(RecursionError):
        json.loads(deep)
    with pytest.raises(RecursionError):
        loads(deep.encode())
    shallow = "[" * 1500 + "]" * 1500  # deeper than orjson's 1024, within the standard library's limit
    try:
        want = json.loads(shallow)
    except RecursionError:
        return
    assert loads(shallow.encode()) == want


def test_a_lone_surrogate_is_written_as_an_escape_that_reads_back() -> None:
    line = dumps({"model": "\ud800", "n": 1})
    assert json.loads(line) == {"model": "\ud800", "n": 1}


def test_infinities_are_written_as_null_which_is_json() -> None:
    assert json.loads(dumps([math.inf, -math.inf])) == [None, None]


def test_values_json_has_no_type_for_are_written_as_text() -> None:
    assert json.loads(dumps({"when": object, 1: "key"})) == {"when": str(object), "1": "key"}


def _utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
