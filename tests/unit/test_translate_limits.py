"""Output-token limits of translated chat requests: the field the upstream accepts, a value that fits."""

from __future__ import annotations

import pytest

from plano_daemon.context_windows import windows_from_list
from plano_daemon.translate.limits import (
    MIN_ROOM,
    fit_output_limit,
    fit_upstream,
    is_reasoning_model,
    prompt_estimate,
)


@pytest.mark.parametrize("model", ["gpt-5", "gpt-5.4", "gpt-5-mini-2025-08-07", "o1", "o3-mini", "o4-mini",
                                   "openai/gpt-5-codex", "GPT-5.1"])
def test_openai_reasoning_families_are_recognised_on_any_host(model: str) -> None:
    assert is_reasoning_model(model)


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4.1-mini", "gpt-oss-120b", "qwen3-coder", "o", "omni-moderation",
                                   "claude-sonnet-4-5", "o1x"])
def test_other_models_keep_max_tokens(model: str) -> None:
    assert not is_reasoning_model(model)


def chat(limit: int, text: str = "hi") -> dict[str, object]:
    return {"model": "m", "messages": [{"role": "user", "content": text}], "max_tokens": limit}


def test_reasoning_model_gets_max_completion_tokens() -> None:
    assert fit_output_limit(chat(500), model_id="gpt-5.4", field=None, window=None) == {
        "model": "m", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 500}


def test_a_provider_can_name_its_field() -> None:
    out = fit_output_limit(chat(500), model_id="gpt-5.4", field="max_tokens", window=None)
    assert out["max_tokens"] == 500 and "max_completion_tokens" not in out


def test_the_limit_fits_beside_the_prompt_in_the_window() -> None:
    body = chat(128000, "x" * 3000)
    out = fit_output_limit(body, model_id="qwen", field=None, window=32768)
    assert out["max_tokens"] == 32768 - prompt_estimate(out)
    assert out["max_tokens"] + 3000 // 4 < 32768


def test_a_limit_that_fits_is_kept() -> None:
    assert fit_output_limit(chat(1000), model_id="qwen", field=None, window=32768)["max_tokens"] == 1000


def test_no_room_left_means_no_limit_sent() -> None:
    out = fit_output_limit(chat(4096, "x" * 30000), model_id="qwen", field=None, window=10000 + MIN_ROOM)
    assert "max_tokens" not in out and "max_completion_tokens" not in out


def test_windows_are_read_from_vllm_and_other_model_lists() -> None:
    body = {"object": "list", "data": [{"id": "qwen", "max_model_len": 32768}, {"id": "llama", "context_length": 8192},
                                       {"id": "plain"}, {"id": "bad", "max_model_len": "big"}, "junk"]}
    assert windows_from_list(body) == {"qwen": 32768, "llama": 8192}
    assert windows_from_list({"error": "nope"}) == {}


def test_reasoning_models_get_no_sampling_values_they_reject() -> None:
    body = {"model": "m", "messages": [], "temperature": 0.2, "top_p": 1, "max_tokens": 9}
    assert fit_upstream(dict(body), model_id="o3", field=None, window=None) == {
        "model": "m", "messages": [], "top_p": 1, "max_completion_tokens": 9}
    assert fit_upstream(dict(body), model_id="qwen", field=None, window=None) == body
