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
)
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
    interface: str  # OPENAI or ANTHROPIC
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
        interface = known.interface if known else OPENAI
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

    __slots__ = ("channels", "_by_name", "_by_model", "_by_bare", "_wildcards", "_aliases",
                 "_default", "_hidden", "_resolved")

    def __init__(self, config: Config) -> None:
        self.channels: tuple[Channel, ...] = tuple(
            build_channel(i, p, upstream_settings(config, p)) for i, p in enumerate(config.model_providers))
        self._by_name: dict[str, Channel] = {}
        self._by_model: dict[str, Channel] = {}
        self._by_bare: dict[str, Channel] = {}
        self._wildcards: list[tuple[str, Channel]] = []
        for ch in self.channels:
            if ch.model_id == "*" or ch.model_id.endswith("/*"):
                self._wildcards.append((ch.model[:-1], ch))
                continue
            self._by_name.setdefault(ch.name, ch)
            self._by_model.setdefault(ch.model, ch)
            first = self._by_bare.get(ch.model_id)
            if first is None or (ch.default and not first.default):
                self._by_bare[ch.model_id] = ch
        self._aliases = {alias: a.target for alias, a in config.model_aliases.items()}
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
        target = self._aliases.get(name, name)
        ch = (self._by_name.get(target) or self._by_model.get(target) or self._by_bare.get(target)
              or self._wildcard(target))
        if len(self._resolved) < 4096:
            self._resolved[name] = ch
        return ch

    def _wildcard(self, name: str) -> Channel | None:
        for stem, ch in self._wildcards:
            if name.startswith(stem) and len(name) > len(stem):
                return dataclasses.replace(ch, model=name, model_id=name[len(ch.prefix) + 1:])
        return None

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
            served = self.resolve(target)
            if served is not None and served not in hidden:
                out.append((alias, served))
        return out
