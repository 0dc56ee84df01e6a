"""Which routes apply to a request: the configured `routing_preferences`, or the request's own.

A request may carry inline preferences (Plano 0.4.15+ `routing_preferences`, or the 0.4.12
`routing_policy` form); they replace the configured set for that request only, and are removed from
the body so no upstream ever sees them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from plano_daemon.errors import BadRequest

if TYPE_CHECKING:
    from plano_daemon.config.schema import RoutingPreference

INLINE_KEYS = ("routing_preferences", "routing_policy")


@dataclass(frozen=True, slots=True)
class Route:
    """One routing preference, as every router backend and the decision rules see it."""

    name: str
    description: str
    models: tuple[str, ...]
    prefer: str = "none"  # selection_policy.prefer: cheapest | fastest | none
    examples: tuple[str, ...] = ()


def routes_from_config(prefs: Iterable[RoutingPreference]) -> tuple[Route, ...]:
    return tuple(
        Route(name=p.name, description=p.description, models=tuple(p.models),
              prefer=p.selection_policy.prefer if p.selection_policy else "none",
              examples=tuple(p.examples))
        for p in prefs)


def has_inline_routes(body: Mapping[str, Any]) -> bool:
    """The request carries its own routing fields (`routing_preferences` or `routing_policy`)."""
    return any(key in body for key in INLINE_KEYS)


def pop_inline_routes(body: dict[str, Any]) -> tuple[Route, ...] | None:
    """Remove inline routing fields from `body`; their routes, or None when the request had none.

    Malformed inline preferences are the client's mistake (400), not a reason to route silently
    with the configured set.
    """
    if not has_inline_routes(body):
        return None
    prefs = body.pop("routing_preferences", None)
    policy = body.pop("routing_policy", None)
    if prefs is not None:
        return _from_preferences(prefs)
    return _from_policy(policy)


def _from_preferences(prefs: Any) -> tuple[Route, ...]:
    if not isinstance(prefs, list):
        raise BadRequest("routing_preferences must be a list of {name, description, models}")
    routes: list[Route] = []
    for i, pref in enumerate(prefs):
        name, description = _name_and_description(pref, f"routing_preferences[{i}]")
        models = pref.get("models")
        if isinstance(models, str):
            models = [models]
        if not isinstance(models, list) or not models or not all(isinstance(m, str) for m in models):
            raise BadRequest(f"routing_preferences[{i}].models must be a non-empty list of model names")
        policy = pref.get("selection_policy")
        prefer = policy.get("prefer", "none") if isinstance(policy, dict) else "none"
        if prefer not in ("cheapest", "fastest", "none"):
            raise BadRequest(f"routing_preferences[{i}].selection_policy.prefer must be "
                             "cheapest, fastest or none")
        examples = pref.get("examples") or []
        routes.append(Route(name, description, tuple(models), prefer,
                            tuple(e for e in examples if isinstance(e, str))))
    return _merged(routes)


def _from_policy(policy: Any) -> tuple[Route, ...]:
    if not isinstance(policy, list):
        raise BadRequest("routing_policy must be a list of {model, routing_preferences}")
    routes: list[Route] = []
    for i, entry in enumerate(policy):
        if not isinstance(entry, dict) or not isinstance(entry.get("model"), str):
            raise BadRequest(f"routing_policy[{i}].model must be a model name")
        prefs = entry.get("routing_preferences") or []
        if not isinstance(prefs, list):
            raise BadRequest(f"routing_policy[{i}].routing_preferences must be a list")
        for j, pref in enumerate(prefs):
            name, description = _name_and_description(pref, f"routing_policy[{i}].routing_preferences[{j}]")
            routes.append(Route(name, description, (entry["model"],)))
    return _merged(routes)


def _name_and_description(pref: Any, where: str) -> tuple[str, str]:
    if not isinstance(pref, dict) or not isinstance(pref.get("name"), str) or not pref["name"]:
        raise BadRequest(f"{where}.name must be a non-empty string")
    description = pref.get("description", "")
    if not isinstance(description, str):
        raise BadRequest(f"{where}.description must be a string")
    return pref["name"], description


def _merged(routes: list[Route]) -> tuple[Route, ...]:
    """Routes sharing a name become one, models in declaration order (as config migration does)."""
    by_name: dict[str, Route] = {}
    for route in routes:
        seen = by_name.get(route.name)
        if seen is None:
            by_name[route.name] = route
        else:
            extra = tuple(m for m in route.models if m not in seen.models)
            by_name[route.name] = Route(seen.name, seen.description, seen.models + extra,
                                        seen.prefer, seen.examples + route.examples)
    return tuple(by_name.values())
