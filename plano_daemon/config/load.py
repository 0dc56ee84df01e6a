"""Config file + environment → a validated Config, or a ConfigError listing every problem by path.

Secrets (access keys, header values, anything that came from the environment) are collected so that
nothing we print can contain them: messages are built from field paths, never from input values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError

from plano_daemon.config.envsubst import parse_env_file, referenced_vars, substitute
from plano_daemon.config.known_providers import UNSPOKEN_PROVIDERS
from plano_daemon.config.migrate import migrate
from plano_daemon.config.profile_values import Profile, profile_path
from plano_daemon.config.schema import Config
from plano_daemon.errors import ConfigError
from plano_daemon.net import is_loopback
from plano_daemon.secret import Secret

#: Provider fields whose `$VAR` references are substituted (Plano substitutes keys and endpoints).
_SUBSTITUTED_PROVIDER_FIELDS = ("access_key", "base_url", "http_host")
#: At most this many problems are reported; the rest are counted. A broken 10 MB file must not print
#: (and hold in memory) hundreds of thousands of lines.
MAX_PROBLEMS = 50
#: Config and env files are read whole; one larger than this is refused before parsing (a real config is a
#: few KiB, and a 10 MB one takes minutes and a gigabyte to parse and validate).
MAX_FILE_BYTES = 4 * 1024 * 1024
#: libyaml's parser when PyYAML was built with it (several times faster), else the pure-Python one.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class LoadedConfig:
    config: Config
    warnings: list[str] = field(default_factory=list)
    #: Values never to print; out of the repr, which would otherwise list them all.
    secrets: frozenset[str] = field(default=frozenset(), repr=False)
    path: str | None = None
    #: The model-router policy profile (`dubnium.policy_profile` or MODEL_ROUTER_*); None: no filtering.
    profile: Profile | None = None

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)


def redact(text: str, secrets: frozenset[str] | set[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def read_env_files(paths: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    env: dict[str, str] = {}
    problems: list[str] = []
    for path in paths:
        where = f"--env-file {path}"
        try:
            text = decode(read_limited(path), where)
        except OSError as exc:
            problems.append(f"{where}: cannot read ({exc.strerror or exc})")
            continue
        except ConfigError as exc:
            problems += exc.problems
            continue
        values, bad_lines = parse_env_file(text)
        env.update(values)
        problems += [f"{where}: {problem}" for problem in bad_lines]
    return env, problems


def read_limited(path: str) -> bytes:
    """The file's bytes; a ConfigError when it is larger than MAX_FILE_BYTES (not read, nor parsed)."""
    with open(path, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError([f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB, the most a config or "
                           "env file may be"])
    return data


def decode(data: bytes, where: str) -> str:
    """UTF-8 text, or a ConfigError naming the line and column of the first byte that is not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError([f"{where}: line {line}, column {column}: not UTF-8 text "
                           f"(byte 0x{data[exc.start]:02x})"]) from None


def load_config(path: str | None, *, env_files: Sequence[str] = (),
                environ: Mapping[str, str] | None = None, text: str | None = None) -> LoadedConfig:
    """Load and validate; `text` replaces reading `path` (the embedded default, tests). Whatever the
    files hold, the outcome is a LoadedConfig or a ConfigError (at most MAX_PROBLEMS lines, then a count)."""
    try:
        return _load(path, env_files=env_files, environ=environ, text=text)
    except ConfigError as exc:
        raise ConfigError(capped(exc.problems)) from None
    except RecursionError:  # YAML that parses, nested deeper than migration or validation can walk
        raise ConfigError([f"{path or '<config>'}: nested too deeply to be a config"]) from None


def capped(problems: list[str], limit: int = MAX_PROBLEMS) -> list[str]:
    if len(problems) <= limit:
        return problems
    return problems[:limit] + [f"... and {len(problems) - limit} more problems"]


def _load(path: str | None, *, env_files: Sequence[str], environ: Mapping[str, str] | None,
          text: str | None) -> LoadedConfig:
    file_env, problems = read_env_files(env_files)
    env = {**(os.environ if environ is None else environ), **file_env}
    where = path or "<config>"
    if text is None:
        if path is None:
            raise ConfigError(["--config: no path given"])
        try:
            text = decode(read_limited(path), path)
        except OSError as exc:
            raise ConfigError(problems + [f"{path}: cannot read ({exc.strerror or exc})"]) from None
        except ConfigError as exc:
            raise ConfigError(problems + exc.problems) from None
    try:
        raw = yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(problems + [f"{where}: {at}: {problem}"]) from None
    except RecursionError:
        raise ConfigError(problems + [f"{where}: nested too deeply to be a config"]) from None
    if not isinstance(raw, dict):
        raise ConfigError(problems + [f"{where}: the top level must be a mapping"])

    migrated, notes = migrate(raw)
    secrets: set[str] = set()
    problems += _substitute_env(migrated, env, secrets)
    try:
        config = Config.model_validate(migrated)
    except ValidationError as exc:
        problems += _format_errors(exc)
    except RecursionError:
        problems.append(f"{where}: nested too deeply to be a config")
    profile = None
    if not problems:
        profile_at = profile_path(config.dubnium.policy_profile, env, config_path=path)
        try:
            if profile_at is not None:  # its pydantic models cost ≈ 70 ms to import: only when there is one
                from plano_daemon.config.profile import load_profile

                profile = load_profile(profile_at)
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError([redact(p, secrets) for p in problems])
    return LoadedConfig(config=config, warnings=notes + _warnings(config),
                        secrets=frozenset(Secret(v) for s in secrets for v in (s, s.strip()) if v), path=path,
                        profile=profile)


def _substitute_env(cfg: dict[str, Any], env: Mapping[str, str], secrets: set[str]) -> list[str]:
    problems: list[str] = []

    def sub(value: Any, where: str, secret: bool) -> Any:
        if not isinstance(value, str):
            return value
        new, missing = substitute(value, env)
        for name in missing:
            problems.append(f"{where}: environment variable {name} is not set")
        if secret or new != value:
            secrets.update(env[name] for name in _names_used(value, env))
        if secret and new and new != "EMPTY":
            secrets.add(new)
        return new

    providers = cfg.get("model_providers")
    for i, provider in enumerate(providers if isinstance(providers, list) else []):
        if not isinstance(provider, dict):
            continue
        for key in _SUBSTITUTED_PROVIDER_FIELDS:
            if key in provider:
                provider[key] = sub(provider[key], f"model_providers[{i}].{key}", key == "access_key")
        headers = provider.get("headers")
        if isinstance(headers, dict):
            for hk in list(headers):
                headers[hk] = sub(headers[hk], f"model_providers[{i}].headers.{hk}", True)
    storage = cfg.get("state_storage")
    if isinstance(storage, dict) and "connection_string" in storage:
        storage["connection_string"] = sub(storage["connection_string"],
                                           "state_storage.connection_string", True)
    # Redis URLs may carry a password: substituted like a key, and their values are secrets.
    for section, sub_key, name in (("routing", "session_cache", "url"), ("dubnium", "shared_state", "redis_url")):
        block = cfg.get(section)
        inner = block.get(sub_key) if isinstance(block, dict) else None
        if isinstance(inner, dict) and isinstance(inner.get(name), str):
            inner[name] = sub(inner[name], f"{section}.{sub_key}.{name}", True)
    return problems


def _names_used(value: str, env: Mapping[str, str]) -> list[str]:
    return [n for n in referenced_vars(value) if n in env]


def _format_errors(exc: ValidationError) -> list[str]:
    out: list[str] = []
    for err in exc.errors(include_input=False, include_url=False):
        path = _path(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see the Plano v0.4 config reference)"
        if not path:
            out.extend(msg.split("\n"))
        else:
            out.extend(f"{path or '<config>'}: {line}" for line in msg.split("\n"))
    return out


def _path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif str(item).startswith("function-") or str(item) in ("tagged-union",):
            continue
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


#: Plano settings a config may carry that this gateway accepts but does not act on, and what to use instead.
_NOT_ACTED_ON = {
    "prompt_guards": "prompt guards are not applied",
    "routing.llm_provider": "the router model is overrides.llm_routing_model",
    "routing.model": "the router model is overrides.llm_routing_model",
    **dict.fromkeys(("system_prompt", "prompt_targets", "endpoints", "agents", "filters", "mode"),
                    "prompt-gateway settings are not served (only model listeners are)"),
}
#: Fields of prompt/agent listeners; on a model listener they do nothing.
_PROMPT_LISTENER_FIELDS = ("router", "max_retries", "agents", "input_filters", "output_filters")


def _warnings(cfg: Config) -> list[str]:
    """Problems that do not stop serving, so that nothing a user sets is ignored without a word."""
    out: list[str] = []
    for i, listener in enumerate(cfg.listeners):
        if listener.type != "model":
            out.append(f"listeners[{i}]: {listener.type} listener {listener.name!r} is accepted but not "
                       "served (only model listeners are)")
            continue
        if not is_loopback(listener.address):
            out.append(f"listeners[{i}].address: {listener.address} is not loopback; the gateway is "
                       "reachable from other hosts")
        out.extend(f"listeners[{i}].{name}: ignored on a model listener"
                   for name in _PROMPT_LISTENER_FIELDS if getattr(listener, name) is not None)
    for i, provider in enumerate(cfg.model_providers):
        if provider.prefix in UNSPOKEN_PROVIDERS and provider.provider_interface is None:
            out.append(f"model_providers[{i}]: provider {provider.prefix!r} speaks "
                       f"{UNSPOKEN_PROVIDERS[provider.prefix]}, which this gateway does not; requests for "
                       f"{provider.model!r} will be answered with an error")
    for where, why in _NOT_ACTED_ON.items():
        section, _, name = where.rpartition(".")
        if getattr(getattr(cfg, section) if section else cfg, name) is not None:
            out.append(f"{where}: accepted but not acted on; {why}")
    if cfg.tracing is not None and cfg.tracing.exporters:
        out.append("tracing.exporters: accepted but not acted on; spans go only to "
                   "tracing.opentracing_grpc_endpoint (OTLP)")
    return out
