"""SPEC §4.3: from a route (or none) and the requested model to the model that is tried first.

Route found → its models, reordered by `selection_policy`, first one used (the request's own model is
replaced). No route → the requested model if it resolves, else the `default: true` provider.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from plano_daemon.routing.routes import Route

#: A model's cost or latency estimate; None when unknown (unknown models keep their place, last).
Estimate = Callable[[str], float | None]


@dataclass(frozen=True, slots=True)
class Decision:
    model: str | None  # None: nothing serves the request (the caller answers 404)
    ranked: tuple[str, ...]  # the route's models in the order they should be tried
    reason: str  # routed | requested | default | unresolved


def rank(route: Route, *, cost: Estimate | None = None, latency: Estimate | None = None) -> tuple[str, ...]:
    """The route's models in trial order; `prefer: cheapest|fastest` sorts by the estimate, stably."""
    estimate = cost if route.prefer == "cheapest" else latency if route.prefer == "fastest" else None
    if estimate is None:
        return route.models
    estimates = [(estimate(m), i, m) for i, m in enumerate(route.models)]
    known = sorted((e, i, m) for e, i, m in estimates if e is not None)
    return tuple(m for _, _, m in known) + tuple(m for e, _, m in estimates if e is None)


def decide(ranked: Sequence[str], *, requested: str, exists: Callable[[str], bool],
           default: str | None) -> Decision:
    if ranked:
        return Decision(ranked[0], tuple(ranked), "routed")
    if exists(requested):
        return Decision(requested, (), "requested")
    if default is not None:
        return Decision(default, (), "default")
    return Decision(None, (), "unresolved")
