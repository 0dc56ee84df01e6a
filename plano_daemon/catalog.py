"""Who serves a requested model name: aliases, provider names, `prefix/id`, bare ids and wildcards.

A `Channel` is one provider entry made ready for the hot path: its upstream URL pieces and auth
headers are computed once here, at config load, not per request.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from plano_daemon.config.known_providers import (
    ANTHROPIC,
    DEFAULT_PATH_PREFIX,
    INTERFACE_ALIASES,
    KNOWN_PROVIDERS,
    OPENAI,
    RESPONSES_NATIVE_HOSTS,
    UNSPOKEN_PROVIDERS,
)
from plano_daemon.config.names import Match, ModelNames, NameEntry
from plano_daemon.errors import GatewayError
from plano_daemon.net import is_loopback
from plano_daemon.secret import Secret
from plano_daemon.wire.apis import API_PATHS as API_PATHS
from plano_daemon.wire.apis import CHAT as CHAT
from plano_daemon.wire.apis import MESSAGES as MESSAGES
from plano_daemon.wire.apis import RESPONSES as RESPONSES

if TYPE_CHECKING:
    from plano_daemon.config.schema import Config, ModelProvider, RetryPolicy, UpstreamModel


@dataclass(frozen=True, slots=True)
class Channel:
    """One provider entry (a channel: the same model may have several, under other prefixes)."""

    index: int
    name: str
    model: str  # prefix/id as configured (for a wildcard: as requested)
    prefix: str
    model_id: str  # what the upstream receives
    interface: str  # OPENAI, ANTHROPIC, or a prefix of UNSPOKEN_PROVIDERS
    origin: str  # scheme://host[:port], the connection pool key
    path_prefix: str  # "/v1", or the base_url's own path
    responses_native: bool
    auth_headers: tuple[tuple[str, str], ...]
    extra_headers: tuple[tuple[str, str], ...]
    passthrough_auth: bool
    default: bool
    is_local: bool  # base URL on loopback
    #: Left out of eq/hash: the policy holds lists (unhashable), and a channel is identified without it.
    retry_policy: RetryPolicy | None = dataclasses.field(compare=False)
    #: Configured under `dubnium.upstream_models`; None: learned from the upstream (see context_windows).
    context_window: int | None = None
    max_tokens_field: str | None = None
    #: Ask the upstream's GET /models for the context window (self-hosted servers; not public APIs).
    discover_window: bool = False

    def url(self, api: str) -> str:
        return f"{self.origin}{self.path_prefix}{API_PATHS[api]}"

    def upstream_api(self, client_api: str) -> str:
        """The API we speak to this channel for a client speaking `client_api`."""
        if self.interface in UNSPOKEN_PROVIDERS:
            raise GatewayError(
                f"model {self.model!r} is served by provider {self.prefix!r}, which speaks "
                f"{UNSPOKEN_PROVIDERS[self.interface]}; this gateway does not speak it, so it cannot forward "
                "requests there (route this model to an OpenAI- or Anthropic-compatible endpoint instead)",
                status=501, code="provider_not_supported")
        if self.interface == ANTHROPIC:
            return MESSAGES
        if client_api == RESPONSES and self.responses_native:
            return RESPONSES
        return CHAT


#: Hosts of the public APIs in KNOWN_PROVIDERS: their model lists carry no context window.
_PUBLIC_HOSTS = frozenset(urlsplit(k.base_url).hostname for k in KNOWN_PROVIDERS.values() if k.base_url)


def build_channel(index: int, provider: ModelProvider, settings: UpstreamModel | None = None) -> Channel:
    known = KNOWN_PROVIDERS.get(provider.prefix)
    if provider.provider_interface is not None:
        interface = INTERFACE_ALIASES[provider.provider_interface]
    else:
        interface = known.interface if known else (provider.prefix if provider.prefix in UNSPOKEN_PROVIDERS
                                                    else OPENAI)
    base_url = provider.base_url or (known.base_url if known else None)
    assert base_url is not None, "schema guarantees a base URL"
    parts = urlsplit(base_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/") or DEFAULT_PATH_PREFIX
    key = provider.access_key
    auth: tuple[tuple[str, str], ...] = ()
    if key and key != "EMPTY":
        if interface == ANTHROPIC:
            auth = (("x-api-key", key),)
        else:
            auth = (("Authorization", Secret(f"Bearer {key}")),)
    extra = tuple(provider.headers.items())
    if interface == ANTHROPIC:
        extra = (("anthropic-version", "2023-06-01"), *extra)
    if provider.http_host:
        extra = (*extra, ("Host", provider.http_host))
    host = (parts.hostname or "").lower()
    return Channel(
        index=index,
        name=provider.display_name,
        model=provider.model,
        prefix=provider.prefix,
        model_id=provider.model_id,
        interface=interface,
        origin=origin,
        path_prefix=path,
        responses_native=interface == OPENAI and host in RESPONSES_NATIVE_HOSTS,
        auth_headers=auth,
        extra_headers=extra,
        passthrough_auth=provider.passthrough_auth,
        default=provider.default,
        is_local=_is_loopback_host(host),
        retry_policy=provider.retry_policy,
        context_window=settings.context_window if settings else None,
        max_tokens_field=settings.max_tokens_field if settings else None,
        discover_window=interface == OPENAI and host not in _PUBLIC_HOSTS,
    )


def name_entry(provider: ModelProvider) -> NameEntry:
    return NameEntry(name=provider.display_name, model=provider.model, default=provider.default)


def upstream_settings(config: Config, provider: ModelProvider) -> UpstreamModel | None:
    """`dubnium.upstream_models` for a provider: by its model, its name, then `prefix/*`."""
    table = config.dubnium.upstream_models
    for key in (provider.model, provider.name, f"{provider.prefix}/*"):
        if key is not None and key in table:
            return table[key]
    return None


def _is_loopback_host(host: str) -> bool:
    return is_loopback(host.strip("[]"))


class Catalog:
    """Lookup order for a requested name: alias, provider name, prefix/id, bare id, wildcard."""

    __slots__ = ("channels", "names", "_aliases", "_default", "_hidden", "_resolved")

    def __init__(self, config: Config) -> None:
        self.channels: tuple[Channel, ...] = tuple(
            build_channel(i, p, upstream_settings(config, p)) for i, p in enumerate(config.model_providers))
        self._aliases = {alias: a.target for alias, a in config.model_aliases.items()}
        #: The resolver validation used on this same config (config/names.py).
        self.names = ModelNames([name_entry(p) for p in config.model_providers], self._aliases)
        self._default = next((ch for ch in self.channels if ch.default), None)
        router = config.overrides.llm_routing_model
        self._hidden = {router} if router else set()
        self._resolved: dict[str, Channel | None] = {}

    def resolve(self, name: str) -> Channel | None:
        """The channel serving `name`, or None. Results are memoised: configs are immutable."""
        try:
            return self._resolved[name]
        except KeyError:
            pass
        ch = self._channel(self.names.find(name))
        if len(self._resolved) < 4096:
            self._resolved[name] = ch
        return ch

    def _channel(self, match: Match | None) -> Channel | None:
        if match is None:
            return None
        ch = self.channels[match.index]
        if match.model is None:
            return ch
        return dataclasses.replace(ch, model=match.model, model_id=match.model[len(ch.prefix) + 1:])

    @property
    def default(self) -> Channel | None:
        return self._default

    def is_alias(self, name: str) -> bool:
        return name in self._aliases

    def public_models(self) -> list[tuple[str, Channel]]:
        """(id, channel) for GET /v1/models: providers then aliases, declaration order."""
        out: list[tuple[str, Channel]] = []
        hidden = {self.resolve(h) for h in self._hidden}
        for ch in self.channels:
            if ch in hidden or (ch.model_id == "*" or ch.model_id.endswith("/*")):
                continue
            out.append((ch.name, ch))
        for alias, target in self._aliases.items():
            served = self._channel(self.names.find_model(target))
            if served is not None and served not in hidden:
                out.append((alias, served))
        return out
