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
from plano_daemon.routing.vocabulary import analyse, features

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

    __slots__ = ("_names", "_postings", "_threshold")

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
        # Inverted: feature → (route index, weight) for the routes that have it, so a decision looks
        # each query feature up once instead of once per route.
        postings: dict[str, list[tuple[int, float]]] = {}
        for i, (bag, size) in enumerate(zip(bags, sizes, strict=True)):
            for f, w in bag.items():
                postings.setdefault(f, []).append((i, w * idf[f] / (0.6 + 0.4 * size / mean)))
        self._postings = {f: tuple(p) for f, p in postings.items()}

    def route(self, turns: Sequence[Turn]) -> Scored:
        sums = [0.0] * len(self._names)
        postings = self._postings
        for f, w in _query(turns).items():
            for i, weight in postings.get(f, ()):
                sums[i] += w * weight
        best_name, best = None, 0.0
        for name, score in zip(self._names, sums, strict=True):
            if score > best:
                best_name, best = name, score
        if best < self._threshold:
            best_name = None
        return Scored(best_name, best, tuple(zip(self._names, sums, strict=True)))


@lru_cache(maxsize=64)
def _router_for(routes: tuple[Route, ...]) -> EmbeddedRouter:
    return EmbeddedRouter(routes)


_last: tuple[tuple[Route, ...], EmbeddedRouter] | None = None


def router_for(routes: tuple[Route, ...]) -> EmbeddedRouter:
    """Routers for recently seen route sets: the configured one, and inline sets clients repeat.

    The configured set is the same tuple on every request, so it is recognised by identity before
    the cache hashes every route's fields.
    """
    global _last
    last = _last
    if last is not None and last[0] is routes:
        return last[1]
    router = _router_for(routes)
    _last = (routes, router)
    return router


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
    """The latest user turn's features, plus those only earlier user turns have (weighed down).

    Walks back from the end and stops after `CONTEXT_TURNS` earlier user turns: an agent's
    conversation can hold hundreds of messages, and only the last few say what it wants now.
    Read-only: without earlier turns it is the cached dict of `_latest_query`.
    """
    users: list[str] = []
    for turn in reversed(turns):
        if turn.role == "user":
            users.append(turn.content)
            if len(users) > CONTEXT_TURNS:
                break
    if not users:
        return {}
    query = _latest_query(_clip(users[0]))
    if len(users) == 1:
        return query
    query = dict(query)
    for earlier in reversed(users[1:]):  # oldest first: the first turn to name a feature sets it
        for f, w in _context_features(earlier[:CONTEXT_CHARS]).items():
            query.setdefault(f, w * CONTEXT_WEIGHT)
    return query


#: An agent loop re-sends the same last user message with every tool round trip (tool traffic is
#: not part of the conversation the router sees), so the features of recent texts are kept; the
#: texts are clipped, so the caches stay small. Callers must not modify the dicts.
_TEXT_CACHE = 512


@lru_cache(maxsize=_TEXT_CACHE)
def _latest_query(text: str) -> dict[str, float]:
    query, words = analyse(text, lead=LEAD_WORDS, lead_weight=LEAD_WEIGHT)
    if words <= SHORT_PROMPT_WORDS and not any(c in query for c in _TASK_CONCEPTS):
        query["c:simple"] = 1.0
    return query


@lru_cache(maxsize=_TEXT_CACHE)
def _context_features(text: str) -> dict[str, float]:
    return features(text)


def _clip(text: str) -> str:
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return text[:HEAD_CHARS] + "\n" + text[-TAIL_CHARS:]
