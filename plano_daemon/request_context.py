"""Ctx: what one proxied request accumulates on its way, for its log line, metrics and ledger record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from plano_daemon.catalog import Channel
from plano_daemon.policy.gate import RequestGate
from plano_daemon.tracing import RequestSpans
from plano_daemon.wire.trace import Trace


class AnswerTap(Protocol):
    """What the relay tells `state_storage` about the answer the client receives (state_store.Turn)."""

    def feed(self, chunk: bytes) -> None: ...

    def answered(self, body: bytes) -> None: ...

    async def save(self, ctx: Ctx) -> None: ...


@dataclass(slots=True)
class Ctx:
    """What one request accumulates for its log line, metrics and ledger record."""

    api: str
    trace: Trace
    deadline: float
    requested: str | None = None
    stream: bool = False
    channel: Channel | None = None
    route: str | None = None
    router: str = "none"
    attempts: list[dict[str, Any]] = field(default_factory=list)
    #: The channel of each entry of `attempts`, for the upstream metrics counted once the request ends.
    attempt_channels: list[Channel] = field(default_factory=list)
    fallbacks: list[dict[str, str]] = field(default_factory=list)
    #: Ledger names (`RequestGate.name`): every model considered, and those admitted in trial order.
    candidates: list[str] = field(default_factory=list)
    ranked: list[str] = field(default_factory=list)
    affinity_key: str | None = None
    router_error: str | None = None  # why the router model did not decide, when it was asked
    input_tokens: int = 0
    output_tokens: int = 0
    gate: RequestGate | None = None
    client_closed: bool = False  # the client went away before its answer was complete
    #: Why the request failed (a 4xx's reason, an upstream failure, a stream cut after its first byte).
    error: str | None = None
    #: state_storage: the privacy boundaries of the conversation this request continues (None: any), and
    #: the answer to store once the client has it (None: nothing is stored).
    confine: frozenset[str] | None = None
    turn: AnswerTap | None = None
    #: `tracing`: this request's spans (None: tracing is off).
    spans: RequestSpans | None = None

    @property
    def request_id(self) -> str:
        return self.trace.trace_id
