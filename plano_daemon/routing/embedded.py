"""The embedded router: picks a route in-process, with no model and no network (SPEC §4.2).

Each route becomes a weighted bag of features (stems, intents and domains, see `vocabulary`) from
its name, description and `examples`. A prompt is scored against every bag; features that many
routes share count for little (inverse route frequency), so "write" says little when both a code
route and a docs route mention writing, and "README" decides.

A route that is about something (its bag has topic features: literal words, domains) needs the
prompt to share one of them; matching only on intent ("write", "explain") counts `INTENT_ONLY` of
its score, so "write a birthday message" does not go to a code-writing route. Below `threshold`
nothing is chosen: a router that guesses sends requests to models nobody asked for.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from plano_daemon.routing.conversation import Turn
from plano_daemon.routing.routes import Route
from plano_daemon.routing.vocabulary import (
    WORD_CONCEPTS,
    analyse,
    cues,
    features,
    is_topic,
)

NAME_WEIGHT = 1.5
DESCRIPTION_WEIGHT = 1.0
#: Examples are how a user teaches the router their own words: a route adds its best-matching
#: example's score, weighed by this, to its description's.
EXAMPLE_WEIGHT = 0.8
#: When several routes share a domain (three code routes), which of the domain's words each
#: description happens to use ("functions" here, "code" there) says little about which route fits:
#: such words count this much of their own weight.
SHARED_DOMAIN_WORD = 0.7
#: Share of a route's score kept when the prompt matched only its intents, none of its topics.
INTENT_ONLY = 0.3
#: Share of a route's bag (by weight) that must be topical for the route to be held to its topics.
TOPIC_SHARE = 0.5
#: Earlier user turns still hint at the task ("and now the tests for it"), but less than the latest.
CONTEXT_WEIGHT = 0.3
CONTEXT_TURNS = 3
#: Only the head and tail of a huge message are read: that is where people state what they want.
HEAD_CHARS = 600
TAIL_CHARS = 200
CONTEXT_CHARS = 200
#: A prompt this short, about no domain, is a quick question or small talk.
SHORT_PROMPT_WORDS = 4
#: The first content words of a prompt usually say what kind of task it is.
LEAD_WORDS = 3
LEAD_WEIGHT = 1.6
#: Midway between the best no-match score and the lowest right-route score on the tuning sets.
DEFAULT_THRESHOLD = 0.85


@dataclass(frozen=True, slots=True)
class Scored:
    route: str | None
    score: float
    scores: tuple[tuple[str, float], ...]  # every route's score, declaration order (for debugging)


@dataclass(frozen=True, slots=True)
class Explained:
    """Why a route scored what it did: each shared feature and what it added (`route --explain`)."""

    route: str
    score: float
    intent_only: bool  # matched none of the route's topics, so its score was cut to INTENT_ONLY
    matched: tuple[tuple[str, float], ...]  # (feature, contribution), largest first
    words: dict[str, tuple[str, ...]]  # feature → the latest message's words that cue it (if any)


class EmbeddedRouter:
    """Built once per route set (cheap per decision); `route` is pure and deterministic.

    Scoring targets are each route's description (name and description) and each of its examples;
    a route scores its description's match plus its best example's match (nearest neighbour: one
    example that reads like the prompt says more than words scattered over many examples).
    """

    __slots__ = ("_has_topic", "_names", "_owner", "_postings", "_threshold")

    def __init__(self, routes: Sequence[Route], *, threshold: float = DEFAULT_THRESHOLD) -> None:
        self._names = tuple(r.name for r in routes)
        self._threshold = threshold
        count = len(routes)
        descriptions = [_description_bag(r) for r in routes]
        examples = [(i, features(e)) for i, r in enumerate(routes) for e in r.examples]
        self._owner = tuple(range(count)) + tuple(i for i, _ in examples)
        # Descriptions and examples are weighed apart: what sets routes apart in their descriptions
        # must not change because many routes' examples mention code.
        desc_idf, desc_topical = _spread(count, [set(bag) for bag in descriptions])
        shared_domains = {f for f, v in desc_idf.items() if f.startswith("d:") and v <= math.log(1.0 + count / 2)}
        taught = [set[str]() for _ in routes]
        for i, ex in examples:
            taught[i].update(ex)
        ex_idf, ex_topical = _spread(count, taught)
        # Only a route that is mostly about something, and whose domain the thesaurus knows, is held
        # to its topics: "analyzing data, complex reasoning, evaluating tradeoffs…" is about a kind of
        # work, and an unknown word in a description may as well be an intent word the table lacks.
        self._has_topic = tuple(
            any(f in desc_topical and f.startswith("d:") for f in bag)
            and sum(w for f, w in bag.items() if f in desc_topical) >= TOPIC_SHARE * sum(bag.values())
            for bag in descriptions)
        # Inverted: feature → (target index, weight, is a topic) for the targets that have it, so a
        # decision looks each query feature up once instead of once per target. Longer texts match
        # more by chance, so weights shrink with a text's size relative to its kind's mean.
        postings: dict[str, list[tuple[int, float, bool]]] = {}
        for first, bags, scale, idf, topical in (
                (0, descriptions, 1.0, desc_idf, desc_topical),
                (count, [ex for _, ex in examples], EXAMPLE_WEIGHT, ex_idf, ex_topical)):
            sizes = [sum(bag.values()) for bag in bags]
            mean = sum(sizes) / len(sizes) if sizes else 1.0
            for k, (bag, size) in enumerate(zip(bags, sizes, strict=True)):
                norm = scale / (0.6 + 0.4 * size / mean)
                for f, w in bag.items():
                    w *= SHARED_DOMAIN_WORD if shared_domains & WORD_CONCEPTS.get(f, frozenset()) else 1.0
                    postings.setdefault(f, []).append((first + k, w * idf[f] * norm, f in topical))
        self._postings = {f: tuple(p) for f, p in postings.items()}

    def route(self, turns: Sequence[Turn]) -> Scored:
        sums = self._route_scores(self._target_scores(_query(turns)))
        best_name, best = None, 0.0
        for name, score in zip(self._names, sums, strict=True):
            if score > best:
                best_name, best = name, score
        if best < self._threshold:
            best_name = None
        return Scored(best_name, best, tuple(zip(self._names, sums, strict=True)))

    def _target_scores(self, query: dict[str, float]) -> list[float]:
        owner = self._owner
        topic = [0.0] * len(owner)
        intent = [0.0] * len(owner)
        postings = self._postings
        for f, w in query.items():
            for i, weight, is_topic_ in postings.get(f, ()):
                if is_topic_:
                    topic[i] += w * weight
                else:
                    intent[i] += w * weight
        has_topic = self._has_topic
        return [t + (s * INTENT_ONLY if not t and has_topic[owner[i]] else s)
                for i, (t, s) in enumerate(zip(topic, intent, strict=True))]

    def _route_scores(self, targets: list[float]) -> list[float]:
        count = len(self._names)
        if len(targets) == count:
            return targets
        best_example = [0.0] * count
        for i in range(count, len(targets)):
            route = self._owner[i]
            best_example[route] = max(best_example[route], targets[i])
        return [d + e for d, e in zip(targets, best_example, strict=False)]

    def explain(self, turns: Sequence[Turn]) -> list[Explained]:
        """Every route's score and the features behind it, best route first (slow path, for people).

        Contributions add up to the score: the description's matches, then the best example's, shown
        as `feature (example N)`; a cut route's intent matches are shown cut.
        """
        query = _query(turns)
        count = len(self._names)
        per_target: list[list[tuple[str, float, bool]]] = [[] for _ in self._owner]
        for f, w in query.items():
            for i, weight, is_topic_ in self._postings.get(f, ()):
                per_target[i].append((f, w * weight, is_topic_))
        cut = [bool(found) and self._has_topic[self._owner[i]] and not any(t for _, _, t in found)
               for i, found in enumerate(per_target)]
        scores = self._target_scores(query)
        best: dict[int, int] = {}
        for i in range(count, len(scores)):
            route = self._owner[i]
            if scores[i] > 0 and scores[i] > scores[best.get(route, i)] or route not in best:
                best[route] = i
        by_feature = cues(_clip(next((t.content for t in reversed(turns) if t.role == "user"), "")))
        out = []
        for route, (name, score) in enumerate(zip(self._names, self._route_scores(scores), strict=True)):
            matched = [(f, adds * (INTENT_ONLY if cut[route] else 1.0)) for f, adds, _ in per_target[route]]
            example = best.get(route)
            if example is not None and scores[example] > 0:
                number = example - self._owner.index(route, count) + 1
                matched += [(f"{f} (example {number})", adds * (INTENT_ONLY if cut[example] else 1.0))
                            for f, adds, _ in per_target[example]]
            words = {f: by_feature[f.split(" (")[0]] for f, _ in matched if f.split(" (")[0] in by_feature}
            out.append(Explained(name, score, cut[route], tuple(sorted(matched, key=lambda m: -m[1])), words))
        return sorted(out, key=lambda e: -e.score)

    @property
    def threshold(self) -> float:
        return self._threshold


def _spread(count: int, route_features: list[set[str]]) -> tuple[dict[str, float], set[str]]:
    """Inverse route frequency of each feature, and the topics that tell routes apart: a topic most
    routes share ("public-safe … cloud routing" on every route) does so no better than an intent."""
    df: dict[str, int] = {}
    for found in route_features:
        for f in found:
            df[f] = df.get(f, 0) + 1
    idf = {f: math.log(1.0 + count / n) for f, n in df.items()}
    return idf, {f for f, n in df.items() if n <= max(1, count // 2) and is_topic(f)}


class EmbeddedRouters:
    """Routers for recently seen route sets (the configured one, and inline sets clients repeat), owned by
    whoever decides (the routing engine, the `route` command): no process-wide state.

    The configured set is the same tuple on every request, so it is recognised by identity before the
    cache hashes every route's fields; other sets are kept least recently used first, at most `size`.
    """

    __slots__ = ("_last", "_cache", "_size")

    def __init__(self, size: int = 64) -> None:
        self._last: tuple[tuple[Route, ...], EmbeddedRouter] | None = None
        self._cache: OrderedDict[tuple[Route, ...], EmbeddedRouter] = OrderedDict()
        self._size = size

    def get(self, routes: tuple[Route, ...]) -> EmbeddedRouter:
        last = self._last
        if last is not None and last[0] is routes:
            return last[1]
        router = self._cache.get(routes)
        if router is None:
            router = self._cache[routes] = EmbeddedRouter(routes)
            if len(self._cache) > self._size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(routes)
        self._last = (routes, router)
        return router


def _description_bag(route: Route) -> dict[str, float]:
    """Name and description, each feature at its strongest mention."""
    bag: dict[str, float] = {}
    for text, weight in ((route.name.replace("_", " ").replace("-", " "), NAME_WEIGHT),
                         (route.description, DESCRIPTION_WEIGHT)):
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
    if not any(f in query for f in _TASKS):
        if words <= SHORT_PROMPT_WORDS:
            query["i:simple"] = 1.0
    elif "i:simple" in query:  # "a quick Python script" is still a script
        del query["i:simple"]
    # A failure reported without saying what to do ("tests pass locally but fail in CI") asks why.
    if "d:error" in query and not any(i in query for i in _ASKS):
        query["i:diagnose"] = max(query.get("i:diagnose", 0.0), query["d:error"])
    return query


#: A short prompt about these, or asking for these, is a task, not a quick question.
_TASKS = ("d:code", "d:lang", "d:error", "d:docs", "d:web", "d:ops", "d:ci", "d:database", "d:security",
          "i:create", "i:modify", "i:fix", "i:diagnose", "i:document", "i:plan", "i:compare", "i:reason")
#: Intents that say what to do about a failure; without one, a failure report asks for a diagnosis.
_ASKS = ("i:create", "i:modify", "i:fix", "i:diagnose", "i:explain", "i:document", "i:summarize",
         "i:translate", "i:convert", "i:respond", "i:wish")


@lru_cache(maxsize=_TEXT_CACHE)
def _context_features(text: str) -> dict[str, float]:
    return features(text)


def _clip(text: str) -> str:
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return text[:HEAD_CHARS] + "\n" + text[-TAIL_CHARS:]
