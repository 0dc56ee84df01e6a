"""The package layering (docs/ARCHITECTURE.md): imports only point down, and the pure core loads no I/O stack.

A unit is a subpackage of plano_daemon or a top-level module. Each has a layer; a unit may import units of
lower layers only (type-only imports count: a cycle through annotations is still a cycle for readers). A new
unit must be given a layer here, which is the point: where it sits is a decision, not an accident.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "plano_daemon"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("json_codec",),  # JSON on the hot path (orjson, the standard library where they differ)
    ("errors", "net", "secret", "logs", "metrics", "systemd_notify"),  # foundations: no project imports
    ("wire",),  # API names, wire shapes, SSE framing, error bodies
    ("config", "translate"),  # the config edge (pydantic, yaml); pure translations between APIs
    ("catalog",),  # who serves a model name
    ("failover", "policy", "ledger", "upstream", "tracing"),  # decisions on values; the upstream client pool
    ("routing", "exchange", "context_windows", "shared", "accounting"),  # shared: what several instances keep in Redis
    ("state_store",),  # stored Responses conversations (state_storage)
    ("runtime",),  # one gateway's long-lived parts, built from a config
    ("relay",),
    ("web",),  # aiohttp app, middlewares, handlers, the request path (web/proxy.py)
    ("server", "simulated", "route_command"),
    ("demo",),
    ("cli",),
    ("__main__",),
)
RANK = {unit: i for i, units in enumerate(LAYERS) for unit in units}

#: Modules that must import without aiohttp, pydantic or yaml (checked in a fresh interpreter).
PURE = ("plano_daemon.translate", "plano_daemon.wire", "plano_daemon.catalog", "plano_daemon.failover",
        "plano_daemon.routing.decide", "plano_daemon.routing.embedded", "plano_daemon.routing.affinity",
        "plano_daemon.routing.conversation", "plano_daemon.policy.budgets", "plano_daemon.policy.eligibility",
        "plano_daemon.policy.gate", "plano_daemon.policy.ratelimits")
HEAVY = ("aiohttp", "pydantic", "yaml")


def unit_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imported_units(path: Path) -> set[str]:
    """Project units a module imports (absolute imports only: the codebase uses no relative ones)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: relative import"
            names = [node.module] if node.module != "plano_daemon" else [f"plano_daemon.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        out |= {n.split(".")[1] for n in names if n.startswith("plano_daemon.")}
    return out


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


def test_every_unit_has_a_layer() -> None:
    units = {unit_of(p) for p in modules()}
    missing = sorted(units - RANK.keys())
    assert not missing, f"give {missing} a layer in tests/unit/test_layering.py::LAYERS"


def test_imports_point_down() -> None:
    wrong = []
    for path in modules():
        src = unit_of(path)
        for dst in imported_units(path) - {src}:
            if dst in RANK and src in RANK and RANK[dst] >= RANK[src]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)} ({src}, layer {RANK[src]}) imports "
                             f"{dst} (layer {RANK[dst]})")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("module", PURE)
def test_pure_core_loads_no_io_stack(module: str) -> None:
    probe = (f"import sys, {module}; "
             f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "", f"importing {module} loads {loaded}"
