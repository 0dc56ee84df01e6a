"""One routing decision for one request: inline or configured routes → pin → router model → embedded.

Shared by the proxy's `choose` step, the `/routing/v1/*` endpoints and `plano-daemon route`, so all three
decide the same way.
The router model fails open: on a timeout, an error status or an answer we cannot read, the embedded
router decides, and the result says which backend did (for the ledger and metrics).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plano_daemon.catalog import Catalog, Channel
from plano_daemon.config.schema import Config
from plano_daemon.failover.latency import Latency
from plano_daemon.logs import LOG
from plano_daemon.metrics import Metrics
from plano_daemon.routing.affinity import DEFAULT_KEY_HEADERS, SessionPins, affinity_key, implicit_key, is_user_turn
from plano_daemon.routing.conversation import Turn, extract_conversation
from plano_daemon.routing.decide import rank
from plano_daemon.routing.llm_client import RouterFailure, ask_router_model
from plano_daemon.routing.router_contract import (
    DEFAULT_TEMPLATE,
    TemplateError,
    build_prompt,
    check_template,
    parse_answer,
)
from plano_daemon.routing.routes import Route, has_inline_routes, pop_inline_routes, routes_from_config
from plano_daemon.upstream import UpstreamPool

if TYPE_CHECKING:
    from plano_daemon.routing.embedded import EmbeddedRouters

LLM, EMBEDDED, PINNED, NONE = "llm", "embedded", "pinned", "none"
#: A channel's place in the cost order (lower is cheaper), None when unknown.
CostRank = Callable[[Channel], float | None]


@dataclass(frozen=True, slots=True)
class RoutingResult:
    route: str | None
    models: tuple[str, ...]  # the route's models in trial order; empty without a route
    router: str  # llm | embedded | pinned | none
    session_id: str | None = None
    pinned: bool = False
    router_failure: str | None = None  # why the router model did not decide, when it was asked
    #: Plano's `switched`: this session was on another model before this decision.
    switched: bool = False

    @property
    def model(self) -> str | None:
        return self.models[0] if self.models else None


NOT_ROUTED = RoutingResult(route=None, models=(), router=NONE)


@dataclass(frozen=True, slots=True)
class RoutingContext:
    """The long-lived pieces a decision uses (kept across reloads, owned by the gateway's services)."""

    pool: UpstreamPool
    pins: SessionPins
    metrics: Metrics
    latency: Latency | None = None  # observed upstream latency, for `prefer: fastest`
    #: The request's privacy check (policy gate): a router model it may not reach is not asked.
    may_see: Callable[[Channel], bool] | None = None


class RoutingEngine:
    """What one config says about routing, prepared once per config load."""

    __slots__ = ("routes", "llm_channel", "template", "context_tokens", "timeout", "key_headers", "cost",
                 "route_on_user_only", "_embedded", "_resolve")

    def __init__(self, config: Config, catalog: Catalog, *, key_headers: tuple[str, ...] = DEFAULT_KEY_HEADERS,
                 cost: CostRank | None = None, router_model: bool = True) -> None:
        """`key_headers`: where a pinning key is read from (empty: no pinning); `cost`: the policy
        profile's cost order for `prefer: cheapest` (None without a profile: the configured order);
        `router_model=False`: the embedded router decides even when a router model is configured (the
        `route` command: offline, no keys, nothing sent anywhere)."""
        self.routes: tuple[Route, ...] = routes_from_config(config.routing_preferences)
        name = config.overrides.llm_routing_model if router_model else None
        self.llm_channel: Channel | None = catalog.resolve(name) if name else None
        self.template = load_template(config.routing.router_prompt_file)
        self.context_tokens = config.overrides.orchestrator_model_context_length
        self.timeout = config.routing.router_timeout
        self.key_headers = key_headers
        self.cost = cost
        #: Plano's `routing.route_on_user_only`: a tool-result turn replays the session's last decision, even
        #: without a session header (the session is then the conversation's start, `implicit_key`).
        self.route_on_user_only = config.routing.route_on_user_only
        self._resolve = catalog.resolve
        self._embedded: EmbeddedRouters | None = None
        if self.routes:
            self.embedded.get(self.routes)  # build the embedded router now, not on the first request

    @property
    def embedded(self) -> EmbeddedRouters:
        """The embedded routers, made on first use: importing their vocabulary costs ≈ 50 ms of start-up,
        which a gateway without routes (and without inline routing) never needs."""
        if self._embedded is None:
            from plano_daemon.routing.embedded import EmbeddedRouters

            self._embedded = EmbeddedRouters()
        return self._embedded

    def decides(self, body: Mapping[str, Any]) -> bool:
        """False when `route` can only answer NOT_ROUTED (no configured routes, no inline routing fields):
        the caller then need not build its context (most requests of a gateway without routes)."""
        return bool(self.routes) or has_inline_routes(body)

    async def route(self, body: dict[str, Any], headers: Mapping[str, str], ctx: RoutingContext) -> RoutingResult:
        """Decide; strips inline routing fields from `body` as a side effect (they are never forwarded)."""
        inline = pop_inline_routes(body)
        routes = self.routes if inline is None else inline
        if not routes:
            return NOT_ROUTED
        key = affinity_key(headers, self.key_headers) if self.key_headers else None
        session = self._session(key, body, headers, ctx)
        if session is not None and (key is not None or not is_user_turn(body)):
            pinned = await self._pinned(session, key, ctx)
            if pinned is not None:
                return pinned
        turns = extract_conversation(body)
        if not turns:
            return NOT_ROUTED
        started = time.perf_counter()
        name, backend, failure = await self._pick_route(routes, turns, ctx)
        elapsed = time.perf_counter() - started
        chosen = next((r for r in routes if r.name == name), None)
        models = self.rank(chosen, ctx.latency) if chosen is not None else ()
        ctx.metrics.router_duration.labels(backend).observe(elapsed)
        ctx.metrics.router_decisions.labels(name or "none", models[0] if models else "none", backend).inc()
        switched = False
        if session is not None and models:
            before = ctx.pins.last_model(session)
            switched = before is not None and before != models[0]
            ctx.pins.put(session, model=models[0], route=name, models=models)
        return RoutingResult(name, models, backend, key, router_failure=failure, switched=switched)

    def _session(self, key: str | None, body: dict[str, Any], headers: Mapping[str, str],
                 ctx: RoutingContext) -> str | None:
        """The pin's key: the client's session header, else (with `route_on_user_only`) the conversation's
        start, so that an agent's tool-result turns replay the decision without a session header."""
        if key is not None:
            return ctx.pins.scoped(key, headers)
        if self.route_on_user_only:
            implicit = implicit_key(body)
            return ctx.pins.scoped(implicit, headers) if implicit is not None else None
        return None

    @staticmethod
    async def _pinned(session: str, key: str | None, ctx: RoutingContext) -> RoutingResult | None:
        pin = await ctx.pins.lookup(session)
        ctx.metrics.session_cache.labels("hit" if pin else "miss").inc()
        if pin is None:
            return None
        ctx.metrics.router_decisions.labels(pin.route or "none", pin.model, PINNED).inc()
        return RoutingResult(pin.route, pin.models or (pin.model,), PINNED, key, pinned=True)

    async def _pick_route(self, routes: tuple[Route, ...], turns: list[Turn],
                          ctx: RoutingContext) -> tuple[str | None, str, str | None]:
        """(route, backend, why the router model did not decide): the router model when there is one and the
        request's privacy allows it, else (and whenever it fails) the embedded router."""
        failure: str | None = None
        if self.llm_channel is not None and ctx.may_see is not None and not ctx.may_see(self.llm_channel):
            failure = "withheld_by_privacy_policy"  # the embedded router decides without sending the prompt
        elif self.llm_channel is not None:
            prompt = build_prompt(routes, turns, template=self.template, context_tokens=self.context_tokens)
            answer = await ask_router_model(ctx.pool, self.llm_channel, prompt, timeout=self.timeout)
            if isinstance(answer, RouterFailure):
                failure = answer.kind
            else:
                parsed = parse_answer(answer, (r.name for r in routes))
                if parsed.understood:
                    return parsed.route, LLM, None
                failure = "unreadable_answer"
            LOG.warning("router model %s failed (%s); the embedded router decides", self.llm_channel.name, failure)
        return self.embedded.get(routes).route(turns).route, EMBEDDED, failure

    def rank(self, route: Route, latency: Latency | None = None) -> tuple[str, ...]:
        """The route's models in trial order: `prefer: cheapest` by cost rank, `prefer: fastest` by observed
        latency; models without a number (unknown cost, never measured, not configured) keep their order
        after those with one, and without numbers at all the configured order stands."""
        cost = self.cost
        if route.prefer == "cheapest" and cost is not None:
            return rank(route, cost=lambda m: cost(ch) if (ch := self._resolve(m)) else None)
        if route.prefer == "fastest" and latency is not None:
            return rank(route, latency=lambda m: latency.estimate(ch.model) if (ch := self._resolve(m)) else None)
        return route.models


def load_template(path: str | None) -> str:
    """The router prompt template; a missing or broken file is logged and our own template used."""
    if path is None:
        return DEFAULT_TEMPLATE
    try:
        return check_template(Path(path).expanduser().read_text(encoding="utf-8"))
    except (OSError, TemplateError) as exc:
        LOG.error("routing.router_prompt_file %s: %s; using the built-in router prompt", path, exc)
        return DEFAULT_TEMPLATE
