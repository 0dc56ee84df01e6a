"""What a running gateway holds: `Runtime` (built from one config, replaced whole on reload) and
`Services` (long-lived: connection pool, metrics, caches), reached through one `Gateway`.

A request reads `gateway.runtime` once at its start, so a reload never changes the config under it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from plano_daemon.accounting import AccountingQueue
from plano_daemon.catalog import Catalog, Channel
from plano_daemon.config.load import LoadedConfig
from plano_daemon.config.schema import Config
from plano_daemon.context_windows import ContextWindows
from plano_daemon.failover import Blocks, Health, Latency
from plano_daemon.ledger import LedgerWriter
from plano_daemon.logs import LOG
from plano_daemon.metrics import Metrics
from plano_daemon.policy.budgets import FILE_NAME as BUDGETS_FILE
from plano_daemon.policy.budgets import Budgets, BudgetStore
from plano_daemon.policy.eligibility import Policy
from plano_daemon.policy.ratelimits import RateLimits
from plano_daemon.routing.affinity import SessionPins, key_headers
from plano_daemon.routing.engine import RoutingContext, RoutingEngine
from plano_daemon.shared.store import SharedSettings, SharedState
from plano_daemon.state_store import Conversations, build_conversations
from plano_daemon.tracing import Tracing, build_tracing
from plano_daemon.upstream import UpstreamPool


@dataclass(frozen=True, slots=True)
class Timeouts:
    first_byte: float
    stream_idle: float


@dataclass(slots=True)
class Runtime:
    loaded: LoadedConfig
    catalog: Catalog
    timeouts: Timeouts
    routing: RoutingEngine
    #: The model-router profile applied to this catalog (None: no privacy filtering) and the budget caps.
    policy: Policy | None = None
    budgets: Budgets | None = None
    ratelimits: RateLimits | None = None

    @property
    def config(self) -> Config:
        return self.loaded.config


def build_runtime(loaded: LoadedConfig, *, router_model: bool = True) -> Runtime:
    """`router_model=False`: routing never calls the configured router model (`plano-daemon route`)."""
    cfg = loaded.config
    catalog = Catalog(cfg)
    profile = loaded.profile
    policy = Policy(profile, catalog) if profile is not None else None
    keys = (key_headers(profile.affinity.key_sources, enabled=profile.affinity.enabled) if profile is not None
            else key_headers(None))
    return Runtime(
        loaded=loaded,
        catalog=catalog,
        timeouts=Timeouts(first_byte=cfg.dubnium.timeouts.first_byte,
                          stream_idle=cfg.dubnium.timeouts.stream_idle),
        routing=RoutingEngine(cfg, catalog, key_headers=keys, cost=policy.cost_rank if policy is not None else None,
                              router_model=router_model),
        policy=policy,
        budgets=Budgets(cfg.dubnium.budgets, catalog),
        ratelimits=RateLimits(cfg.ratelimits or [], catalog),
    )


def state_dir() -> Path:
    """$STATE_DIRECTORY under systemd, else a per-user default when run by hand."""
    env = os.environ.get("STATE_DIRECTORY")
    if env:
        return Path(env.split(":")[0])
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "plano"


@dataclass(slots=True)
class Services:
    metrics: Metrics
    pool: UpstreamPool
    #: Failover state shared by all requests (Retry-After blocks, passive health), kept across reloads.
    blocks: Blocks = field(default_factory=Blocks)
    health: Health = field(default_factory=Health)
    #: Observed upstream latency per channel (`prefer: fastest`), fed by every successful attempt.
    latency: Latency = field(default_factory=Latency)
    #: Session pins (routing) and the route-decision ledger, kept across reloads.
    pins: SessionPins = field(default_factory=lambda: SessionPins(ttl=600, max_entries=10000))
    ledger: LedgerWriter | None = None
    #: Today's budget counts, persisted in the state directory and kept across reloads.
    budgets: BudgetStore | None = None
    #: `state_storage`: stored Responses for `previous_response_id` (None: not configured).
    conversations: Conversations | None = None
    #: `tracing`: the OpenTelemetry exporter (None: not configured).
    tracing: Tracing | None = None
    #: Upstream models' context windows learned from their model lists, kept across reloads.
    windows: ContextWindows = field(default_factory=ContextWindows)
    #: What several instances share through Redis (pins, budgets, blocks, cool-downs, rate limits).
    shared: SharedState | None = None
    #: Finished requests whose metrics, access line and ledger record are not yet done (a batch every 2 ms).
    accounting: AccountingQueue = field(default_factory=AccountingQueue)

    def routing_context(self, may_see: Callable[[Channel], bool] | None) -> RoutingContext:
        """What one routing decision uses; `may_see` is the request's privacy check (None: no profile)."""
        return RoutingContext(self.pool, self.pins, self.metrics, self.latency, may_see=may_see)

    def start(self) -> None:
        """Background work that lives as long as the services: the ledger's flush, the Redis connection
        (in the background: requests never wait for Redis)."""
        if self.ledger is not None:
            self.ledger.start()
        if self.shared is not None:
            self.shared.start(self.pins.shared_entries)

    async def close(self) -> None:
        """Flush and close everything at once; one part failing neither stops nor hides the others. The
        upstream pool closes last (nothing above sends through it by then)."""
        self.accounting.drain()
        if self.budgets is not None:
            self.budgets.close()
        parts = [part for part in (self.shared, self.ledger, self.conversations, self.tracing) if part is not None]
        results = await asyncio.gather(*(part.close() for part in parts), return_exceptions=True)
        for part, result in zip(parts, results, strict=True):
            if isinstance(result, Exception):
                LOG.error("closing %s failed: %s: %s", type(part).__name__, type(result).__name__, result)
        await self.pool.close()


def build_services(loaded: LoadedConfig) -> Services:
    metrics = Metrics()
    services = Services(metrics=metrics,
                        pool=UpstreamPool(connect_timeout=loaded.config.overrides.upstream_connect_timeout),
                        health=Health(loaded.config.dubnium.health),
                        pins=SessionPins(ttl=loaded.config.routing.session_ttl_seconds,
                                         max_entries=loaded.config.routing.session_max_entries),
                        ledger=(LedgerWriter.from_settings(loaded.config.dubnium.ledger, state_dir(),
                                                           on_drop=metrics.ledger_dropped.inc)
                                if loaded.config.dubnium.ledger.enabled else None),
                        budgets=BudgetStore(state_dir() / BUDGETS_FILE),
                        conversations=build_conversations(loaded.config.state_storage),
                        tracing=build_tracing(loaded.config.tracing))
    settings = SharedSettings.from_config(loaded.config)
    shared = services.shared = SharedState(settings, metrics=services.metrics, blocks=services.blocks,
                                           health=services.health)
    services.pins.tenant_header = settings.tenant_header
    if shared.pins_shared:
        services.pins.shared = shared
    if shared.enabled and services.budgets is not None:
        services.budgets.shared = shared
        services.budgets.fail_closed = settings.budgets_fail_closed
    return services


@dataclass(slots=True)
class Gateway:
    services: Services
    runtime: Runtime
    draining: bool = field(default=False)

    def swap(self, loaded: LoadedConfig) -> None:
        """Install a new config; in-flight requests keep the Runtime they started with. The Runtime is built
        first, so a config it cannot be built from changes nothing."""
        runtime = build_runtime(loaded)
        self.services.pool.set_connect_timeout(loaded.config.overrides.upstream_connect_timeout)
        self.services.health.configure(loaded.config.dubnium.health)
        self.services.pins.configure(ttl=loaded.config.routing.session_ttl_seconds,
                                     max_entries=loaded.config.routing.session_max_entries)
        self.runtime = runtime
        self.publish_budget_usage()

    def publish_budget_usage(self) -> None:
        """Set `plano_budget_usage` from the persisted counts for this config's caps. Called at start (the
        counts outlive a restart), after a reload (caps come and go) and on each scrape (a new day reads 0
        even before its first request); between scrapes the proxy updates the gauge as it counts."""
        gauge = self.services.metrics.budget_usage
        gauge.clear()
        store, budgets = self.services.budgets, self.runtime.budgets
        if store is None or not budgets:
            return
        for target, kind, total in budgets.rows(store.today()):
            gauge.labels(target, kind).set(total)


def build_gateway(loaded: LoadedConfig) -> Gateway:
    services = build_services(loaded)
    gateway = Gateway(services=services, runtime=build_runtime(loaded))
    gateway.publish_budget_usage()
    return gateway
