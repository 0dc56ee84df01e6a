"""Ctx: what one proxied request accumulates on its way, for its log line, metrics and ledger record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from plano_daemon.catalog import Channel
from plano_daemon.policy.gate import RequestGate
from plano_daemon.wire.trace import Trace

if TYPE_CHECKING:
    from plano_daemon.state_store.conversations import Turn


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
    #: state_storage: the privacy boundaries of the conversation this request continues (None: any), and
    #: the answer to store once the client has it (None: nothing is stored).
    confine: frozenset[str] | None = None
    turn: Turn | None = None

    @property
    def request_id(self) -> str:
        return self.trace.trace_id
