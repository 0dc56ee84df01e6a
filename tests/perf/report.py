"""Turn a benchmark's results into docs/perf/: results.json, the markdown table, the chart, the README table.

The chart is drawn by `chart.py` with the perf virtualenv's matplotlib, so the project's own
environment needs no plotting stack.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
from pathlib import Path
from typing import Any

from targets import PERF_VENV, REPO

DOCS = REPO / "docs/perf"
GATEWAY, ROUTED, LITELLM, DIRECT, FLOOR = "plano-daemon", "plano-daemon+router", "litellm", "direct", "aiohttp-floor"
_MARK = re.compile(r"(<!-- bench:begin -->\n).*?(<!-- bench:end -->)", re.S)


def added(results: dict[str, Any], target: str, run: str, key: str = "latency_ms") -> tuple[float, float] | None:
    runs = results["runs"]
    if target not in runs or run not in runs[target] or not runs[target][run][key]:
        return None
    mine, base = runs[target][run][key], runs[DIRECT][run][key]
    return mine["p50"] - base["p50"], mine["p99"] - base["p99"]


def saturation_rps(results: dict[str, Any], target: str) -> float | None:
    runs = results["runs"].get(target)
    if not runs:
        return None
    return max(r["rps"] for name, r in runs.items() if name.startswith("json-"))


def _pair(v: tuple[float, float] | None, digits: int = 2) -> str:
    return "n/a" if v is None else f"{v[0]:.{digits}f} / {v[1]:.{digits}f}"


def table(results: dict[str, Any]) -> str:
    names = [n for n in (DIRECT, FLOOR, GATEWAY, ROUTED, LITELLM) if n in results["runs"]]
    info, routing = results["targets"], results.get("routing")
    rows: list[tuple[str, list[str]]] = []
    for c in (1, 16, 64):
        rows.append((f"added latency, JSON, c={c}: p50 / p99 (ms)",
                     ["baseline" if n == DIRECT else _pair(added(results, n, f"json-c{c}")) for n in names]))
    base = results["runs"][DIRECT]["json-c1"]["latency_ms"]
    rows.append(("direct call, JSON, c=1: p50 / p99 (ms)",
                 [_pair((base["p50"], base["p99"]), 3) if n == DIRECT else "" for n in names]))
    rows.append(("throughput at saturation (req/s)", [f"{saturation_rps(results, n):,.0f}" for n in names]))
    for c in (1, 16):
        rows.append((f"added time to first token, stream, c={c}: p50 / p99 (ms)",
                     ["baseline" if n == DIRECT else _pair(added(results, n, f"stream-c{c}", "ttft_ms"))
                      for n in names]))
    rows.append(("added time to first token, model-paced stream (100 chunks 1 ms apart), c=16: p50 / p99 (ms)",
                 ["baseline" if n == DIRECT else _pair(added(results, n, "paced-c16", "ttft_ms")) for n in names]))
    rows.append(("CPU per request at c=64 (µs, target process)",
                 ["—" if n == DIRECT else f"{info[n]['cpu_us_per_request']:.0f}" for n in names]))
    rows.append(("CPU per relayed chunk, 100-chunk streams paced 1 ms, c=16 (µs)",
                 ["—" if n == DIRECT else f"{info[n].get('cpu_us_per_chunk', 0):.1f}" for n in names]))
    rows.append(("peak RSS (MB)", ["—" if n == DIRECT else f"{info[n]['peak_rss_mb']:.1f}" for n in names]))
    rows.append(("start → ready (s)", ["—" if n == DIRECT else f"{info[n]['ready_s']:.2f}" for n in names]))
    route = "n/a" if routing is None else f"{routing['p50_us']:.0f} / {routing['p99_us']:.0f} µs in process"
    plain, routed = added(results, GATEWAY, "json-c1"), added(results, ROUTED, "json-c1")
    through = "n/a" if plain is None or routed is None else f"+{routed[0] - plain[0]:.2f} ms at c=1 (p50)"
    rows.append(("routing decision, embedded router: p50 / p99",
                 [{GATEWAY: route, ROUTED: through}.get(n, "—" if n == DIRECT else "n/a") for n in names]))
    head = "| | " + " | ".join(names) + " |\n|---|" + "---:|" * len(names) + "\n"
    return head + "".join(f"| {label} | " + " | ".join(cells) + " |\n" for label, cells in rows)


def soak_summary(points: list[dict[str, float]]) -> str:
    if len(points) < 3:
        return ""
    first = points[1]
    at_10k = next((p for p in points if p["requests"] >= 10000), points[-1])
    last = points[-1]
    errors = sum(int(p.get("errors", 0)) for p in points)
    return (f"Memory soak: {last['requests']:,.0f} requests (every 4th a 20-chunk stream, 16 connections), "
            f"{errors} errors. RSS at start {points[0]['rss_mb']:.1f} MB, after the first thousand "
            f"{first['rss_mb']:.1f} MB, after {at_10k['requests']:,.0f} {at_10k['rss_mb']:.1f} MB, "
            f"after the last thousand {last['rss_mb']:.1f} MB "
            f"(growth first → last thousand: {last['rss_mb'] - first['rss_mb']:+.1f} MB).\n")


def targets_check(results: dict[str, Any]) -> str:
    """The issue's targets, each with the measured value and whether it is met."""
    lines = []
    c1 = added(results, GATEWAY, "json-c1")
    if c1:
        lines.append(("median added latency at c=1 ≤ 1 ms", f"{c1[0]:.2f} ms", c1[0] <= 1.0))
    lite = saturation_rps(results, LITELLM)
    mine = saturation_rps(results, GATEWAY)
    if lite and mine:
        lines.append(("throughput ≥ 10× LiteLLM", f"{mine / lite:.1f}×", mine >= 10 * lite))
        for c in (1, 16, 64):
            a, b = added(results, GATEWAY, f"json-c{c}"), added(results, LITELLM, f"json-c{c}")
            if a and b and b[0] > 0:
                lines.append((f"added median latency ≤ 1/10 of LiteLLM's at c={c}", f"{a[0] / b[0]:.3f}",
                              a[0] <= b[0] / 10))
    points = results.get("soak") or []
    if len(points) > 2:
        at_10k = next((p for p in points if p["requests"] >= 10000), points[-1])
        lines.append(("RSS < 80 MB after 10,000 requests", f"{at_10k['rss_mb']:.1f} MB", at_10k["rss_mb"] < 80))
        growth = points[-1]["rss_mb"] - points[1]["rss_mb"]
        lines.append(("no RSS growth first → last thousand (≤ 1 MB)", f"{growth:+.1f} MB", growth <= 1.0))
    ready = results["targets"].get(GATEWAY, {}).get("ready_s")
    if ready is not None:
        lines.append(("start → ready < 1 s", f"{ready:.2f} s", ready < 1.0))
    lines += floor_checks(results)
    return "| target | measured | met |\n|---|---:|:---:|\n" + "".join(
        f"| {t} | {v} | {'yes' if ok else '**no**'} |\n" for t, v, ok in lines)


def floor_checks(results: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """Issue 12's targets: plano-daemon against the bare aiohttp pass-through measured in the same run."""
    lines: list[tuple[str, str, bool]] = []
    if FLOOR not in results["runs"] or GATEWAY not in results["runs"]:
        return lines
    mine, floor = added(results, GATEWAY, "json-c1"), added(results, FLOOR, "json-c1")
    if mine and floor and floor[0] > 0:
        lines.append(("added p50 at c=1 ≤ 1.2× the aiohttp floor's",
                      f"{mine[0]:.3f} / {floor[0]:.3f} ms = {mine[0] / floor[0]:.2f}×", mine[0] <= 1.2 * floor[0]))
    rps, floor_rps = saturation_rps(results, GATEWAY), saturation_rps(results, FLOOR)
    side = results.get("coscheduled_throughput")
    if side:  # both served at once on one CPU: see bench.COSCHEDULED_ROUNDS
        ratios, cpu = side["ratios"], side["cpu_us_per_request"]
        ratio = statistics.median(ratios)
        lines.append(("throughput ≥ 0.85× the aiohttp floor's",
                      f"{ratio:.3f}× in requests per CPU-second (median of {len(ratios)} rounds side by side at "
                      f"c=16, {min(ratios):.2f}–{max(ratios):.2f}; CPU per request {cpu[GATEWAY]:.0f} vs "
                      f"{cpu[FLOOR]:.0f} µs)", ratio >= 0.85))
    elif rps and floor_rps:
        lines.append(("throughput ≥ 0.85× the aiohttp floor's", f"{rps:,.0f} / {floor_rps:,.0f} = {rps / floor_rps:.2f}×",
                      rps >= 0.85 * floor_rps))
    for run, what in (("stream-c1", "at c=1"), ("stream-c16", "at c=16, 20 events in one read"),
                      ("paced-c16", "at c=16, model-paced streams")):
        a, b = added(results, GATEWAY, run, "ttft_ms"), added(results, FLOOR, run, "ttft_ms")
        if a and b:
            lines.append((f"added TTFT p50 {what} ≤ the floor's + 0.1 ms", f"{a[0]:.3f} vs {b[0]:.3f} ms",
                          a[0] <= b[0] + 0.1))
    info = results["targets"].get(GATEWAY, {})
    if info.get("peak_rss_mb"):
        lines.append(("peak RSS ≤ 60 MB", f"{info['peak_rss_mb']:.1f} MB", info["peak_rss_mb"] <= 60))
    if info.get("ready_s") is not None:
        lines.append(("start → ready ≤ 0.5 s", f"{info['ready_s']:.2f} s", info["ready_s"] <= 0.5))
    return lines


def write_outputs(results: dict[str, Any]) -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    previous = DOCS / "results.json"
    if "runs" not in results and previous.exists():  # a soak-only run keeps the last full table
        results = {**json.loads(previous.read_text()), "soak": results.get("soak", [])}
    previous.write_text(json.dumps(results, indent=1) + "\n")
    m = results["machine"]
    body = (f"Measured {m['date']} on {m['cpus']} CPUs; plano-daemon on Python {m['python']} with {m['loop']}, "
            f"LiteLLM {m.get('litellm', 'n/a')}; "
            f"load average at start {m['load_avg'][0]:.2f}.\n\n" + table(results) + "\n"
            + soak_summary(results.get("soak") or []) + "\n" + targets_check(results))
    (DOCS / "results.md").write_text(body)
    readme = DOCS / "README.md"
    if readme.exists():
        text = readme.read_text()
        readme.write_text(_MARK.sub(lambda mt: mt.group(1) + body + mt.group(2), text))
    python = PERF_VENV / "bin/python"
    if python.exists():
        subprocess.run([str(python), str(Path(__file__).with_name("chart.py")), str(previous),
                        str(DOCS / "bench.png")], check=True, timeout=120)
    print(body)
