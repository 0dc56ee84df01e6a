"""Process lifecycle: bind every model listener, then READY=1; SIGHUP reloads; SIGTERM drains and exits 0."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aiohttp import web

from plano_daemon.config.load import LoadedConfig, load_config
from plano_daemon.config.schema import Config
from plano_daemon.errors import ConfigError
from plano_daemon.logs import LOG
from plano_daemon.metrics import status_class
from plano_daemon.runtime import Gateway, build_gateway
from plano_daemon.systemd_notify import Notifier, run_watchdog, watchdog_interval
from plano_daemon.web.app import make_app, make_metrics_app
from plano_daemon.web.protocol import GatewayRunner


@dataclass
class Server:
    """The running gateway: its runners and sites, and how to reload its config."""

    gateway: Gateway
    loader: Callable[[], LoadedConfig]
    notifier: Notifier
    runners: list[web.AppRunner] = field(default_factory=list)
    addresses: list[tuple[str, int]] = field(default_factory=list)

    async def start(self) -> None:
        """Bind every listener; a failure to bind tears down what was bound and raises OSError."""
        cfg = self.gateway.runtime.config
        drain = cfg.dubnium.drain_seconds
        metrics_cfg = cfg.dubnium.metrics
        self.gateway.services.start()
        try:
            for listener in cfg.listeners:
                if listener.type != "model":
                    continue
                app = make_app(self.gateway, listener_timeout=listener.timeout,
                               serve_metrics=metrics_cfg.enabled and metrics_cfg.listen is None)
                await self._bind(app, listener.address, listener.port, drain)
            if metrics_cfg.enabled and metrics_cfg.listen:
                host, _, port = metrics_cfg.listen.rpartition(":")
                await self._bind(make_metrics_app(self.gateway), host or "127.0.0.1", int(port), 1.0)
        except OSError:
            await self.stop()
            raise

    async def _bind(self, app: web.Application, host: str, port: int, drain: float) -> None:
        requests = self.gateway.services.metrics.requests

        def refused(status: int) -> None:
            requests.labels("none", "OTHER", status_class(status)).inc()

        runner = GatewayRunner(app, headers_timeout=self.gateway.runtime.config.dubnium.timeouts.request_headers,
                               on_refused=refused, handler_cancellation=True, access_log=None,
                               shutdown_timeout=drain)
        await runner.setup()
        self.runners.append(runner)
        site = web.TCPSite(runner, host, port, reuse_address=True)
        await site.start()
        self.addresses.append((host, site.port))  # the real port when 0 was asked for

    def status_line(self) -> str:
        listening = ", ".join(f"{h}:{p}" for h, p in self.addresses)
        return f"listening on {listening}; {len(self.gateway.runtime.catalog.channels)} providers"

    def reload(self) -> bool:
        """Re-read config and env files; a bad config is rejected and the old one keeps serving.

        Runs as a signal callback: anything it raised would reach asyncio's handler, which logs a traceback
        and the bound method's repr. So every failure ends here, as one log line naming no value, followed by
        READY=1 (systemd would otherwise leave the unit "reloading")."""
        self.notifier.reloading()
        metrics = self.gateway.services.metrics
        try:
            loaded = self.loader()
            changed = restart_only_changes(self.gateway.runtime.config, loaded.config)
            self.gateway.swap(loaded)
        except ConfigError as exc:
            return self._rejected("; ".join(exc.problems))
        except Exception as exc:  # a bug of ours: its type is enough here, its message may quote input
            return self._rejected(f"unexpected {type(exc).__name__} while loading")
        if changed:
            LOG.warning("reload: %s changed; the change takes effect on restart", ", ".join(changed))
        for warning in loaded.warnings:
            LOG.warning("%s", warning)
        # The replaced configuration was frozen with the rest of the start-up heap (`run`), where a cycle
        # would never be collected: back into the collector's generations with everything else.
        gc.unfreeze()
        metrics.config_reloads.labels("applied").inc()
        LOG.info("reload: configuration applied")
        self.notifier.ready(self.status_line())
        return True

    def _rejected(self, why: str) -> bool:
        LOG.error("reload rejected, serving the previous config: %s", why)
        self.gateway.services.metrics.config_reloads.labels("rejected").inc()
        self.notifier.ready(f"reload rejected, serving the previous config; {self.status_line()}")
        return False

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish up to the drain deadline, close upstreams."""
        self.gateway.draining = True
        # Together: every listener stops accepting at once and they drain in parallel, so the drain takes
        # drain_seconds, not one drain_seconds per listener while the others still take new requests.
        runners, self.runners = self.runners, []
        await asyncio.gather(*(runner.cleanup() for runner in reversed(runners)))
        await self.gateway.services.close()


def restart_only_changes(old: Config, new: Config) -> list[str]:
    """Settings bound when the listeners started (sockets, body limit, deadlines, drain, metrics listener,
    ledger writer, response store, tracing exporter): a reload leaves them as they were, so say which of them
    the new file changes."""
    pairs = {"listeners": (old.listeners, new.listeners), "state_storage": (old.state_storage, new.state_storage),
             "tracing": (old.tracing, new.tracing),
             "routing.session_cache": (old.routing.session_cache, new.routing.session_cache),
             **{f"dubnium.{name}": (getattr(old.dubnium, name), getattr(new.dubnium, name))
                for name in ("max_body_bytes", "drain_seconds", "metrics", "ledger", "shared_state")},
             "dubnium.timeouts.request_headers": (old.dubnium.timeouts.request_headers,
                                                  new.dubnium.timeouts.request_headers)}
    return [where for where, (before, after) in pairs.items() if before != after]


async def run(loaded: LoadedConfig, *, config_path: str | None, env_files: Sequence[str],
              notifier: Notifier | None = None, default_text: str | None = None) -> int:
    """Serve until SIGTERM/SIGINT; returns the process exit code."""
    notifier = notifier or Notifier()

    def loader() -> LoadedConfig:
        return load_config(config_path, env_files=env_files, text=default_text if config_path is None else None)

    server = Server(gateway=build_gateway(loaded), loader=loader, notifier=notifier)
    try:
        await server.start()
    except OSError as exc:
        LOG.error("cannot bind a listener: %s", exc)
        return 1
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, server.reload)
    # Handlers first: once READY=1 is out, systemd may send SIGHUP at once, and its default action kills.
    LOG.info("%s", server.status_line())
    notifier.ready(server.status_line())
    # Off while starting (cli._serve). What start-up made and keeps (≈ 56 k objects: modules, config, routers)
    # is frozen once its garbage is gone (one collection, ≈ 20–50 ms, right after READY=1): no collection
    # traverses it again, where each that did paused the loop as long (the first after start, and every
    # full one after it).
    gc.collect()
    gc.freeze()
    gc.enable()
    interval = watchdog_interval()
    watchdog = asyncio.create_task(run_watchdog(notifier, interval)) if interval else None
    try:
        await stop.wait()
    finally:
        notifier.stopping()
        LOG.info("stopping: draining in-flight requests")
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        await server.stop()
        if watchdog is not None:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
    LOG.info("stopped")
    return 0
