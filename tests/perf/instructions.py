"""Instructions per request (callgrind), for A/B comparisons that machine noise does not blur.

CPU time on a shared machine moves ±15–20 % between runs; the number of instructions a process executes
for the same requests does not (±0.5 % here). Each target runs under `valgrind --tool=callgrind` with
instrumentation off; after a warm-up it is switched on for exactly `--requests` requests at
`--concurrency`, then off, so start-up and shutdown are not counted. Kernel time is not counted either
(both sides make the same system calls per request: see docs/perf/README.md).

    tests/perf/.venv/bin/python tests/perf/instructions.py --floor base=. other=/path/to/another/checkout
    tests/perf/.venv/bin/python tests/perf/instructions.py --stream base=.

Each `name=path` is a source tree whose `plano_daemon` is served with the project's .venv (as `bench.py`'s
A/B targets). Needs valgrind (`apt-get install valgrind`). About 10 s per target for 1000 requests.
`--keep DIR` keeps each target's profile: `callgrind_annotate --inclusive=yes DIR/NAME.callgrind` then shows
where the instructions go by C function (CPython's, orjson's, uvloop's), which is where costs such as a
call whose arguments are packed into a dict (`CALL_FUNCTION_EX`) or `x in some_bytes` showed.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import load  # noqa: E402
from targets import REPO, Fleet, Target, write_gateway_config  # noqa: E402

PYTHON = REPO / ".venv/bin/python"
CALLGRIND = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--dump-instr=no"]


def _port_from_log(proc: subprocess.Popen[bytes], log: Path, timeout: float = 120.0) -> int:
    """The gateway says where it listens in its status line (slow to come under valgrind)."""
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        found = re.search(r"listening on [0-9.]+:(\d+)", log.read_text(errors="replace")) if log.exists() else None
        if found:
            return int(found.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError(f"no listening port; see {log}")


def measure(name: str, cmd: list[str], *, cwd: Path, env: dict[str, str], work: Path, args: argparse.Namespace,
            announced: bool) -> float:
    """Instructions per request of one target; `announced`: it prints `PORT <n>` on stdout (the floor)."""
    out, log = work / f"{name}.callgrind", work / f"{name}.log"
    proc = subprocess.Popen([*CALLGRIND, f"--callgrind-out-file={out}", *cmd], cwd=cwd, env=env,
                            stdout=subprocess.PIPE if announced else subprocess.DEVNULL, stderr=log.open("wb"))
    try:
        if announced:
            assert proc.stdout is not None
            port = int(proc.stdout.readline().split()[1])
        else:
            port = _port_from_log(proc, log)
        target = Target(name, proc, port, None)
        load(target, concurrency=args.concurrency, requests=300, stream=args.stream, warmup=50, seconds=120)
        subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True, capture_output=True)
        result = load(target, concurrency=args.concurrency, requests=args.requests, stream=args.stream, warmup=0,
                      seconds=600)
        subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], check=True, capture_output=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(120)
    count = result["completed"] + result["errors"]
    total = max(int(line.split()[1]) for line in out.read_text(errors="replace").splitlines()
                if line.startswith(("summary:", "totals:")))
    print(f"{name:16} {total / count / 1000:8.1f} k instructions per request  "
          f"({count} requests, {result['errors']} errors)", flush=True)
    return total / count


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("trees", nargs="*", metavar="NAME=PATH", help="source trees to serve (default: base=.)")
    p.add_argument("--floor", action="store_true", help="also measure the bare aiohttp pass-through")
    p.add_argument("--stream", action="store_true", help="20-event streams instead of JSON answers")
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--keep", type=Path, metavar="DIR",
                   help="write the callgrind files (NAME.callgrind, for callgrind_annotate) and logs here")
    args = p.parse_args()
    trees = [spec.partition("=") for spec in args.trees or ["base=."]]
    fleet = Fleet()
    with tempfile.TemporaryDirectory(prefix="plano-instructions-") as tmp:
        work = Path(tmp) if args.keep is None else args.keep
        work.mkdir(parents=True, exist_ok=True)
        try:
            upstream = fleet.upstream(chunks=20)
            if args.floor:
                measure("aiohttp-floor", [str(PYTHON), str(Path(__file__).with_name("floor_proxy.py")),
                                          "--upstream-port", str(upstream.port)],
                        cwd=REPO, env=dict(os.environ), work=work, args=args, announced=True)
            for name, _, path in trees:
                root = Path(path).resolve()
                subprocess.run([str(PYTHON), "-m", "compileall", "-q", str(root / "plano_daemon")], check=True)
                env = {**os.environ, "STATE_DIRECTORY": str(work / f"state-{name}"),
                       "CACHE_DIRECTORY": str(work / f"state-{name}")}
                env.pop("NOTIFY_SOCKET", None)
                measure(name, [str(PYTHON), "-m", "plano_daemon", "serve", "--config",
                               str(write_gateway_config(work / f"{name}.yaml", upstream.port))],
                        cwd=root, env=env, work=work, args=args, announced=False)
        finally:
            fleet.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
