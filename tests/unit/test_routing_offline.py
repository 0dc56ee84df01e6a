"""`plano-daemon route`: the decision JSON, offline, without the keys the config references."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from plano_daemon.cli import main
from tests.conftest import FIXTURES


def run(capsys, *args: str) -> tuple[int, dict | None, str]:
    code = main(["route", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out) if code == 0 else None, err


def test_prints_the_embedded_decision_without_keys_in_the_environment(capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    code, out, _ = run(capsys, "--config", str(FIXTURES / "seed-routing-service.yaml"),
                       "Write a Python function that implements binary search")
    assert code == 0
    assert out["route"] == "code_generation" and out["router"] == "embedded"
    assert out["models"] == ["anthropic/claude-sonnet-4-20250514", "openai/gpt-4o"]
    assert out["model"] == "anthropic/claude-sonnet-4-20250514"


def test_no_match_names_the_default_provider(capsys):
    code, out, _ = run(capsys, "--config", str(FIXTURES / "seed-routing-service.yaml"), "What is the capital of France?")
    assert code == 0 and out["models"] == ["none"] and out["route"] is None
    assert out["model"] == "openai/gpt-4o-mini"


def test_explain_lists_every_route_with_its_score_and_matched_words(capsys):
    code, out, _ = run(capsys, "--explain", "--config", str(FIXTURES / "seed-routing-service.yaml"),
                       "Write a Python function that implements binary search")
    assert code == 0 and out["route"] == "code_generation"
    assert [e["route"] for e in out["explain"]] == ["code_generation", "complex_reasoning"]
    best = out["explain"][0]
    assert best["score"] == out["scores"]["code_generation"] > out["threshold"]
    assert {"feature": "domain:code", "words": ["function"]}.items() <= next(
        m for m in best["matched"] if m["feature"] == "domain:code").items() or any(
        "function" in m.get("words", []) for m in best["matched"])


def test_a_bad_config_exits_2(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model_providers: []\n")
    code, _, err = run(capsys, "--config", str(bad), "hi")
    assert code == 2 and "invalid config" in err
    code, _, err = run(capsys, "--config", str(tmp_path / "missing.yaml"), "hi")
    assert code == 2 and "cannot read" in err


def test_a_reader_that_closes_the_pipe_early_gets_no_traceback():
    """`plano-daemon route ... | head`: the write fails with EPIPE; the command exits 0, silently."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written: every write is EPIPE
    try:
        done = subprocess.run([sys.executable, "-m", "plano_daemon", "route", "--config",
                               str(FIXTURES / "seed-routing-service.yaml"), "binary search in Python"],
                              stdout=write_end, stderr=subprocess.PIPE, check=False)
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (0, b"")


def test_prefer_cheapest_ranks_by_the_users_profile_as_the_gateway_does(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MODEL_ROUTER_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("MODEL_ROUTER_PROFILE", "local-first-dev")
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "local-first-dev.yaml").write_text((FIXTURES / "local-first-dev.yaml").read_text())
    cfg = tmp_path / "config.yaml"
    cfg.write_text((FIXTURES / "dubnium-vllm.yaml").read_text().replace(
        "      - openai/qwen2.5-coder-14b-instruct\n",
        "      - cloud-general\n      - cheap-fast\n      - local-code\n    selection_policy: {prefer: cheapest}\n", 1))
    code, out, _ = run(capsys, "--config", str(cfg), "refactor this python function and generate code")
    assert code == 0 and out["route"] == "local code work"
    assert out["models"] == ["local-code", "cheap-fast", "cloud-general"]
