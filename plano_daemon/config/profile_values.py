"""The model-router profile as plain frozen values: what the policy rules read.

`config/profile.py` validates the user's file (yaml, pydantic) and builds these; keeping them free of both
is what lets the policy package import without the config stack (tests/unit/test_layering.py).
Only what the gateway reads is kept: the file's other keys are validated, then dropped. `profile_path`
(where the file is) lives here too, so finding that there is no profile needs no pydantic.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Boundary = Literal["local", "trusted_cloud", "public_cloud"]
#: From most to least private: `exposure(b)` orders boundaries by how far data travels.
BOUNDARIES: tuple[Boundary, ...] = ("local", "trusted_cloud", "public_cloud")
Effect = Literal["require_local", "prefer", "allow"]


def exposure(boundary: str) -> int:
    return BOUNDARIES.index(boundary)


@dataclass(frozen=True, slots=True)
class Source:
    id: str
    provider: str
    plano_alias: str
    privacy_boundary: Boundary
    cost_class: str


@dataclass(frozen=True, slots=True)
class When:
    """Conditions of a rule; every non-empty tuple must contain the request's value."""

    data_class: tuple[str, ...] = ()
    privacy_class: tuple[str, ...] = ()
    task: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    effect: Effect
    when: When = When()
    parameters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Fallback:
    allowed_reasons: tuple[str, ...] = ()
    forbidden_reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Affinity:
    enabled: bool = True
    key_sources: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Profile:
    """`privacy_classes` maps each class to its allowed boundaries; `default_class` is the class of an
    unlabelled request (already resolved: the file's explicit one, else the most restrictive)."""

    profile: str
    privacy_classes: Mapping[str, tuple[Boundary, ...]]
    default_class: str
    sources: tuple[Source, ...] = ()
    rules: tuple[Rule, ...] = ()
    fallback: Fallback = Fallback()
    affinity: Affinity = Affinity()


def profile_path(setting: str | None, environ: Mapping[str, str], *,
                 config_path: str | None = None) -> Path | None:
    """Where the profile is: the config's `dubnium.policy_profile` (relative to the config file),
    else `$MODEL_ROUTER_CONFIG_HOME/profiles/$MODEL_ROUTER_PROFILE.yaml`, else None."""
    if setting:
        path = Path(os.path.expanduser(setting))
        if not path.is_absolute() and config_path:
            path = Path(config_path).parent / path
        return path
    home = environ.get("MODEL_ROUTER_CONFIG_HOME")
    name = environ.get("MODEL_ROUTER_PROFILE")
    if home and name:
        return Path(os.path.expanduser(home)) / "profiles" / f"{name}.yaml"
    return None
