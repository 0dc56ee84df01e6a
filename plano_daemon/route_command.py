"""`plano-daemon route --config PATH "prompt"`: the routing decision for a prompt, with no LLM call.

The decision is the gateway's own: the Runtime `serve` would build from the config decides through
`RoutingEngine.route`, as /routing/v1/chat/completions does for a chat request holding this one user
message. Only the engine is built with `router_model=False`: the embedded router decides even when a router
model is configured, so the command works offline and needs no keys (`$VAR`s the config references but
the environment lacks are filled with a placeholder, since nothing is sent anywhere). There are no request
headers: no session pin, and the models are the route's, not narrowed by a privacy class.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from plano_daemon.config.envsubst import referenced_vars
from plano_daemon.config.load import decode, load_config, read_limited
from plano_daemon.errors import ConfigError
from plano_daemon.metrics import Metrics
from plano_daemon.routing.affinity import SessionPins
from plano_daemon.routing.conversation import extract_conversation
from plano_daemon.routing.decide import decide
from plano_daemon.routing.embedded import Explained
from plano_daemon.routing.engine import RoutingContext, RoutingEngine, RoutingResult
from plano_daemon.runtime import build_runtime
from plano_daemon.upstream import UpstreamPool

PLACEHOLDER = "unset-not-needed-offline"


def decide_offline(config_path: str, prompt: str, *, env_files: Sequence[str] = (),
                   explain: bool = False) -> dict[str, Any]:
    text = decode(read_limited(config_path), config_path)
    environ = {**dict.fromkeys(referenced_vars(text), PLACEHOLDER), **os.environ}
    loaded = load_config(config_path, env_files=env_files, environ=environ)
    runtime = build_runtime(loaded, router_model=False)
    engine = runtime.routing
    body: dict[str, Any] = {"messages": [{"role": "user", "content": prompt}]}
    turns = extract_conversation(body)
    result = asyncio.run(_route(engine, body))
    default = runtime.catalog.default
    outcome = decide(result.models, requested="", exists=lambda m: False,
                     default=default.model if default else None)
    # The embedded router's scores, read back from the router the engine decided with (diagnostics only).
    router = engine.embedded.get(engine.routes) if engine.routes else None
    scores = {name: round(score, 3) for name, score in router.route(turns).scores} if router else {}
    decision: dict[str, Any] = {"models": list(result.models) or ["none"], "route": result.route,
                                "model": outcome.model, "router": result.router, "scores": scores,
                                "note": "embedded router only: this command never calls the router model"}
    if explain:
        decision["threshold"] = router.threshold if router else None
        decision["explain"] = [explanation(e) for e in router.explain(turns)] if router else []
    return decision


async def _route(engine: RoutingEngine, body: dict[str, Any]) -> RoutingResult:
    """One decision with throwaway per-process parts: the pool is never used (no router model) and the
    pins and metrics die with the command."""
    pool = UpstreamPool(connect_timeout=1.0)
    try:
        return await engine.route(body, {}, RoutingContext(pool, SessionPins(ttl=1, max_entries=1), Metrics()))
    finally:
        await pool.close()


def explanation(explained: Explained) -> dict[str, Any]:
    """One route's score and what it matched, readable: `i:create` is shown as `intent:create`,
    `d:code` as `domain:code`, a stem as `word:<stem>`, each with the prompt's words behind it."""
    matched = []
    for feature, adds in explained.matched:
        base, _, source = feature.partition(" (")
        kind, _, name = base.partition(":") if base[:2] in ("i:", "d:") else ("w", "", base)
        entry: dict[str, Any] = {"feature": f"{_KINDS[kind]}:{name}", "adds": round(adds, 3)}
        if source:
            entry["via"] = source.rstrip(")")
        if base in explained.words:
            entry["words"] = list(explained.words[base])
        matched.append(entry)
    out: dict[str, Any] = {"route": explained.route, "score": round(explained.score, 3), "matched": matched}
    if explained.intent_only:
        out["note"] = "matched none of the route's topics: intent matches count for less"
    return out


_KINDS = {"i": "intent", "d": "domain", "w": "word"}


def route_command(config_path: str, prompt: str, env_files: Sequence[str], *, explain: bool = False) -> int:
    """Exit 0 with the decision JSON on stdout, 2 on a bad config or file."""
    try:
        decision = decide_offline(config_path, prompt, env_files=env_files, explain=explain)
    except ConfigError as exc:
        print(f"invalid config: {config_path}", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{config_path}: cannot read ({exc.strerror or exc})", file=sys.stderr)
        return 2
    print(json.dumps(decision, indent=2))
    return 0
