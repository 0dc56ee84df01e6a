"""The embedded router's report: top-1 accuracy per labelled set with confusion matrices, k-fold
evaluation of route `examples` on the dev set, and the in-process cost of a decision.

Sets (see tests/routing_sets/): "held-out" ones were written before tuning, are frozen and never
tuned on, and carry the floors `tests/unit/test_routing_embedded.py` enforces; "tuning" ones (the dev
set among them) are what the weights were chosen on. k-fold: the dev set is cut into folds; each
fold is routed with the other folds' prompts given to their routes as `examples`, which measures
how well examples teach the router prompts it has not seen.

Timings: "fresh" forgets the features of whole texts before every call (a prompt seen for the first
time; the per-word caches stay warm, as in a running gateway), "cold" forgets every cache (first
sight of every word), "repeat" routes the same conversation again (an agent loop's tool rounds).

    .venv/bin/python tests/perf/router_bench.py [--rounds N] [--confusion] [--dump FILE] [--compare FILE]

`--dump` writes every decision (route and all scores); `--compare` reads such a file and prints the
prompts whose decision changed, to check that an optimisation kept the decisions.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from plano_daemon.routing import embedded, vocabulary  # noqa: E402
from plano_daemon.routing.conversation import Turn  # noqa: E402
from plano_daemon.routing.embedded import EmbeddedRouter  # noqa: E402
from plano_daemon.routing.routes import Route  # noqa: E402
from tests.routing_sets.sets import (  # noqa: E402
    FLOORS,
    TARGETS,
    Result,
    RouteSet,
    dev_set,
    evaluate,
    heldout_sets,
    tuning_sets,
)

FOLDS = 5


def forget_texts() -> None:
    embedded._latest_query.cache_clear()
    embedded._context_features.cache_clear()


def forget_all() -> None:
    forget_texts()
    vocabulary.stem.cache_clear()
    vocabulary._lexeme.cache_clear()
    vocabulary._CHUNK_CACHE.clear()


@dataclass
class Samples:
    """Wall-clock seconds per call, and the thread's CPU seconds for the same calls, which a busy
    machine's preemption does not inflate (it is what a decision costs; wall is what one waited)."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def extend(self, other: Samples) -> None:
        self.wall.extend(other.wall)
        self.cpu.extend(other.cpu)


def timed(call: Callable[[], object], rounds: int, before: Callable[[], None] = lambda: None) -> Samples:
    """One sample per call; GC off so a collection does not land on one sample."""
    times = Samples()
    gc.disable()
    try:
        for _ in range(rounds):
            before()
            c0 = time.thread_time()
            t0 = time.perf_counter()
            call()
            times.wall.append(time.perf_counter() - t0)
            times.cpu.append(time.thread_time() - c0)
    finally:
        gc.enable()
    return times


def p50_p99(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times) * 1e6, times[min(len(times) - 1, int(len(times) * 0.99))] * 1e6


def percentiles(times: Samples) -> str:
    p50, p99 = p50_p99(times.wall)
    cpu50, cpu99 = p50_p99(times.cpu)
    return (f"wall p50 {p50:7.1f} µs p99 {p99:7.1f} µs | cpu p50 {cpu50:7.1f} µs p99 {cpu99:7.1f} µs"
            f"   n={len(times.wall)}")


def confusion_matrix(route_set: RouteSet, result: Result) -> str:
    """Rows: the wanted route; columns: what the router chose ("-" is no route)."""
    names: list[str | None] = [r.name for r in route_set.routes] + [None]
    short = ["-" if n is None else n[:10] for n in names]
    lines = ["    " + " " * 22 + " ".join(f"{s:>10}" for s in short)]
    for want in names:
        cells = [result.confusion.get((want, got), 0) for got in names]
        if any(cells):
            label = "-" if want is None else want
            lines.append(f"    {label[:22]:22}" + " ".join(f"{c:>10}" if c else f"{'.':>10}" for c in cells))
    return "\n".join(lines)


def k_fold(route_set: RouteSet, folds: int = FOLDS) -> tuple[int, int]:
    """Route fold k with the other folds' prompts as their routes' examples; right, total."""
    right = total = 0
    for k in range(folds):
        held = [row for i, row in enumerate(route_set.rows) if i % folds == k]
        taught = [row for i, row in enumerate(route_set.rows) if i % folds != k]
        routes = tuple(Route(r.name, r.description, r.models, r.prefer,
                             r.examples + tuple(row.prompt for row in taught if row.route == r.name))
                       for r in route_set.routes)
        result = evaluate(RouteSet(route_set.name, routes, tuple(held)))
        right += result.right
        total += result.total
    return right, total


def accuracy_report(show_confusion: bool) -> list[str]:
    lines = [f"{'set':34} {'kind':9} {'n':>4} {'top-1':>7} {'target':>6} {'floor':>6}"]
    for kind, sets in (("held-out", heldout_sets()), ("tuning", tuning_sets())):
        for route_set in sets:
            result = evaluate(route_set)
            target, floor = TARGETS.get(route_set.name), FLOORS.get(route_set.name)
            mark = "" if target is None or floor is None else (
                f"{target:6.0%} {floor:6.1%}" + ("" if result.accuracy >= target else "  below target"))
            lines.append(f"{route_set.name:34} {kind:9} {result.total:4} {result.accuracy:7.1%} {mark}")
            if show_confusion or kind == "held-out":
                lines.append(confusion_matrix(route_set, result))
    right, total = k_fold(dev_set())
    lines.append(f"dev set, {FOLDS}-fold (other folds as examples): {right}/{total} = {right / total:.1%}")
    return lines


def decisions() -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for route_set in heldout_sets() + tuning_sets():
        router = EmbeddedRouter(route_set.routes)
        for row in route_set.rows:
            scored = router.route([Turn("user", row.prompt)])
            out[f"{route_set.name}|{row.prompt}"] = {"route": scored.route, "want": row.route,
                                                     "scores": [[n, round(s, 9)] for n, s in scored.scores]}
    return out


def timing_report(rounds: int) -> list[str]:
    dev = dev_set()
    routes = dev.routes
    t0 = time.perf_counter()
    EmbeddedRouter(routes)
    lines = [f"construction: {(time.perf_counter() - t0) * 1e3:.2f} ms for {len(routes)} routes"]
    router = EmbeddedRouter(routes)
    prompts = [[Turn("user", row.prompt)] for row in dev.rows]
    for turns in prompts:  # warm the per-word caches, as a long-running gateway has
        router.route(turns)
    for label, before in (("fresh", forget_texts), ("cold", forget_all), ("repeat", lambda: None)):
        times = Samples()
        for turns in prompts:  # "repeat" times the second sight of each prompt
            router.route(turns)
        for _ in range(rounds):
            for turns in prompts:
                times.extend(timed(partial(router.route, turns), 1, before))
        lines.append(f"dev-set prompts, {label:6}:        {percentiles(times)}")
    times = Samples()
    for route_set in heldout_sets():  # other route sets, other words
        foreign = EmbeddedRouter(route_set.routes)
        for row in route_set.rows:
            times.extend(timed(partial(foreign.route, [Turn("user", row.prompt)]), 5, forget_texts))
    lines.append(f"held-out prompts, fresh:       {percentiles(times)}")

    history = [Turn("user", "Write a bash script that rotates logs."), Turn("assistant", "Here it is: ..." * 50),
               Turn("user", "It fails with exit code 137 on the big box, see the log below\n" + "x" * 4000),
               Turn("user", "Now write a README section documenting how to install it.")]
    lines.append(f"four-turn conversation, fresh: {percentiles(timed(lambda: router.route(history), 2000, forget_texts))}")
    words = "Refactor this module so the retry loop uses exponential backoff and logs each failure. "
    huge = [Turn("user", "Here is the file:\n" + (words * (240_000 // len(words))) + "\nExplain why it deadlocks.")]
    size = f"{len(huge[0].content) // 1000} KB"
    for label, before in (("fresh", forget_texts), ("repeat", lambda: None)):
        lines.append(f"{size} last message, {label:6}: {percentiles(timed(lambda: router.route(huge), 500, before))}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20, help="passes over the dev set's prompts")
    parser.add_argument("--confusion", action="store_true", help="confusion matrices of the tuning sets too")
    parser.add_argument("--dump", type=Path)
    parser.add_argument("--compare", type=Path)
    args = parser.parse_args()
    print("\n".join(accuracy_report(args.confusion)))
    print("\n".join(timing_report(args.rounds)))
    current = decisions()
    if args.dump:
        args.dump.write_text(json.dumps(current, indent=1))
    if args.compare:
        before = json.loads(args.compare.read_text())
        changed = [k for k in current if before.get(k, {}).get("route") != current[k]["route"]]
        print(f"vs {args.compare}: {len(changed)} decisions changed")
        for k in changed:
            print(f"  {k}: {before.get(k, {}).get('route')!r} -> {current[k]['route']!r} (want {current[k]['want']!r})")


if __name__ == "__main__":
    main()
