"""Draw docs/perf/bench.png from results.json (run with the perf virtualenv, which has matplotlib).

    tests/perf/.venv/bin/python tests/perf/chart.py docs/perf/results.json docs/perf/bench.png
"""

from __future__ import annotations

import json
import sys
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"direct": "#9e9e9e", "plano-daemon": "#1f77b4", "plano-daemon+router": "#6baed6", "litellm": "#d62728"}


def _added(results: dict[str, Any], target: str, run: str, key: str = "latency_ms") -> float:
    mine = results["runs"][target][run][key]
    return max(mine["p50"] - results["runs"]["direct"][run][key]["p50"], 0.001)


def main(src: str, dst: str) -> None:
    results = json.loads(open(src).read())
    proxies = [n for n in ("plano-daemon", "plano-daemon+router", "litellm") if n in results["runs"]]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    ax = axes[0][0]
    width = 0.8 / len(proxies)
    for i, name in enumerate(proxies):
        values = [_added(results, name, f"json-c{c}") for c in (1, 16, 64)]
        bars = ax.bar([x + i * width for x in range(3)], values, width, label=name, color=COLORS[name])
        ax.bar_label(bars, fmt="%.2f", fontsize=8)
    ax.set_xticks([x + width * (len(proxies) - 1) / 2 for x in range(3)], ["c=1", "c=16", "c=64"])
    ax.set_yscale("log")
    ax.set_ylabel("ms (log)")
    ax.set_title("Added median latency over a direct call (JSON)")
    ax.legend()

    ax = axes[0][1]
    names = [n for n in ("direct", "plano-daemon", "plano-daemon+router", "litellm") if n in results["runs"]]
    rps = [max(r["rps"] for k, r in results["runs"][n].items() if k.startswith("json-")) for n in names]
    bars = ax.bar([n.replace("+", "\n+") for n in names], rps, color=[COLORS[n] for n in names])
    ax.bar_label(bars, fmt="%.0f", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("requests / s (log)")
    ax.set_title("Throughput at saturation (JSON)")

    ax = axes[1][0]
    for i, name in enumerate(proxies):
        values = [_added(results, name, f"stream-c{c}", "ttft_ms") for c in (1, 16)]
        bars = ax.bar([x + i * width for x in range(2)], values, width, label=name, color=COLORS[name])
        ax.bar_label(bars, fmt="%.2f", fontsize=8)
    ax.set_xticks([x + width * (len(proxies) - 1) / 2 for x in range(2)], ["c=1", "c=16"])
    ax.set_yscale("log")
    ax.set_ylabel("ms (log)")
    ax.set_title("Added median time to first token (20-chunk SSE)")
    ax.legend()

    ax = axes[1][1]
    soak = results.get("soak") or []
    if soak:
        ax.plot([p["requests"] for p in soak], [p["rss_mb"] for p in soak], color=COLORS["plano-daemon"])
        ax.axhline(80, color="#d62728", linestyle="--", linewidth=1, label="80 MB target")
        ax.set_ylim(0, max(100, max(p["rss_mb"] for p in soak) * 1.2))
        ax.legend()
    ax.set_xlabel("requests served")
    ax.set_ylabel("RSS (MB)")
    ax.set_title("plano-daemon memory soak (every 4th request a stream)")

    m = results["machine"]
    fig.suptitle(f"plano-daemon vs LiteLLM proxy, same fake upstream, same run ({m['date']}, "
                 f"{m['cpus']} CPUs, {m['loop']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(dst, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
