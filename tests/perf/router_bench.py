"""Per-decision cost of the embedded router, in process: p50/p99 over the routing dev set's prompts,
a conversation with earlier turns, and a 240 KB last message; plus top-1 accuracy on both labelled
sets, so a speed-up that costs accuracy shows at once.

"fresh" timings forget the features of whole texts before every call (a prompt seen for the first
time; the per-word caches stay warm, as in a running gateway), "cold" forgets every cache (first
sight of every word), "repeat" routes the same conversation again (an agent loop's tool rounds).

    .venv/bin/python tests/perf/router_bench.py [--rounds N] [--dump FILE] [--compare FILE]

`--dump` writes every decision (route and all scores) of both sets; `--compare` reads such a file and
prints the prompts whose decision changed, to check that an optimisation kept the decisions.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from plano_daemon.config.migrate import migrate  # noqa: E402
from plano_daemon.config.schema import RoutingPreference  # noqa: E402
from plano_daemon.routing import embedded, vocabulary  # noqa: E402
from plano_daemon.routing.conversation import Turn  # noqa: E402
from plano_daemon.routing.embedded import EmbeddedRouter, router_for  # noqa: E402
from plano_daemon.routing.routes import Route, routes_from_config  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures"
SETS = ("routing-dev-set.jsonl", "routing-heldout-set.jsonl")
DEFAULT_CONFIG = "seed-retry-failover.yaml"


def routes_of(config_file: str) -> tuple[Route, ...]:
    raw, _ = migrate(yaml.safe_load((FIXTURES / config_file).read_text()))
    return routes_from_config(RoutingPreference.model_validate(p) for p in raw["routing_preferences"])


def rows_of(set_file: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in (FIXTURES / set_file).read_text().splitlines() if line.strip()]


def forget_texts() -> None:
    for name in ("_latest_query", "_context_features"):
        if hasattr(embedded, name):
            getattr(embedded, name).cache_clear()


def forget_all() -> None:
    forget_texts()
    vocabulary.stem.cache_clear()
    if hasattr(vocabulary, "_CHUNK_CACHE"):
        vocabulary._lexeme.cache_clear()
        vocabulary._CHUNK_CACHE.clear()


def timed(call: Callable[[], object], rounds: int, before: Callable[[], None] = lambda: None) -> list[float]:
    """Seconds per call, one sample per call; GC off so a collection does not land on one sample."""
    times = []
    gc.disable()
    try:
        for _ in range(rounds):
            before()
            t0 = time.perf_counter()
            call()
            times.append(time.perf_counter() - t0)
    finally:
        gc.enable()
    return times


def percentiles(times: list[float]) -> str:
    times = sorted(times)
    p50 = statistics.median(times) * 1e6
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))] * 1e6
    return f"p50 {p50:8.1f} µs   p99 {p99:8.1f} µs   max {times[-1] * 1e6:8.1f} µs   n={len(times)}"


def decisions() -> dict[str, dict[str, object]]:
    out = {}
    for set_file in SETS:
        for row in rows_of(set_file):
            config = row.get("config", DEFAULT_CONFIG)
            scored = router_for(routes_of(config)).route([Turn("user", row["prompt"])])
            out[f"{config}|{row['prompt']}"] = {"route": scored.route, "want": row["route"],
                                                "scores": [[n, round(s, 9)] for n, s in scored.scores]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20, help="passes over the dev set's prompts")
    parser.add_argument("--dump", type=Path)
    parser.add_argument("--compare", type=Path)
    args = parser.parse_args()

    routes = routes_of(DEFAULT_CONFIG)
    t0 = time.perf_counter()
    EmbeddedRouter(routes)
    print(f"construction: {(time.perf_counter() - t0) * 1e3:.2f} ms for {len(routes)} routes")
    router = EmbeddedRouter(routes)
    prompts = [[Turn("user", row["prompt"])] for row in rows_of(SETS[0])]
    for turns in prompts:  # warm the per-word caches, as a long-running gateway has
        router.route(turns)
    for label, before in (("fresh", forget_texts), ("cold", forget_all), ("repeat", lambda: None)):
        times: list[float] = []
        for turns in prompts:  # "repeat" times the second sight of each prompt
            router.route(turns)
        for _ in range(args.rounds):
            for turns in prompts:
                times += timed(lambda t=turns: router.route(t), 1, before)
        print(f"dev-set prompts, {label:6}:        {percentiles(times)}")
    times = []
    for _ in range(args.rounds):
        for turns in prompts:
            times += timed(lambda t=turns: router_for(routes).route(t), 1, forget_texts)
    print(f"dev-set prompts, fresh, router_for(): {percentiles(times)}")

    history = [Turn("user", "Write a bash script that rotates logs."), Turn("assistant", "Here it is: ..." * 50),
               Turn("user", "It fails with exit code 137 on the big box, see the log below\n" + "x" * 4000),
               Turn("user", "Now write a README section documenting how to install it.")]
    print(f"four-turn conversation, fresh:  {percentiles(timed(lambda: router.route(history), 2000, forget_texts))}")

    words = "Refactor this module so the retry loop uses exponential backoff and logs each failure. "
    huge = [Turn("user", "Here is the file:\n" + (words * (240_000 // len(words))) + "\nExplain why it deadlocks.")]
    size = f"{len(huge[0].content) // 1000} KB"
    for label, before in (("fresh", forget_texts), ("repeat", lambda: None)):
        print(f"{size} last message, {label:6}: {percentiles(timed(lambda: router.route(huge), 500, before))}")

    current = decisions()
    for set_file in SETS:
        keyed = [f"{row.get('config', DEFAULT_CONFIG)}|{row['prompt']}" for row in rows_of(set_file)]
        right = sum(1 for k in keyed if current[k]["route"] == current[k]["want"])
        print(f"{set_file}: {right}/{len(keyed)} top-1")
    if args.dump:
        args.dump.write_text(json.dumps(current, indent=1))
    if args.compare:
        before = json.loads(args.compare.read_text())
        changed = [k for k in current if before.get(k, {}).get("route") != current[k]["route"]]
        drift = max((abs(a[1] - b[1]) for k in current if k in before
                     for a, b in zip(before[k]["scores"], current[k]["scores"], strict=True)), default=0.0)
        print(f"vs {args.compare}: {len(changed)} decisions changed, largest score drift {drift:.2e}")
        for k in changed:
            print(f"  {k}: {before[k]['route']!r} -> {current[k]['route']!r} (want {current[k]['want']!r})")


if __name__ == "__main__":
    main()
