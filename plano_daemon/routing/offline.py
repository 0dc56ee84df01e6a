"""`plano-daemon route --config PATH "prompt"`: the routing decision for a prompt, with no LLM call.

Only the embedded router runs (the router model is never called, even when configured), so the
command works offline and needs no keys: `$VAR`s the config references but the environment lacks
are filled with a placeholder, since nothing is sent anywhere.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from plano_daemon.catalog import Catalog
from plano_daemon.config.envsubst import referenced_vars
from plano_daemon.config.load import decode, load_config, read_limited
from plano_daemon.errors import ConfigError
from plano_daemon.policy.eligibility import Policy
from plano_daemon.routing.conversation import Turn
from plano_daemon.routing.decide import decide
from plano_daemon.routing.embedded import EmbeddedRouter, Explained
from plano_daemon.routing.engine import RoutingEngine
from plano_daemon.routing.routes import routes_from_config

PLACEHOLDER = "unset-not-needed-offline"


def decide_offline(config_path: str, prompt: str, *, env_files: Sequence[str] = (),
                   explain: bool = False) -> dict[str, Any]:
    text = decode(read_limited(config_path), config_path)
    environ = {**dict.fromkeys(referenced_vars(text), PLACEHOLDER), **os.environ}
    loaded = load_config(config_path, env_files=env_files, environ=environ)
    cfg = loaded.config
    routes = routes_from_config(cfg.routing_preferences)
    catalog = Catalog(cfg)
    policy = Policy(loaded.profile, catalog) if loaded.profile is not None else None
    engine = RoutingEngine(cfg, catalog, cost=policy.cost_rank if policy is not None else None)
    explained: list[dict[str, Any]] = []
    if not routes:
        scored_route, scores = None, {}
    else:
        router = EmbeddedRouter(routes)
        scored = router.route([Turn("user", prompt)])
        scored_route, scores = scored.route, {name: round(score, 3) for name, score in scored.scores}
        if explain:
            explained = [explanation(e) for e in router.explain([Turn("user", prompt)])]
    chosen = next((r for r in routes if r.name == scored_route), None)
    ranked = engine.rank(chosen) if chosen is not None else ()  # as the gateway ranks (no latency offline)
    default = catalog.default
    outcome = decide(ranked, requested="", exists=lambda m: False, default=default.model if default else None)
    decision: dict[str, Any] = {"models": list(ranked) or ["none"], "route": scored_route, "model": outcome.model,
                "router": "embedded" if routes else "none", "scores": scores,
                "note": "embedded router only: this command never calls the router model"}
    if explain:
        decision["threshold"] = router.threshold if routes else None
        decision["explain"] = explained
    return decision


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
