"""A/B of plano-daemon builds (or configs) by CPU per request, all served at the same time on one pinned CPU.

    .venv/bin/python tests/perf/side_by_side.py base=. change=../other-checkout
    .venv/bin/python tests/perf/side_by_side.py --floor base=. 'noledger=.:{"dubnium": {"ledger": {"enabled": false}}}'

Each `NAME=PATH[:JSON]` is a source tree whose `plano_daemon` is served with the project's .venv (JSON: top-level
config keys added to the bench's config); `--floor` puts the bare aiohttp pass-through first. Every target gets
its own loadgen at c=16 for each round (bench.side_by_side). Prints each target's median CPU per request, and
for each after the first its requests per CPU-second over the first's: the median and range of the rounds.

Where `instructions.py` counts instructions (±0.5 %, blind to cache and branch effects), this measures CPU time
with them: its rounds read within ±3 %. Compare builds within one run: a median against the floor moves by a
few per cent between runs with the host's state (0.815–0.858 for one build within an hour), a ratio of two
builds in the same run far less. With one build copied twice it reads 1.00 (0.997–1.001 over three runs);
that is the check to run first on another machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import COSCHEDULED_ROUNDS, COSCHEDULED_SECONDS, per_cpu_second, side_by_side  # noqa: E402
from targets import Fleet, Target  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("trees", nargs="*", metavar="NAME=PATH[:JSON]", help="builds to serve (default: base=.)")
    p.add_argument("--floor", action="store_true", help="the bare aiohttp pass-through first")
    p.add_argument("--rounds", type=int, default=COSCHEDULED_ROUNDS)
    p.add_argument("--seconds", type=float, default=COSCHEDULED_SECONDS)
    args = p.parse_args()
    fleet = Fleet()
    try:
        upstream = fleet.upstream(chunks=20)
        targets: list[Target] = [fleet.floor(upstream.port)] if args.floor else []
        for spec in args.trees or ["base=."]:
            name, _, rest = spec.partition("=")
            path, _, extra = rest.partition(":")
            targets.append(fleet.gateway(upstream.port, root=Path(path).resolve(), name=name,
                                         log_name=f"side-{name}.log", extra=json.loads(extra) if extra else None))
        if len(targets) < 2:
            p.error("two targets at least: NAME=PATH twice, or --floor and one")
        measured = side_by_side(targets, upstream, rounds=args.rounds, seconds=args.seconds)
    finally:
        fleet.close()
    first = targets[0].name
    for t in targets:
        line = f"{t.name:20} CPU per request {statistics.median(measured[t.name]):7.1f} µs"
        if t.name != first:
            ratios = per_cpu_second(measured, first, t.name)
            line += (f"   requests per CPU-second / {first}: {statistics.median(ratios):.3f} "
                     f"({min(ratios):.3f}–{max(ratios):.3f})")
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
