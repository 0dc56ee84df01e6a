"""Pydantic models of a Plano v0.4.0 config plus our `dubnium:` extensions.

Unknown keys are errors (typos must not pass silently) except in sections Plano defines loosely
(`overrides`, `prompt_guards`, `ratelimits`, prompt/agent listeners), which are accepted as-is.
Cross-references (aliases, fallback models, routing models) are checked in `Config._check_references`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from plano_daemon.config.known_providers import INTERFACE_ALIASES, KNOWN_PROVIDERS
from plano_daemon.config.names import ModelNames, NameEntry
from plano_daemon.config.secret import SecretText
from plano_daemon.secret import control_characters

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
#: An HTTP header name (RFC 9110 token).
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def parse_duration(value: Any) -> float:
    """`120s`, `500ms`, `5m`, `1h`, `30d` or a bare number of seconds → seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 500ms or 5m")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError(f"expected a duration like 30s, 500ms or 5m, got {value!r}")
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
#: 0 asks the kernel for a free port (tests, the demo).
Port = Annotated[int, Field(ge=0, le=65535)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


# --- listeners -------------------------------------------------------------------------------------

class Listener(Strict):
    type: Literal["model", "prompt", "agent"] = "model"
    name: str = "model_listener"
    address: str = "127.0.0.1"
    port: Port = 12000
    timeout: Duration = 300.0
    #: Plano fields of prompt/agent listeners; accepted, not served.
    router: str | None = None
    max_retries: int | None = None
    agents: list[dict[str, Any]] | None = None
    input_filters: list[str] | None = None
    output_filters: list[str] | None = None


# --- retry policy (seed 001) -------------------------------------------------------------------------

Strategy = Literal["same_model", "same_provider", "different_provider"]


def _expand_codes(value: Any) -> list[int]:
    if not isinstance(value, list):
        value = [value]
    codes: list[int] = []
    for item in value:
        if isinstance(item, bool):
            raise ValueError("status codes are integers or ranges like \"500-504\"")
        if isinstance(item, int):
            codes.append(item)
            continue
        m = re.fullmatch(r"\s*(\d{3})\s*(?:-\s*(\d{3})\s*)?", str(item))
        if not m:
            raise ValueError(f"status code {item!r} is not an integer or a range like \"500-504\"")
        lo = int(m.group(1))
        hi = int(m.group(2) or lo)
        if hi < lo:
            raise ValueError(f"status code range {item!r} is empty")
        codes.extend(range(lo, hi + 1))
    for code in codes:
        if not 100 <= code <= 599:
            raise ValueError(f"status code {code} is outside 100-599")
    return codes


class StatusRule(Strict):
    codes: Annotated[list[int], BeforeValidator(_expand_codes)]
    strategy: Strategy | None = None
    max_attempts: Annotated[int, Field(ge=1)] | None = None


class TimeoutRule(Strict):
    strategy: Strategy | None = None
    max_attempts: Annotated[int, Field(ge=1)] | None = None


class Backoff(Strict):
    apply_to: Literal["same_model", "same_provider", "global"] = "global"
    base_ms: Annotated[int, Field(ge=0)] = 100
    max_ms: Annotated[int, Field(ge=0)] = 5000
    jitter: bool = True


class RetryAfterHandling(Strict):
    scope: Literal["model", "provider"] = "model"
    apply_to: Literal["global", "request"] = "global"
    max_retry_after_seconds: Annotated[int, Field(ge=0)] = 300


class RetryPolicy(Strict):
    fallback_models: list[str] = []
    default_strategy: Strategy = "different_provider"
    default_max_attempts: Annotated[int, Field(ge=1)] = 2
    on_status_codes: list[StatusRule] = []
    on_timeout: TimeoutRule | None = None
    backoff: Backoff = Backoff()
    retry_after_handling: RetryAfterHandling = RetryAfterHandling()
    max_retry_duration_ms: Annotated[int, Field(ge=1)] | None = None


# --- providers ---------------------------------------------------------------------------------------

class InlinePreference(Strict):
    name: str
    description: str


class ModelProvider(Strict):
    model: str
    name: str | None = None
    access_key: SecretText | None = None
    base_url: str | None = None
    provider_interface: str | None = None
    default: bool = False
    passthrough_auth: bool = False
    headers: dict[str, SecretText] = {}
    http_host: str | None = None
    retry_policy: RetryPolicy | None = None
    #: Legacy inline form; `migrate` lifts these to the top level before validation.
    routing_preferences: list[InlinePreference] = []

    @field_validator("model")
    @classmethod
    def _model_has_prefix(cls, v: str) -> str:
        prefix, sep, model_id = v.partition("/")
        if not sep or not prefix or not model_id:
            raise ValueError(f"model {v!r} must be written as provider-prefix/model-id")
        return v

    @field_validator("base_url")
    @classmethod
    def _base_url_is_http(cls, v: str | None) -> str | None:
        """Checked here, so that a URL aiohttp would refuse per request is a validation error instead.
        Messages never repeat the value: it may hold a substituted secret."""
        if v is None:
            return v
        v = v.strip()
        if control_characters(v) or " " in v:
            raise ValueError("base_url contains a space or a control character")
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("base_url must be an absolute http:// or https:// URL with a host")
        if parts.username is not None or parts.password is not None:
            raise ValueError("base_url must not carry credentials (user:password@); put the key in "
                             "access_key or headers")
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number in 0-65535
        except ValueError:
            raise ValueError("base_url has an invalid port") from None
        return v

    @field_validator("http_host")
    @classmethod
    def _http_host_is_one_line(cls, v: str | None) -> str | None:
        if v is not None and (control_characters(v) or not v.strip()):
            raise ValueError("http_host must be a non-empty host[:port] without control characters")
        return v.strip() if v is not None else v

    @field_validator("headers")
    @classmethod
    def _header_names(cls, v: dict[str, str]) -> dict[str, str]:
        for name in v:
            if not _HEADER_NAME.match(name):
                raise ValueError(f"header name {name!r} is not a valid HTTP header name")
        return v

    @field_validator("provider_interface")
    @classmethod
    def _known_interface(cls, v: str | None) -> str | None:
        if v is not None and v not in INTERFACE_ALIASES:
            known = ", ".join(sorted(INTERFACE_ALIASES))
            raise ValueError(f"unknown provider_interface {v!r}; known: {known}")
        return v

    @model_validator(mode="after")
    def _interface_resolvable(self) -> ModelProvider:
        prefix = self.prefix
        known = KNOWN_PROVIDERS.get(prefix)
        if known is None and self.provider_interface is None and self.base_url is None:
            raise ValueError(
                f"provider prefix {prefix!r} is not a known provider: set base_url "
                "(and provider_interface if it does not speak the OpenAI API)")
        if self.base_url is None and (known is None or known.base_url is None):
            raise ValueError(f"provider prefix {prefix!r} needs base_url")
        return self

    @property
    def prefix(self) -> str:
        return self.model.split("/", 1)[0]

    @property
    def model_id(self) -> str:
        return self.model.split("/", 1)[1]

    @property
    def display_name(self) -> str:
        return self.name or self.model

    @property
    def is_wildcard(self) -> bool:
        return self.model_id == "*" or self.model_id.endswith("/*")


class Alias(Strict):
    target: str


class SelectionPolicy(Strict):
    prefer: Literal["cheapest", "fastest", "none"] = "none"


class RoutingPreference(Strict):
    name: str
    description: str
    models: Annotated[list[str], Field(min_length=1)]
    selection_policy: SelectionPolicy | None = None
    #: Extension: sample prompts that help the embedded router.
    examples: list[str] = []


class SessionCache(Strict):
    """Plano's `routing.session_cache`: where session pins live. TLS: a `rediss://` URL (query parameters
    such as `ssl_ca_certs` and `ssl_cert_reqs` are honoured); a unix socket: `unix:///run/redis/x.sock`."""

    type: Literal["memory", "redis"] = "memory"
    url: str | None = None
    tenant_header: str | None = None

    @model_validator(mode="after")
    def _url_for_redis(self) -> SessionCache:
        if self.type == "redis" and not self.url:
            raise ValueError("`url` is required when type is redis (like redis://127.0.0.1:6379)")
        return self


class RoutingSettings(Strict):
    llm_provider: str | None = None
    model: str | None = None
    session_ttl_seconds: Annotated[int, Field(ge=1)] = 600
    session_max_entries: Annotated[int, Field(ge=1)] = 10000
    session_cache: SessionCache | None = None
    #: Plano: a turn whose last message is not the user's (a tool result) keeps the session's last route.
    route_on_user_only: bool = False
    #: Extension: a template with {routes} and {conversation} placeholders replacing our router prompt.
    router_prompt_file: str | None = None
    #: Extension: how long the router model may take before the embedded router decides instead.
    router_timeout: Duration = 3.0


class RatelimitSelector(Strict):
    #: The request header that names the subject (`x-user-id`); `value` one subject, `*`/absent each value.
    key: str
    value: str | None = None


class RatelimitLimit(Strict):
    tokens: Annotated[int, Field(ge=1)]
    unit: Literal["second", "minute", "hour", "day"]


class Ratelimit(Strict):
    """Plano's `ratelimits[]`: at most `limit.tokens` tokens per `limit.unit` for one model and subject."""

    model: str
    selector: RatelimitSelector
    limit: RatelimitLimit


class Overrides(Loose):
    llm_routing_model: str | None = None
    upstream_connect_timeout: Duration = 5.0
    orchestrator_model_context_length: Annotated[int, Field(ge=256)] = 8192


class SpanAttributes(Strict):
    #: Request headers whose name starts with one of these become span attributes (credential headers never).
    header_prefixes: list[str] = []
    static: dict[str, str] = {}


class Tracing(Strict):
    """Plano's `tracing`: OTLP/gRPC spans to `opentracing_grpc_endpoint`, `random_sampling` percent of traces."""

    random_sampling: Annotated[int, Field(ge=0, le=100)] = 100
    trace_arch_internal: bool | None = None
    opentracing_grpc_endpoint: str = "http://localhost:4317"
    span_attributes: SpanAttributes = SpanAttributes()
    exporters: list[dict[str, Any]] | None = None

    @field_validator("opentracing_grpc_endpoint")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        """As Plano checks it: an http(s) URL with a host and no path."""
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
            raise ValueError(f"expected an http(s) URL with no path, like http://localhost:4317, got {v!r}")
        return v


class StateStorage(Strict):
    type: Literal["memory", "postgres"]
    connection_string: SecretText | None = None
    #: Extension: how long a stored response can be continued (`previous_response_id`); older ones are deleted.
    retention: Duration = 30 * 86400.0
    #: Extension: the most responses `type: memory` keeps (the oldest go first).
    max_entries: Annotated[int, Field(ge=1)] = 10000

    @model_validator(mode="after")
    def _postgres_needs_dsn(self) -> StateStorage:
        if self.type == "postgres" and not self.connection_string:
            raise ValueError("connection_string is required when type is postgres")
        return self


# --- dubnium: our extensions ----------------------------------------------------------------------

class Timeouts(Strict):
    first_byte: Duration = 120.0
    stream_idle: Duration = 120.0
    #: How long a client may take to send its request headers, then its whole body (408 after that).
    request_headers: Duration = 10.0
    request_body: Duration = 60.0


class MetricsSettings(Strict):
    enabled: bool = True
    #: `host:port` for a separate loopback metrics listener; None serves /metrics on each model listener.
    listen: str | None = None

    @field_validator("listen")
    @classmethod
    def _host_port(cls, v: str | None) -> str | None:
        """Checked here, so a typo is a validation error, not a traceback when the listener binds."""
        if v is None:
            return v
        _, sep, port = v.rpartition(":")
        if not sep or not port.isdigit() or int(port) > 65535:
            raise ValueError(f"expected host:port (like 127.0.0.1:9464), got {v!r}")
        return v


class LedgerSettings(Strict):
    enabled: bool = True
    path: str | None = None
    max_bytes: Annotated[int, Field(ge=4096)] = 50 * 1024 * 1024
    backups: Annotated[int, Field(ge=0)] = 5
    flush_interval_ms: Annotated[int, Field(ge=1)] = 200


class Budget(Strict):
    #: A provider model (`prefix/id`), a provider prefix (`prefix/*`) or an alias.
    target: str
    daily_tokens: Annotated[int, Field(ge=1)] | None = None
    daily_requests: Annotated[int, Field(ge=1)] | None = None


class HealthSettings(Strict):
    failure_threshold: Annotated[int, Field(ge=1)] = 3
    cooldown_seconds: Annotated[float, Field(gt=0)] = 30.0


class UpstreamModel(Strict):
    """What the gateway cannot always learn from an upstream (keyed by provider model, name or `prefix/*`)."""

    #: Prompt + output tokens the model accepts; else learned from the upstream's /models (vLLM's max_model_len).
    context_window: Annotated[int, Field(ge=1)] | None = None
    #: The output-limit field translated chat requests use; default: max_completion_tokens for gpt-5*/o-series.
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] | None = None


class SharedStateSettings(Strict):
    """Several instances as one: budgets, Retry-After blocks and health cool-downs (and, with
    `routing.session_cache.type: redis`, session pins) kept in one Redis."""

    #: None: the Redis of `routing.session_cache` when its type is redis, else nothing is shared.
    redis_url: str | None = None
    key_prefix: Annotated[str, Field(min_length=1)] = "plano"
    #: Longest a request waits on Redis before using local state instead.
    timeout_ms: Annotated[int, Field(ge=1)] = 100
    reconnect_seconds: Annotated[float, Field(gt=0)] = 1.0
    #: While Redis is unreachable a capped channel is refused (closed) or judged on local counts (open).
    budgets_when_unreachable: Literal["closed", "open"] = "closed"


class Dubnium(Strict):
    max_body_bytes: Annotated[int, Field(ge=1024)] = 32 * 1024 * 1024
    timeouts: Timeouts = Timeouts()
    metrics: MetricsSettings = MetricsSettings()
    ledger: LedgerSettings = LedgerSettings()
    policy_profile: str | None = None
    budgets: list[Budget] = []
    health: HealthSettings = HealthSettings()
    default_retry_policy: RetryPolicy | None = None
    drain_seconds: Annotated[float, Field(ge=0)] = 30.0
    upstream_models: dict[str, UpstreamModel] = {}
    shared_state: SharedStateSettings = SharedStateSettings()


# --- the whole file ---------------------------------------------------------------------------------

class Config(Strict):
    version: Literal["v0.1", "v0.1.0", "0.1-beta", "0.2.0", "v0.2.0", "v0.3.0", "v0.4.0"] = "v0.4.0"
    listeners: Annotated[list[Listener], Field(min_length=1)]
    model_providers: Annotated[list[ModelProvider], Field(min_length=1)]
    model_aliases: dict[str, Alias] = {}
    routing_preferences: list[RoutingPreference] = []
    routing: RoutingSettings = RoutingSettings()
    overrides: Overrides = Overrides()
    ratelimits: list[Ratelimit] | None = None
    tracing: Tracing | None = None
    prompt_guards: dict[str, Any] | None = None
    state_storage: StateStorage | None = None
    system_prompt: str | None = None
    prompt_targets: list[dict[str, Any]] | None = None
    endpoints: dict[str, Any] | None = None
    agents: list[dict[str, Any]] | None = None
    filters: list[dict[str, Any]] | None = None
    mode: Literal["llm", "prompt"] | None = None
    dubnium: Dubnium = Dubnium()

    @model_validator(mode="after")
    def _check_references(self) -> Config:
        problems: list[str] = []
        names: dict[str, int] = {}
        fulls: dict[str, int] = {}
        for i, p in enumerate(self.model_providers):
            if p.name is not None:
                if p.name in names:
                    problems.append(f"model_providers[{i}].name: duplicate name {p.name!r} "
                                    f"(also model_providers[{names[p.name]}])")
                names[p.name] = i
            if p.model in fulls:
                problems.append(f"model_providers[{i}].model: duplicate model {p.model!r} "
                                f"(also model_providers[{fulls[p.model]}]); use another prefix "
                                "for a second channel")
            fulls[p.model] = i
        defaults = [i for i, p in enumerate(self.model_providers) if p.default]
        if len(defaults) > 1:
            problems.append(f"model_providers[{defaults[1]}].default: only one provider may be the "
                            f"default (also model_providers[{defaults[0]}])")
        resolver = ModelNames([NameEntry(p.display_name, p.model, p.default) for p in self.model_providers],
                              {alias: a.target for alias, a in self.model_aliases.items()})
        exists = resolver.exists
        for alias, target in self.model_aliases.items():
            if resolver.find_model(target.target) is None:
                problems.append(f"model_aliases.{alias}.target: {target.target!r} is not a configured model")
        seen_prefs: set[str] = set()
        for i, pref in enumerate(self.routing_preferences):
            if pref.name in seen_prefs:
                problems.append(f"routing_preferences[{i}].name: duplicate name {pref.name!r}")
            seen_prefs.add(pref.name)
            for j, model in enumerate(pref.models):
                if not exists(model):
                    problems.append(f"routing_preferences[{i}].models[{j}]: {model!r} is not a configured model")
        policies = [(f"model_providers[{i}].retry_policy", p.retry_policy)
                    for i, p in enumerate(self.model_providers)]
        policies.append(("dubnium.default_retry_policy", self.dubnium.default_retry_policy))
        for where, policy in policies:
            for j, model in enumerate(policy.fallback_models if policy else []):
                if not exists(model):
                    problems.append(f"{where}.fallback_models[{j}]: {model!r} is not a configured model")
        router = self.overrides.llm_routing_model
        if router is not None and not exists(router):
            problems.append(f"overrides.llm_routing_model: {router!r} is not a configured model")
        ports: dict[tuple[str, int], str] = {}
        for i, listener in enumerate(self.listeners):
            key = (listener.address, listener.port)
            if listener.type == "model" and listener.port != 0 and key in ports:  # 0: any free port
                problems.append(f"listeners[{i}].port: {listener.address}:{listener.port} is already "
                                f"used by listener {ports[key]!r}")
            ports[key] = listener.name
        for i, budget in enumerate(self.dubnium.budgets):
            if not (exists(budget.target) or resolver.is_prefix_wildcard(budget.target)):
                problems.append(f"dubnium.budgets[{i}].target: {budget.target!r} is not a configured model, "
                                "alias or prefix/*")
        configured = {p.model for p in self.model_providers} | {p.display_name for p in self.model_providers}
        for name in self.dubnium.upstream_models:
            if name not in configured and not resolver.is_prefix_wildcard(name):
                problems.append(f"dubnium.upstream_models.{name}: not a provider model, name or prefix/*")
        if problems:
            raise ValueError("\n".join(problems))
        return self

