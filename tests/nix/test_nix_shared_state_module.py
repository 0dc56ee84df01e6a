"""modules/nixos/plano-shared-state.nix evaluated offline with a stand-in `lib` (mkOption, mkIf, mkDefault,
mapAttrsRecursive, the few types it names) and a stand-in `config`: the wiring from the options to
dubnium.plano.settings, services.redis.servers.plano and systemd.services.plano, with nixpkgs' mkIf/mkDefault
kept visible as {_type = "if" | "override"} so the test sees which definitions are conditional or defaults.
Option merging and types proper need nixpkgs (`nix flake check`); this catches wiring and evaluation errors.
"""

from __future__ import annotations

import json
from typing import Any

from nix_offline import nix_eval

STUB_LIB = """{
  mkOption = o: { _type = "option"; } // o;
  mkEnableOption = d: { _type = "option"; default = false; description = d; };
  types = { nullOr = t: "nullOr ${t}"; str = "str"; ints.between = lo: hi: "int ${toString lo}..${toString hi}"; };
  mkIf = condition: content: { _type = "if"; inherit condition content; };
  mkDefault = content: { _type = "override"; priority = 1000; inherit content; };
  mapAttrsRecursive = f: set:
    let recurse = path: builtins.mapAttrs (n: v: if builtins.isAttrs v then recurse (path ++ [ n ]) v else f (path ++ [ n ]) v);
    in recurse [ ] set;
}"""


def module(plano: dict[str, Any], redis_server: dict[str, Any] | None = None) -> dict[str, Any]:
    cfg = {"dubnium": {"plano": plano},
           "services": {"redis": {"servers": {"plano": redis_server or {
               "unixSocket": "/run/redis-plano/redis.sock", "user": "redis-plano"}}}}}
    result: dict[str, Any] = nix_eval(
        f"import <repo/modules/nixos/plano-shared-state.nix> {{ lib = {STUB_LIB}; "
        f"config = builtins.fromJSON {json.dumps(json.dumps(cfg))}; }}"
    )
    return result


def resolve(value: Any) -> Any:
    """What the module system would keep: mkIf false drops, mkIf true/mkDefault unwrap (one definition)."""
    if isinstance(value, dict):
        if value.get("_type") == "if":
            return resolve(value["content"]) if value["condition"] else None
        if value.get("_type") == "override":
            return resolve(value["content"])
        return {k: resolve(v) for k, v in value.items()}
    return value


def plano(**overrides: Any) -> dict[str, Any]:
    return {"enable": True, "redis": {"createLocally": False, "url": None},
            "tracing": {"endpoint": None, "randomSampling": 100}, **overrides}


def test_options_and_their_defaults() -> None:
    options = module(plano())["options"]["dubnium"]["plano"]
    assert options["redis"]["createLocally"]["default"] is False
    assert options["redis"]["url"]["default"] is None and options["redis"]["url"]["example"] == "$PLANO_REDIS_URL"
    assert options["tracing"]["endpoint"]["default"] is None
    assert options["tracing"]["randomSampling"]["default"] == 100
    assert options["tracing"]["randomSampling"]["type"] == "int 0..100"


def test_create_locally_enables_redis_and_wires_the_unit() -> None:
    raw = module(plano(redis={"createLocally": True, "url": None}))["config"]
    assert raw["_type"] == "if" and raw["condition"] is True
    content = raw["content"]
    # Every settings leaf is a default: the user's settings win over any of them.
    leaf = content["dubnium"]["plano"]["settings"]["routing"]["session_cache"]["url"]
    assert leaf["_type"] == "override" and leaf["priority"] == 1000
    assert content["services"]["redis"]["servers"]["plano"]["content"]["port"]["_type"] == "override"
    config = resolve(raw)
    assert config["dubnium"]["plano"]["settings"] == {
        "routing": {"session_cache": {"type": "redis", "url": "unix:///run/redis-plano/redis.sock"}},
        "dubnium": {"shared_state": {"redis_url": "unix:///run/redis-plano/redis.sock"}},
    }
    assert config["services"]["redis"]["servers"]["plano"] == {"enable": True, "port": 0}
    assert config["systemd"]["services"]["plano"] == {
        "after": ["redis-plano.service"],
        "wants": ["redis-plano.service"],
        "serviceConfig": {"SupplementaryGroups": ["redis-plano"]},
    }
    assert [a for a in config["assertions"] if not a["assertion"]] == []


def test_the_socket_group_follows_the_redis_group_option_when_nixpkgs_has_it() -> None:
    config = resolve(module(plano(redis={"createLocally": True, "url": None}),
                            {"unixSocket": "/run/r/x.sock", "user": "redis-plano", "group": "redis-shared"})["config"])
    assert config["systemd"]["services"]["plano"]["serviceConfig"]["SupplementaryGroups"] == ["redis-shared"]
    assert config["dubnium"]["plano"]["settings"]["routing"]["session_cache"]["url"] == "unix:///run/r/x.sock"


def test_external_url_and_tracing_touch_neither_redis_nor_the_unit() -> None:
    config = resolve(module(plano(redis={"createLocally": False, "url": "$PLANO_REDIS_URL"},
                                  tracing={"endpoint": "http://127.0.0.1:4317", "randomSampling": 10}))["config"])
    assert config["services"]["redis"]["servers"]["plano"] is None
    assert config["systemd"]["services"]["plano"] is None
    settings = config["dubnium"]["plano"]["settings"]
    assert settings["dubnium"]["shared_state"]["redis_url"] == "$PLANO_REDIS_URL"
    assert settings["tracing"] == {"opentracing_grpc_endpoint": "http://127.0.0.1:4317", "random_sampling": 10}


def test_nothing_when_the_gateway_is_disabled() -> None:
    raw = module(plano(enable=False, redis={"createLocally": True, "url": None}))["config"]
    assert resolve(raw) is None
