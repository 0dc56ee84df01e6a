"""The embedded router: picks a route in-process, with no model and no network (SPEC §4.2).

Each route becomes a weighted bag of features (stems and concepts, see `vocabulary`) from its name,
description and optional examples. A prompt is scored against every bag; features that many routes
share count for little (inverse route frequency), so "write" says little when both a code route and
a docs route mention writing, and "README" decides. Below `threshold` nothing is chosen: a router
that guesses sends requests to models nobody asked for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from plano_daemon.routing.conversation import Turn
from plano_daemon.routing.routes import Route
from plano_daemon.routing.vocabulary import content_words, features

NAME_WEIGHT = 1.5
DESCRIPTION_WEIGHT = 1.0
EXAMPLE_WEIGHT = 0.8
#: Earlier user turns still hint at the task ("and now the tests for it"), but less than the latest.
CONTEXT_WEIGHT = 0.3
CONTEXT_TURNS = 3
#: Only the head and tail of a huge message are read: that is where people state what they want.
HEAD_CHARS = 600
TAIL_CHARS = 200
CONTEXT_CHARS = 200
#: A prompt this short, with no code or error in it, is a quick question or small talk.
SHORT_PROMPT_WORDS = 4
#: The first content words of a prompt usually say what kind of task it is.
LEAD_WORDS = 3
LEAD_WEIGHT = 1.6
DEFAULT_THRESHOLD = 0.9
_TASK_CONCEPTS = ("c:code", "c:lang", "c:error", "c:docs", "c:web", "c:test")


@dataclass(frozen=True, slots=True)
class Scored:
    route: str | None
    score: float
    scores: tuple[tuple[str, float], ...]  # every route's score, declaration order (for debugging)


class EmbeddedRouter:
    """Built once per route set (cheap per decision); `route` is pure and deterministic."""

    __slots__ = ("_names", "_profiles", "_threshold")

    def __init__(self, routes: Sequence[Route], *, threshold: float = DEFAULT_THRESHOLD) -> None:
        self._names = tuple(r.name for r in routes)
        self._threshold = threshold
        bags = [_route_bag(r) for r in routes]
        count = len(bags)
        df: dict[str, int] = {}
        for bag in bags:
            for f in bag:
                df[f] = df.get(f, 0) + 1
        idf = {f: math.log(1.0 + count / n) for f, n in df.items()}
        sizes = [sum(bag.values()) for bag in bags]
        mean = sum(sizes) / count if count else 1.0
        self._profiles: tuple[dict[str, float], ...] = tuple(
            {f: w * idf[f] / (0.6 + 0.4 * size / mean) for f, w in bag.items()}
            for bag, size in zip(bags, sizes, strict=True))

    def route(self, turns: Sequence[Turn]) -> Scored:
        query = _query(turns)
        scores = tuple(
            (name, sum(w * profile.get(f, 0.0) for f, w in query.items()))
            for name, profile in zip(self._names, self._profiles, strict=True))
        best_name, best = None, 0.0
        for name, score in scores:
            if score > best:
                best_name, best = name, score
        if best < self._threshold:
            best_name = None
        return Scored(best_name, best, scores)


@lru_cache(maxsize=64)
def router_for(routes: tuple[Route, ...]) -> EmbeddedRouter:
    """Routers for recently seen route sets: the configured one, and inline sets clients repeat."""
    return EmbeddedRouter(routes)


def _route_bag(route: Route) -> dict[str, float]:
    bag: dict[str, float] = {}
    sources = [(route.name.replace("_", " ").replace("-", " "), NAME_WEIGHT),
               (route.description, DESCRIPTION_WEIGHT)]
    sources += [(example, EXAMPLE_WEIGHT) for example in route.examples]
    for text, weight in sources:
        for f, w in features(text).items():
            bag[f] = max(bag.get(f, 0.0), w * weight)
    return bag


def _query(turns: Sequence[Turn]) -> dict[str, float]:
    users = [t.content for t in turns if t.role == "user"]
    if not users:
        return {}
    latest = _clip(users[-1])
    query = features(latest, lead=LEAD_WORDS, lead_weight=LEAD_WEIGHT)
    if content_words(latest) <= SHORT_PROMPT_WORDS and not any(c in query for c in _TASK_CONCEPTS):
        query["c:simple"] = 1.0
    for earlier in users[-1 - CONTEXT_TURNS:-1]:
        for f, w in features(earlier[:CONTEXT_CHARS]).items():
            if f not in query:
                query[f] = max(query.get(f, 0.0), w * CONTEXT_WEIGHT)
    return query


def _clip(text: str) -> str:
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return text[:HEAD_CHARS] + "\n" + text[-TAIL_CHARS:]
