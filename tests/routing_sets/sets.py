"""Labelled routing sets for the embedded router: the frozen held-out sets and the dev set, loaded
the same way by the unit tests (floors) and `tests/perf/router_bench.py` (report)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from plano_daemon.config.migrate import migrate
from plano_daemon.config.schema import RoutingPreference
from plano_daemon.routing.conversation import Turn
from plano_daemon.routing.embedded import EmbeddedRouter
from plano_daemon.routing.routes import Route, routes_from_config

HERE = Path(__file__).resolve().parent
HELDOUT = HERE / "heldout"
TUNING = HERE / "tuning"
DEV_SET = HERE.parent / "fixtures" / "routing-dev-set.jsonl"
SEED_001_ROUTES = HELDOUT / "seed001_unseen" / "routes.yaml"
#: Issue 14's targets: 85 % on seed 001's routes for unseen prompts, 90 % on seed 003's with no-match
#: prompts, 75 % on route sets unlike the seeds', and the dev set no lower than today's 95 %.
TARGETS = {"seed001_unseen": 0.85, "seed003_nomatch": 0.90, "six_domains": 0.75, "business_ops": 0.75,
           "tutoring": 0.75, "platform_team": 0.75, "everyday_life": 0.75, "dev": 0.95}
#: What the tests enforce: the targets (all met when this was written).
FLOORS = dict(TARGETS)


@dataclass(frozen=True)
class Labelled:
    prompt: str
    route: str | None


@dataclass(frozen=True)
class RouteSet:
    name: str
    routes: tuple[Route, ...]
    rows: tuple[Labelled, ...]


def load_routes(path: Path) -> tuple[Route, ...]:
    raw = yaml.safe_load(path.read_text())
    return routes_from_config(RoutingPreference.model_validate(p) for p in raw["routing_preferences"])


def load_rows(path: Path) -> tuple[Labelled, ...]:
    return tuple(Labelled(row["prompt"], row["route"])
                 for row in map(json.loads, path.read_text().splitlines()) if row)


def _sets_in(folder: Path) -> list[RouteSet]:
    return [RouteSet(d.name, load_routes(d / "routes.yaml"), load_rows(d / "prompts.jsonl"))
            for d in sorted(p for p in folder.iterdir() if p.is_dir())]


def heldout_sets() -> list[RouteSet]:
    """Frozen, written before tuning, never tuned on."""
    return _sets_in(HELDOUT)


def tuning_sets() -> list[RouteSet]:
    """Tuned on: the dev set, then the project's first held-out file (one set per config it
    names), then `tuning/`."""
    raw = [json.loads(line) for line in (HERE.parent / "fixtures" / "routing-heldout-set.jsonl")
           .read_text().splitlines() if line.strip()]
    by_config: dict[str, list[Labelled]] = {}
    for row in raw:
        by_config.setdefault(row["config"], []).append(Labelled(row["prompt"], row["route"]))
    project = [RouteSet(f"fixtures:{config}", _config_routes(HERE.parent / "fixtures" / config), tuple(rows))
               for config, rows in by_config.items()]
    return [dev_set(), *project, *(RouteSet(f"tuning:{s.name}", s.routes, s.rows) for s in _sets_in(TUNING))]


def _config_routes(path: Path) -> tuple[Route, ...]:
    raw, _ = migrate(yaml.safe_load(path.read_text()))
    return routes_from_config(RoutingPreference.model_validate(p) for p in raw["routing_preferences"])


def dev_set() -> RouteSet:
    return RouteSet("dev", load_routes(SEED_001_ROUTES), load_rows(DEV_SET))


def manifest_mismatches() -> list[str]:
    """Files whose sha256 differs from `MANIFEST.sha256`, plus set files the manifest does not list."""
    listed: dict[str, str] = {}
    for line in (HELDOUT / "MANIFEST.sha256").read_text().splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    bad = [name for name, digest in listed.items()
           if hashlib.sha256((HELDOUT / name).read_bytes()).hexdigest() != digest]
    present = {str(p.relative_to(HELDOUT)) for p in HELDOUT.glob("*/*") if p.is_file()}
    return bad + sorted(present - listed.keys())


Decide = Callable[[tuple[Route, ...], str], str | None]


def embedded_decide(routes: tuple[Route, ...], prompt: str) -> str | None:
    return EmbeddedRouter(routes).route([Turn("user", prompt)]).route


@dataclass(frozen=True)
class Result:
    right: int
    total: int
    misses: tuple[str, ...]
    confusion: dict[tuple[str | None, str | None], int]  # (wanted, got) → count

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else 0.0


def evaluate(route_set: RouteSet, decide: Decide = embedded_decide,
             rows: Sequence[Labelled] | None = None) -> Result:
    confusion: dict[tuple[str | None, str | None], int] = {}
    misses = []
    chosen = route_set.rows if rows is None else rows
    for row in chosen:
        got = decide(route_set.routes, row.prompt)
        confusion[(row.route, got)] = confusion.get((row.route, got), 0) + 1
        if got != row.route:
            misses.append(f"{route_set.name}: {row.prompt!r} wanted {row.route!r}, got {got!r}")
    return Result(len(chosen) - len(misses), len(chosen), tuple(misses), confusion)
