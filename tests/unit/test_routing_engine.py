"""Loading the router prompt template: a broken override never stops routing."""

from __future__ import annotations

from plano_daemon.routing.engine import load_template
from plano_daemon.routing.router_contract import DEFAULT_TEMPLATE


def test_no_file_means_our_template():
    assert load_template(None) == DEFAULT_TEMPLATE


def test_a_file_with_both_placeholders_is_used(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("R {routes} C {conversation}")
    assert load_template(str(path)) == "R {routes} C {conversation}"


def test_a_missing_or_incomplete_file_falls_back_to_our_template(tmp_path, caplog):
    incomplete = tmp_path / "t.txt"
    incomplete.write_text("only {routes}")
    assert load_template(str(incomplete)) == DEFAULT_TEMPLATE
    assert load_template(str(tmp_path / "missing.txt")) == DEFAULT_TEMPLATE
    assert "router_prompt_file" in caplog.text
