"""The user's model-router profile (their `local-first-dev.yaml`): read, validated, turned into plain values.

The profile is policy the gateway obeys, not config it owns: privacy classes and the boundaries each
allows, sources keyed by Plano alias, rules, the fallback reasons, affinity key sources, the ledger.
Unknown keys are errors with their path, as in the main config, so a typo cannot loosen a rule.

Where it comes from (`profile_path`): `dubnium.policy_profile` in the Plano config, else
`$MODEL_ROUTER_CONFIG_HOME/profiles/$MODEL_ROUTER_PROFILE.yaml` as the user's shell sets it, else none
(no profile: no privacy filtering, Plano behaviour).

The pydantic models here are the file's schema only; `parse_profile` returns `profile_values.Profile`, the
frozen values the policy rules read without loading pydantic or yaml.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from plano_daemon.config import profile_values as values
from plano_daemon.config.profile_values import BOUNDARIES, Boundary, Effect, exposure
from plano_daemon.config.profile_values import profile_path as profile_path  # re-exported: where the file is
from plano_daemon.errors import ConfigError
from plano_daemon.wire.headers import KEY_SOURCE_HEADERS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _PrivacyClass(_Strict):
    description: str = ""
    allowed_boundaries: Annotated[list[Boundary], Field(min_length=1)]


class _Source(_Strict):
    id: str
    provider: str = "plano"
    plano_alias: str
    privacy_boundary: Boundary
    cost_class: str = "metered"
    capabilities: list[str] = []
    context_tokens: Annotated[int, Field(ge=1)] | None = None


class _When(_Strict):
    """Conditions of a rule; all given lists must match (any request value in the list)."""

    data_class: list[str] = []
    privacy_class: list[str] = []
    task: list[str] = []


class _Rule(_Strict):
    id: str
    description: str = ""
    when: _When = _When()
    effect: Effect
    parameters: dict[str, list[str]] = {}

    @model_validator(mode="after")
    def _parameters_fit_effect(self) -> _Rule:
        if self.effect == "allow":
            bad = [b for b in self.parameters.get("privacy_boundary", []) if b not in BOUNDARIES]
            if bad:
                raise ValueError(f"parameters.privacy_boundary: unknown boundary {bad[0]!r}; "
                                 f"known: {', '.join(BOUNDARIES)}")
            if "privacy_boundary" not in self.parameters:
                raise ValueError("an allow rule needs parameters.privacy_boundary")
        if self.effect == "prefer" and "cost_class" not in self.parameters:
            raise ValueError("a prefer rule needs parameters.cost_class")
        return self


class _Fallback(_Strict):
    allowed_reasons: list[str] = []
    forbidden_reasons: list[str] = []

    @model_validator(mode="after")
    def _disjoint(self) -> _Fallback:
        both = sorted(set(self.allowed_reasons) & set(self.forbidden_reasons))
        if both:
            raise ValueError(f"reason {both[0]!r} is both allowed and forbidden")
        return self


class _Affinity(_Strict):
    enabled: bool = True
    key_sources: list[str] = []

    @model_validator(mode="after")
    def _known_sources(self) -> _Affinity:
        """An unknown key source would silently never match: say so at load time."""
        for i, name in enumerate(self.key_sources):
            if name not in KEY_SOURCE_HEADERS:
                raise ValueError(f"key_sources[{i}]: unknown key source {name!r}; "
                                 f"known: {', '.join(KEY_SOURCE_HEADERS)}")
        return self


class _LedgerRef(_Strict):
    format: Literal["jsonl"] = "jsonl"
    path: str | None = None


class _Profile(_Strict):
    profile: str
    version: str = "0.1.0"
    runtime: dict[str, Any] = {}
    principles: list[str] = []
    privacy_classes: Annotated[dict[str, _PrivacyClass], Field(min_length=1)]
    #: Extension: the class of an unlabelled request; by default the most restrictive class.
    default_privacy_class: str | None = None
    sources: list[_Source] = []
    rules: list[_Rule] = []
    fallback: _Fallback = _Fallback()
    affinity: _Affinity = _Affinity()
    ledger: _LedgerRef = _LedgerRef()

    @model_validator(mode="after")
    def _check_references(self) -> _Profile:
        problems: list[str] = []
        if self.default_privacy_class is not None and self.default_privacy_class not in self.privacy_classes:
            problems.append(f"default_privacy_class: {self.default_privacy_class!r} is not a privacy class")
        ids: dict[str, int] = {}
        for i, src in enumerate(self.sources):
            if src.id in ids:
                problems.append(f"sources[{i}].id: duplicate id {src.id!r} (also sources[{ids[src.id]}])")
            ids[src.id] = i
        aliases: dict[str, int] = {}
        for i, src in enumerate(self.sources):
            if src.plano_alias in aliases:
                problems.append(f"sources[{i}].plano_alias: {src.plano_alias!r} is already the alias of "
                                f"sources[{aliases[src.plano_alias]}]")
            aliases[src.plano_alias] = i
        for i, rule in enumerate(self.rules):
            for j, name in enumerate(rule.when.privacy_class):
                if name not in self.privacy_classes:
                    problems.append(f"rules[{i}].when.privacy_class[{j}]: {name!r} is not a privacy class")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def default_class(self) -> str:
        """Fail closed on privacy uncertainty: the explicit default, else the class allowing the fewest
        and most private boundaries (`local_only` in a local-first profile); ties: declaration order."""
        if self.default_privacy_class is not None:
            return self.default_privacy_class
        return min(self.privacy_classes, key=lambda name: (
            len(self.privacy_classes[name].allowed_boundaries),
            max(exposure(b) for b in self.privacy_classes[name].allowed_boundaries)))


def parse_profile(text: str, *, where: str = "<profile>") -> values.Profile:
    """YAML text → Profile, or a ConfigError whose lines are `where: path: problem`."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise ConfigError([f"{where}: {at}: {getattr(exc, 'problem', None) or 'invalid YAML'}"]) from None
    if not isinstance(raw, dict):
        raise ConfigError([f"{where}: the top level must be a mapping"])
    try:
        doc = _Profile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError([f"{where}: {line}" for line in _problems(exc)]) from None
    return _values(doc)


def load_profile(path: Path) -> values.Profile:
    """Read and validate the profile file; an unreadable file is a config problem, never ignored."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"policy profile {path}: cannot read ({exc.strerror or exc})"]) from None
    return parse_profile(text, where=f"policy profile {path}")


def _values(doc: _Profile) -> values.Profile:
    """The validated file as the frozen values the policy reads."""
    return values.Profile(
        profile=doc.profile,
        privacy_classes={name: tuple(c.allowed_boundaries) for name, c in doc.privacy_classes.items()},
        default_class=doc.default_class,
        sources=tuple(values.Source(s.id, s.provider, s.plano_alias, s.privacy_boundary, s.cost_class)
                      for s in doc.sources),
        rules=tuple(values.Rule(r.id, r.effect, values.When(tuple(r.when.data_class), tuple(r.when.privacy_class),
                                                            tuple(r.when.task)),
                                {k: tuple(v) for k, v in r.parameters.items()}) for r in doc.rules),
        fallback=values.Fallback(tuple(doc.fallback.allowed_reasons), tuple(doc.fallback.forbidden_reasons)),
        affinity=values.Affinity(doc.affinity.enabled, tuple(doc.affinity.key_sources)))


def _problems(exc: ValidationError) -> list[str]:
    """`field.path[i]: message` lines, built from locations and messages, never from input values."""
    out: list[str] = []
    for err in exc.errors(include_input=False, include_url=False):
        path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in err["loc"]).lstrip(".")
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling against the model-router profile schema)"
        out.extend(f"{path}: {line}" if path else line for line in msg.split("\n"))
    return out
