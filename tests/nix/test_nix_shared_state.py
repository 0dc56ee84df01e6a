"""dubnium.plano.redis / dubnium.plano.tracing (modules/nixos/plano-shared.nix), evaluated without nixpkgs:
the settings they write, what they add to plano.service (checked by systemd), and the assertions' messages.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from nix_offline import nix_eval
from test_nix_units import analyze, unexpected_warnings, unit_data, write_units
from test_nix_yaml import NIXOS_DEFAULT_SETTINGS, validate, write_yaml

from plano_daemon.config.load import load_config
from plano_daemon.errors import ConfigError

SOCKET_URL = "unix:///run/redis-plano/redis.sock"


def shared(**args: Any) -> dict[str, Any]:
    """plano-shared.nix called as plano-shared-state.nix calls it; args are Nix values as JSON."""
    attrs = " ".join(f"{name} = builtins.fromJSON {json.dumps(json.dumps(value))};" for name, value in args.items())
    return nix_eval(f"import <repo/modules/nixos/plano-shared.nix> {{ {attrs} }}")


def failed_messages(result: dict[str, Any]) -> list[str]:
    return [" ".join(a["message"].split()) for a in result["assertions"] if not a["assertion"]]


def test_create_locally_wires_the_socket_into_session_cache_and_shared_state() -> None:
    result = shared(createLocally=True)
    assert result["settings"] == {
        "routing": {"session_cache": {"type": "redis", "url": SOCKET_URL}},
        "dubnium": {"shared_state": {"redis_url": SOCKET_URL}},
    }
    assert result["unit"] == {
        "After": ["redis-plano.service"],
        "Wants": ["redis-plano.service"],
        "SupplementaryGroups": ["redis-plano"],
    }
    assert failed_messages(result) == []


def test_nothing_is_added_by_default() -> None:
    result = shared()
    assert result["settings"] == {} and result["url"] is None
    assert result["unit"] == {"After": [], "Wants": [], "SupplementaryGroups": []}
    assert failed_messages(result) == []


def test_generated_settings_are_accepted_by_the_daemon(tmp_path: Path) -> None:
    """Default settings plus the Redis and tracing fragment: what the module writes to /etc/plano/config.yaml."""
    settings = nix_eval(NIXOS_DEFAULT_SETTINGS)
    fragment = shared(createLocally=True, tracingEndpoint="http://127.0.0.1:4317", randomSampling=25)["settings"]
    assert fragment["tracing"] == {"opentracing_grpc_endpoint": "http://127.0.0.1:4317", "random_sampling": 25}
    config = write_yaml(tmp_path / "config.yaml", {**settings, **fragment})
    proc = validate(config)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    loaded = load_config(str(config), env_files=[]).config
    assert loaded.routing.session_cache is not None and loaded.routing.session_cache.url == SOCKET_URL
    assert loaded.dubnium.shared_state.redis_url == SOCKET_URL
    assert loaded.tracing is not None and loaded.tracing.random_sampling == 25


def test_external_url_reference_resolves_from_the_environment_file(tmp_path: Path) -> None:
    settings = nix_eval(NIXOS_DEFAULT_SETTINGS)
    result = shared(redisUrl="$PLANO_REDIS_URL")
    assert failed_messages(result) == [] and result["unit"]["SupplementaryGroups"] == []
    config = write_yaml(tmp_path / "config.yaml", {**settings, **result["settings"]})
    env = tmp_path / "plano.env"
    env.write_text("PLANO_REDIS_URL=redis://:s3cret@10.0.0.5:6379/0\n")
    loaded = load_config(str(config), env_files=[str(env)]).config
    assert loaded.dubnium.shared_state.redis_url == "redis://:s3cret@10.0.0.5:6379/0"
    assert "s3cret" not in config.read_text()


def test_redis_url_without_credentials_is_allowed() -> None:
    assert failed_messages(shared(redisUrl="redis://10.0.0.5:6379/0")) == []


def test_assertion_rejects_inline_credentials() -> None:
    messages = failed_messages(shared(redisUrl="redis://:s3cret@10.0.0.5:6379/0"))
    assert len(messages) == 1
    assert "dubnium.plano.redis.url carries credentials" in messages[0]
    assert '`redis.url = "$PLANO_REDIS_URL";`' in messages[0] and "dubnium.plano.environmentFiles" in messages[0]
    assert "s3cret" not in messages[0]


def test_assertion_rejects_local_and_external_together() -> None:
    messages = failed_messages(shared(createLocally=True, redisUrl="redis://10.0.0.5:6379"))
    assert messages == [
        "dubnium.plano.redis.createLocally and dubnium.plano.redis.url are both set; choose one: the local "
        "Redis (services.redis.servers.plano, unix socket) or the external one at redis.url."
    ]


@pytest.mark.parametrize("endpoint", ["127.0.0.1:4317", "http://127.0.0.1:4317/v1/traces", "grpc://x:4317"])
def test_assertion_rejects_an_endpoint_the_daemon_would_refuse(endpoint: str) -> None:
    messages = failed_messages(shared(tracingEndpoint=endpoint))
    assert messages == [
        f'dubnium.plano.tracing.endpoint = "{endpoint}" must be an http(s) URL with a host and no path, such as '
        '"http://127.0.0.1:4317" (an OTLP/gRPC receiver).'
    ]
    text = "version: v0.4.0\nlisteners: [{name: e, type: model, address: 127.0.0.1, port: 12000}]\n" \
           "model_providers: [{model: openai/a, access_key: EMPTY, base_url: 'http://127.0.0.1:8000/v1'}]\n"
    with pytest.raises(ConfigError, match="opentracing_grpc_endpoint"):
        load_config(None, env_files=[], text=text + yaml.safe_dump({"tracing": {"opentracing_grpc_endpoint": endpoint}}))


def with_shared(data: dict[str, Any], unit: dict[str, list[str]]) -> dict[str, Any]:
    """plano.service as NixOS merges plano.nix's definitions with plano-shared-state.nix's (lists concatenate)."""
    plano = data["plano"]
    plano["Unit"]["After"] = plano["Unit"]["After"] + unit["After"]
    plano["Unit"]["Wants"] = plano["Unit"]["Wants"] + unit["Wants"]
    plano["Service"]["SupplementaryGroups"] = unit["SupplementaryGroups"]
    return data


def test_create_locally_unit_passes_verify_and_security(tmp_path: Path) -> None:
    data = with_shared(unit_data(tmp_path, "package"), shared(createLocally=True)["unit"])
    service, unit = data["plano"]["Service"], data["plano"]["Unit"]
    assert "AF_UNIX" in service["RestrictAddressFamilies"] and "AF_INET" in service["RestrictAddressFamilies"]
    assert "IPAddressDeny" not in service and "IPAddressAllow" not in service  # loopback OTLP stays reachable
    assert "redis-plano.service" in unit["After"] and "redis-plano.service" in unit["Wants"]
    assert "Requires" not in unit  # plano starts (local state) when Redis does not
    units = write_units(tmp_path, data)
    text = units["plano.service"].read_text()
    assert "SupplementaryGroups=redis-plano\n" in text and "After=redis-plano.service\n" in text
    proc = analyze("verify", *map(str, units.values()))
    assert proc.returncode == 0, proc.stderr
    assert unexpected_warnings(proc.stderr) == []
    proc = analyze("security", "--offline=yes", "--no-pager", str(units["plano.service"]))
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", proc.stdout)
    assert match and float(match.group(1)) <= 2.0, proc.stdout


def test_changing_redis_or_shared_state_restarts_instead_of_reloading() -> None:
    """The daemon binds routing.session_cache and dubnium.shared_state at start (restart_only_changes)."""
    def key(fragment: dict[str, Any]) -> object:
        return nix_eval(
            f"(import <repo/modules/nixos/plano-settings.nix>).restartSettings "
            f"(builtins.fromJSON {json.dumps(json.dumps(fragment))})"
        )

    local = shared(createLocally=True)["settings"]
    external = shared(redisUrl="$PLANO_REDIS_URL")["settings"]
    assert key(local) != key({}) and key(local) != key(external)
    only_session = {"routing": local["routing"]}
    only_shared = {"dubnium": local["dubnium"]}
    assert key(only_session) != key({}) and key(only_shared) != key({})
    assert key({"routing": {"session_ttl_seconds": 60}}) == key({})
