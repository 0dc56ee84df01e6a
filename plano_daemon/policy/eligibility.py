"""Which channels a request may reach: provider boundaries, the request's privacy class, the rules.

The gateway is routing infrastructure, not the authority: everything here only ever removes channels
from what routing and failover would have used; nothing adds one.

- A channel's boundary comes from the profile's sources (`plano_alias` → the channel the alias resolves
  to); several sources on one channel: the most exposed boundary wins. A channel no source names is
  `local` when its base URL is on loopback, else `public_cloud` (fail closed).
- The request's privacy class is `X-Privacy-Class`; data classes are `X-Data-Class` (comma-separated).
  A missing, unknown or malformed privacy class, or a malformed data-class list, gives the profile's
  default class (`Profile.default_class`: the most restrictive one unless the profile names it).
- Rules: `require_local` keeps only `local` when a data class matches; `allow` caps the boundaries to its
  `privacy_boundary` list for matching requests (it cannot extend the class); `prefer` reorders by
  `cost_class`, never filters. `when.task` matches the optional `X-Task` header.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from plano_daemon.catalog import Catalog, Channel
from plano_daemon.config.profile_values import BOUNDARIES, Profile, Rule, exposure

PRIVACY_HEADER = "X-Privacy-Class"
DATA_HEADER = "X-Data-Class"
TASK_HEADER = "X-Task"
_LABEL = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
#: Cost classes from cheapest up, for `selection_policy: {prefer: cheapest}`; any other class is unknown.
COST_ORDER = ("free", "low", "metered")


@dataclass(frozen=True, slots=True)
class RequestClass:
    """What the request says about its data, after failing closed on anything uncertain."""

    privacy_class: str
    data_classes: tuple[str, ...]
    task: str | None
    labelled: bool  # False: the privacy class is the profile's default


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """A channel as the policy sees it; `name` is the profile source id, else the channel's model."""

    name: str
    boundary: str
    cost_class: str | None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The boundaries one request may use, and why; `allows` is the eligibility predicate."""

    request: RequestClass
    boundaries: frozenset[str]
    class_boundaries: frozenset[str]  # before the rules narrowed them
    narrowed_by: tuple[str, ...]  # rule ids that removed boundaries
    preferred_costs: tuple[str, ...]

    def reasons(self, info: SourceInfo) -> list[str]:
        """Why `info` is rejected (empty: eligible)."""
        if info.boundary in self.boundaries:
            return []
        if info.boundary not in self.class_boundaries:
            return [f"boundary {info.boundary} not allowed for privacy_class {self.request.privacy_class}"]
        return [f"boundary {info.boundary} excluded by rule {', '.join(self.narrowed_by)}"]


class Policy:
    """The profile applied to one config's catalog; built once per runtime, read per request."""

    __slots__ = ("profile", "_by_index")

    def __init__(self, profile: Profile, catalog: Catalog) -> None:
        self.profile = profile
        self._by_index: dict[int, SourceInfo] = {}
        for src in profile.sources:
            if src.provider != "plano":
                continue
            channel = catalog.resolve(src.plano_alias)
            if channel is None:
                continue
            seen = self._by_index.get(channel.index)
            if seen is None:
                self._by_index[channel.index] = SourceInfo(src.id, src.privacy_boundary, src.cost_class)
            elif exposure(src.privacy_boundary) > exposure(seen.boundary):
                self._by_index[channel.index] = SourceInfo(seen.name, src.privacy_boundary, seen.cost_class)

    def source(self, channel: Channel) -> SourceInfo:
        info = self._by_index.get(channel.index)
        if info is not None:
            return info
        return SourceInfo(channel.model, "local" if channel.is_local else "public_cloud", None)

    def cost_rank(self, channel: Channel) -> int | None:
        """Position of the channel's `cost_class` in COST_ORDER; None when unknown (it sorts last)."""
        cost = self.source(channel).cost_class
        return COST_ORDER.index(cost) if cost in COST_ORDER else None

    def classify(self, headers: Mapping[str, str]) -> RequestClass:
        """Privacy class, data classes and task from the request headers, failing closed."""
        default = self.profile.default_class
        data, data_ok = _labels(headers.get(DATA_HEADER))
        raw = (headers.get(PRIVACY_HEADER) or "").strip().lower()
        labelled = data_ok and raw in self.profile.privacy_classes
        task = (headers.get(TASK_HEADER) or "").strip().lower() or None
        return RequestClass(privacy_class=raw if labelled else default, data_classes=data,
                            task=task if task and _LABEL.match(task) else None, labelled=labelled)

    def verdict(self, request: RequestClass) -> Verdict:
        allowed = set(self.profile.privacy_classes[request.privacy_class])
        by_class = frozenset(allowed)
        narrowed: list[str] = []
        preferred: list[str] = []
        for rule in self.profile.rules:
            if not _matches(rule, request):
                continue
            if rule.effect == "require_local":
                keep = {"local"}
            elif rule.effect == "allow":
                keep = set(rule.parameters["privacy_boundary"])
            else:
                preferred.extend(c for c in rule.parameters["cost_class"] if c not in preferred)
                continue
            if allowed - keep:
                narrowed.append(rule.id)
            allowed &= keep
        return Verdict(request=request, boundaries=frozenset(b for b in BOUNDARIES if b in allowed),
                       class_boundaries=by_class, narrowed_by=tuple(narrowed), preferred_costs=tuple(preferred))

    def rank(self, verdict: Verdict, channels: Sequence[Channel]) -> list[Channel]:
        """`prefer` rules: channels of a preferred cost class first, otherwise the order given."""
        if not verdict.preferred_costs:
            return list(channels)
        return sorted(channels, key=lambda ch: self.source(ch).cost_class not in verdict.preferred_costs)

    def fallback_permitted(self, reason: str | None) -> bool:
        """Only the profile's allowed reasons may move a request to another attempt."""
        return reason is not None and reason in self.profile.fallback.allowed_reasons

    @property
    def fallback_policy(self) -> dict[str, list[str]]:
        fb = self.profile.fallback
        return {"allowed_reasons": list(fb.allowed_reasons), "forbidden_reasons": list(fb.forbidden_reasons)}


def _labels(value: str | None) -> tuple[tuple[str, ...], bool]:
    """Comma-separated labels; (labels, well_formed). A malformed list keeps its well-formed labels."""
    if value is None or not value.strip():
        return (), True
    labels: list[str] = []
    ok = True
    for part in value.split(","):
        label = part.strip().lower()
        if _LABEL.match(label):
            if label not in labels:
                labels.append(label)
        else:
            ok = False
    return tuple(labels), ok


def _matches(rule: Rule, request: RequestClass) -> bool:
    when = rule.when
    if when.data_class and not set(when.data_class) & set(request.data_classes):
        return False
    if when.privacy_class and request.privacy_class not in when.privacy_class:
        return False
    return not when.task or request.task in when.task
