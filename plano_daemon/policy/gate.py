"""The policy checks one request passes through, and the facts its ledger record keeps.

The proxy asks, in order: `narrow` (which routed or pinned models the request may use), `admit` (may the
chosen model serve it: else 403 `privacy_violation` or 429 `budget_hard_limit`, before any upstream
call), `allows` (the failover plan's eligibility predicate for every further candidate), `permitted`
(may this failure reason move the request on), and `count_attempt` / `count_tokens` (budgets).
Every rejection is kept with its reasons, by source name, for `rejected_sources` in the ledger.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from plano_daemon.catalog import Channel
from plano_daemon.config.profile_values import BOUNDARIES
from plano_daemon.errors import PolicyDenied
from plano_daemon.policy.budgets import Budgets, BudgetStore
from plano_daemon.policy.eligibility import Policy, RequestClass, Verdict

PRIVACY_VIOLATION = "privacy_violation"
BUDGET_HARD_LIMIT = "budget_hard_limit"


class RequestGate:
    """Per-request policy state; without a profile and without budgets every check passes."""

    __slots__ = ("_policy", "_budgets", "_store", "request", "verdict", "eligible", "rejected", "denials",
                 "on_usage", "on_tokens")

    def __init__(self, policy: Policy | None, budgets: Budgets | None, store: BudgetStore | None,
                 headers: Mapping[str, str], on_usage: Callable[[str, str, int], None] | None = None) -> None:
        self._policy = policy
        self._budgets = budgets if budgets and store is not None else None
        self._store = store
        self.request: RequestClass | None = policy.classify(headers) if policy else None
        self.verdict: Verdict | None = policy.verdict(self.request) if policy and self.request else None
        self.eligible: list[str] = []
        self.rejected: dict[str, list[str]] = {}
        self.denials: list[dict[str, str]] = []
        self.on_usage = on_usage
        #: Also told each answer's tokens (the rate limits' settlement, policy/ratelimits.py).
        self.on_tokens: Callable[[Channel, int], None] | None = None

    def name(self, channel: Channel) -> str:
        """How the ledger names a channel: the profile's source id when a source maps it, else `prefix/id`."""
        return self._policy.source(channel).name if self._policy else channel.model

    def names(self, models: Sequence[str], resolve: Callable[[str], Channel | None]) -> list[str]:
        """`name` for each model, in order, once each; a model no channel serves keeps the name it was given."""
        out: list[str] = []
        for model in models:
            channel = resolve(model)
            name = self.name(channel) if channel is not None else model
            if name not in out:
                out.append(name)
        return out

    def narrow(self, models: Sequence[str], resolve: Callable[[str], Channel | None]) -> tuple[str, ...]:
        """The routed (or pinned) models this request may use, in their order; a `prefer` rule that
        matches the request moves its cost classes to the front (reordering, never adding). The kept
        models are `eligible_sources` in the ledger."""
        kept: list[tuple[str, Channel]] = []
        for model in models:
            channel = resolve(model)
            if channel is not None and not self._privacy_reasons(channel, record=True):
                kept.append((model, channel))
                self._accept(channel)
        if self._policy is not None and self.verdict is not None and self.verdict.preferred_costs:
            ranked = self._policy.rank(self.verdict, [ch for _, ch in kept])
            kept.sort(key=lambda pair: ranked.index(pair[1]))
        return tuple(model for model, _ in kept)

    def confine(self, boundaries: frozenset[str]) -> None:
        """A continued conversation (`previous_response_id`) stays within the boundaries its first request
        was allowed, whatever this request says. Without a profile no channel's boundary is known, so a
        conversation that was confined can go nowhere (fail closed)."""
        if boundaries.issuperset(BOUNDARIES):
            return
        if self.verdict is None:
            self._deny(PRIVACY_VIOLATION, None, "the stored conversation is confined to "
                       f"{', '.join(sorted(boundaries)) or 'no boundary'} and no policy profile is loaded")
            raise PolicyDenied("the conversation continued by previous_response_id is confined to privacy "
                               "boundaries that no loaded policy profile can enforce", code=PRIVACY_VIOLATION)
        narrowed = self.verdict.boundaries & boundaries
        if narrowed != self.verdict.boundaries:
            self.verdict = dataclasses.replace(self.verdict, boundaries=narrowed,
                                               narrowed_by=(*self.verdict.narrowed_by, "previous_response"))

    def admit(self, channel: Channel) -> None:
        """The model chosen to go first: privacy, then budget; a failure here ends the request."""
        reasons = self._privacy_reasons(channel, record=True)
        if reasons:
            name = self.name(channel)
            self._deny(PRIVACY_VIOLATION, name, reasons[0])
            raise PolicyDenied(f"no eligible model may serve this request ({name}: {reasons[0]})",
                               code=PRIVACY_VIOLATION, status=403)
        over = self._store.exceeded(self._budgets, channel) if self._budgets and self._store else None
        if over is not None:
            name = self.name(channel)
            self.rejected.setdefault(name, []).append(f"{BUDGET_HARD_LIMIT}: {over.message}")
            self._deny(BUDGET_HARD_LIMIT, name, over.message)
            raise PolicyDenied(over.message, code=BUDGET_HARD_LIMIT, status=429)
        self._accept(channel)

    def deny_unserved(self) -> PolicyDenied:
        """The failover plan found no eligible candidate at all."""
        self._deny(PRIVACY_VIOLATION, None, "no eligible candidate")
        return PolicyDenied("no eligible model may serve this request", code=PRIVACY_VIOLATION, status=403)

    def allows(self, channel: Channel) -> bool:
        """The eligibility predicate for failover candidates: privacy boundaries and budgets."""
        if self._privacy_reasons(channel, record=True):
            return False
        over = self._store.exceeded(self._budgets, channel) if self._budgets and self._store else None
        if over is not None:
            reasons = self.rejected.setdefault(self.name(channel), [])
            reason = f"{BUDGET_HARD_LIMIT}: {over.message}"
            if reason not in reasons:
                reasons.append(reason)
            return False
        self._accept(channel)
        return True

    def may_see(self, channel: Channel) -> bool:
        """Whether this request's conversation may be sent to `channel` at all (privacy only): asked for the
        router model, which reads the prompt without being a candidate to answer it."""
        return not self._privacy_reasons(channel, record=False)

    def permitted(self, reason: str | None) -> bool:
        """Only the profile's allowed fallback reasons may lead to another attempt."""
        return self._policy.fallback_permitted(reason) if self._policy else True

    def count_attempt(self, channel: Channel) -> None:
        self._count(channel, requests=1)

    def count_tokens(self, channel: Channel, tokens: int) -> None:
        self._count(channel, tokens=tokens)
        if self.on_tokens is not None:
            self.on_tokens(channel, tokens)

    @property
    def denied(self) -> bool:
        """True once policy refused the request: its ledger record says `decision_outcome: denied`."""
        return bool(self.denials)

    def ledger_fields(self) -> dict[str, Any]:
        """`ledger.decision_record`'s `policy` facts, sharing the gate's lists (the record is encoded once
        the request has ended, when nothing changes them any more)."""
        fields: dict[str, Any] = {"eligible": self.eligible, "rejected": self.rejected, "policy_denials": self.denials}
        if self.request is not None:
            fields.update(privacy_class=self.request.privacy_class, data_classes=self.request.data_classes)
        if self._policy is not None:
            fields["fallback_policy"] = self._policy.fallback_policy
        return fields

    def _privacy_reasons(self, channel: Channel, *, record: bool) -> list[str]:
        if self._policy is None or self.verdict is None:
            return []
        info = self._policy.source(channel)
        reasons = self.verdict.reasons(info)
        if reasons and record:
            self.rejected.setdefault(info.name, reasons)
        return reasons

    def _accept(self, channel: Channel) -> None:
        name = self.name(channel)
        if name not in self.eligible:
            self.eligible.append(name)

    def _deny(self, code: str, source: str | None, reason: str) -> None:
        self.denials.append({"code": code, "reason": reason, "source": source or ""})

    def _count(self, channel: Channel, *, requests: int = 0, tokens: int = 0) -> None:
        if self._budgets is None or self._store is None:
            return
        for target, kind, total in self._store.record(self._budgets, channel, requests=requests, tokens=tokens):
            if self.on_usage is not None:
                self.on_usage(target, kind, total)
