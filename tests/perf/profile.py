"""Profile plano-daemon's hot path: py-spy samples the gateway while loadgen drives it, then the
functions with the most samples (own and inclusive) are printed.

    .venv/bin/python tests/perf/profile.py                 # JSON, 16 connections
    .venv/bin/python tests/perf/profile.py --stream-every 1 # streams only
    .venv/bin/python tests/perf/profile.py --routed         # every request routed by the embedded router

Writes tests/perf/out/profile.folded (collapsed stacks: feed it to a flame graph tool) and
tests/perf/out/profile.svg.
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import load, routing_preferences  # noqa: E402
from targets import OUT, PERF_VENV, Fleet  # noqa: E402


def summarise(folded: Path, top: int) -> None:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    print(f"{total} samples")
    for title, counter in (("own", own), ("inclusive", inclusive)):
        print(f"\ntop {top} by {title} samples:")
        for frame, n in counter.most_common(top):
            print(f"  {100 * n / total:5.1f}%  {frame[:150]}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=12.0)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--stream-every", type=int, default=0)
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--routed", action="store_true", help="with the user's routing preferences (embedded router)")
    args = p.parse_args()
    spy = PERF_VENV / "bin/py-spy"
    fleet = Fleet()
    try:
        upstream = fleet.upstream(chunks=20)
        extra = {"routing_preferences": routing_preferences()} if args.routed else None
        gw = fleet.gateway(upstream.port, log_name="gateway-profile.log", extra=extra)
        load(gw, concurrency=args.concurrency, requests=500, stream=False, stream_every=args.stream_every)
        folded, svg = OUT / "profile.folded", OUT / "profile.svg"
        recorders = [subprocess.Popen([str(spy), "record", "--pid", str(gw.proc.pid), "--duration",
                                       str(int(args.seconds)), "--rate", "500", "--format", fmt, "--output",
                                       str(path), "--nonblocking"], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
                     for fmt, path in (("raw", folded), ("flamegraph", svg))]
        result = load(gw, concurrency=args.concurrency, requests=1_000_000, stream=False, warmup=0,
                      stream_every=args.stream_every, seconds=args.seconds)
        for rec in recorders:
            rec.wait(timeout=args.seconds + 30)
        print(f"{result['completed']} requests at {result['rps']:.0f} req/s during the profile")
        summarise(folded, args.top)
    finally:
        fleet.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
