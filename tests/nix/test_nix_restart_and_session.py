"""Pure data behind the modules' switch behaviour and client environment, evaluated without nixpkgs:
which settings restart plano.service instead of reloading it, and the variables Home Manager exports."""

from __future__ import annotations

from nix_offline import nix_eval

SETTINGS = "import <repo/modules/nixos/plano-settings.nix>"


def restart_key(settings: str) -> object:
    return nix_eval(f"({SETTINGS}).restartSettings ({settings})")


BASE = """{ version = "v0.4.0";
  listeners = [ { name = "egress_traffic"; type = "model"; address = "127.0.0.1"; port = 12000; } ];
  model_providers = [ { model = "openai/a"; access_key = "EMPTY"; base_url = "http://127.0.0.1:8000/v1"; } ];
  dubnium = { drain_seconds = 30; timeouts.first_byte = 10; }; }"""


def test_provider_and_routing_changes_only_reload() -> None:
    changed = BASE.replace('"openai/a"', '"openai/b"').replace("first_byte = 10", "first_byte = 20")
    assert restart_key(changed) == restart_key(BASE)


def test_listener_and_start_bound_dubnium_settings_restart() -> None:
    assert restart_key(BASE.replace("port = 12000", "port = 12001")) != restart_key(BASE)
    assert restart_key(BASE.replace("drain_seconds = 30", "drain_seconds = 5")) != restart_key(BASE)
    headers = BASE.replace("timeouts.first_byte = 10;", "timeouts = { first_byte = 10; request_headers = 5; };")
    assert restart_key(headers) != restart_key(BASE)  # bound into the connection handler at start
    for name in ("state_storage", "tracing"):
        assert restart_key(BASE.replace("dubnium = {", f"{name} = {{ type = \"memory\"; }}; dubnium = {{")) \
            != restart_key(BASE)
    for name in ("max_body_bytes", "metrics", "ledger"):
        assert name in restart_key(BASE.replace("dubnium = {", f"dubnium = {{ {name} = 1;"))["dubnium"]


def test_restart_settings_match_what_the_daemon_keeps_on_reload() -> None:
    """The Nix list and plano_daemon.server.restart_only_changes name the same settings."""
    from plano_daemon.config.load import load_config
    from plano_daemon.server import restart_only_changes

    text = "version: v0.4.0\nlisteners: [{name: e, type: model, address: 127.0.0.1, port: 12000}]\n" \
           "model_providers: [{model: openai/a, access_key: EMPTY, base_url: 'http://127.0.0.1:8000/v1'}]\n"
    old = load_config(None, env_files=[], text=text).config
    new = load_config(None, env_files=[], text=text.replace("12000", "12001") + "dubnium: {drain_seconds: 3}\n").config
    assert set(restart_only_changes(old, new)) == {"listeners", "dubnium.drain_seconds"}
    names = {f"dubnium.{n}" for n in restart_key(BASE + " // { dubnium = { max_body_bytes = 1; drain_seconds = 1; metrics = 1; ledger = 1; }; }")["dubnium"]}
    assert names | {"listeners"} == {"listeners", "dubnium.max_body_bytes", "dubnium.drain_seconds",
                                     "dubnium.metrics", "dubnium.ledger"}


def test_home_manager_points_openai_and_anthropic_clients_at_the_gateway() -> None:
    env = nix_eval(
        """import <repo/modules/home/session-variables.nix> {
          baseUrl = "http://127.0.0.1:12000"; configHome = "/h/.config"; stateHome = "/h/.local/state";
          profileName = "local-first-dev"; planoConfigPath = "planoai/dubnium.yaml"; }"""
    )
    assert env["OPENAI_BASE_URL"] == "http://127.0.0.1:12000/v1"
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:12000"  # the anthropic SDK appends /v1/messages
    assert env["PLANO_CONFIG_FILE"] == "/h/.config/planoai/dubnium.yaml"
    assert env["MODEL_ROUTER_LEDGER"] == "/h/.local/state/model-router/route-decisions.jsonl"


def test_home_manager_defaults_pass_the_literal_secret_check() -> None:
    found = nix_eval(
        f"""let s = {SETTINGS}; in
        s.literalSecrets (import <repo/modules/home/dubnium-plano.nix> {{ }})
        ++ s.literalSecrets (import <repo/modules/home/local-first-dev.nix> {{
          name = "local-first-dev"; planoBaseUrl = "http://127.0.0.1:12000"; }})"""
    )
    assert found == []
