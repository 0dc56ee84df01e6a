"""Exchange: one proxied request, from its arrival to its accounting.

`web.proxy.handle` creates it and owns it; the steps of the request path fill in their part: the request
facts (`read_request`), the decision (`choose`), the attempts (the failover plan's own records: this
module only reads them), the usage (the relay, from the bodies it parsed), the outcome and the timings.
The access log line and the ledger record are built from it once the request ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from plano_daemon.catalog import Channel
from plano_daemon.failover import Attempt, AttemptRecord, Plan
from plano_daemon.ledger import decision_record
from plano_daemon.logs import milliseconds
from plano_daemon.policy.gate import RequestGate
from plano_daemon.tracing import RequestSpans
from plano_daemon.wire.trace import Trace
from plano_daemon.wire.usage import Usage


class AnswerTap(Protocol):
    """What the relay tells `state_storage` about the answer the client receives (state_store.Turn)."""

    def feed(self, chunk: bytes) -> None: ...

    def answered(self, body: bytes) -> None: ...

    async def save(self, exchange: Exchange) -> None: ...


@dataclass(slots=True)
class Exchange:
    """One request's facts, decision, attempts, usage, outcome and timings."""

    api: str
    trace: Trace
    gate: RequestGate
    #: Event-loop time by which the whole request must be answered.
    deadline: float
    #: The event loop's clock (`loop.time`; asyncio's is `time.monotonic`), kept with the request:
    #: `asyncio.get_running_loop()` costs a getpid() system call each time.
    clock: Callable[[], float] = time.monotonic
    #: `time.perf_counter()` at arrival (loop.time() under uvloop counts whole milliseconds).
    started: float = field(default_factory=time.perf_counter)
    # --- the request, once read
    requested: str | None = None
    stream: bool = False
    # --- the decision
    channel: Channel | None = None  # the channel answering (the last one tried)
    route: str | None = None
    router: str = "none"
    #: Ledger names (`RequestGate.name`): every model considered, and those admitted in trial order.
    candidates: list[str] = field(default_factory=list)
    ranked: list[str] = field(default_factory=list)
    affinity_key: str | None = None
    router_error: str | None = None  # why the router model did not decide, when it was asked
    # --- the attempts: the failover plan's, once it exists
    plan: Plan | None = None
    # --- the answer
    usage: Usage = field(default_factory=Usage)
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

    @property
    def attempts(self) -> Sequence[Attempt]:
        return self.plan.attempts if self.plan is not None else ()

    @property
    def fallbacks(self) -> list[dict[str, str]]:
        return self.plan.fallbacks if self.plan is not None else []

    def attempt_records(self) -> list[AttemptRecord]:
        return [attempt.record() for attempt in self.attempts]

    def stream_failed(self, kind: str, message: str) -> None:
        """A failure after the first byte: the last attempt's error and the request's."""
        if self.plan is not None:
            self.plan.broke(kind)
        self.error = f"upstream stream failed: {message}"

    def access_fields(self, status: int, elapsed: float,
                      attempts: list[AttemptRecord] | None = None) -> dict[str, Any]:
        """The access log line's fields; `attempts`: `attempt_records()`, when the caller already has them."""
        return {
            "request_id": self.request_id, "api": self.api, "requested": self.requested,
            "resolved": self.channel.model if self.channel else None, "route": self.route,
            "router": self.router, "stream": self.stream,
            "attempts": self.attempt_records() if attempts is None else attempts, "status": status,
            "ms": milliseconds(elapsed), "tokens_in": self.usage.input_tokens,
            "tokens_out": self.usage.output_tokens, "error": self.error,
        }

    def decision(self, status: int, elapsed: float, ended: float,
                 attempts: list[AttemptRecord] | None = None) -> dict[str, Any]:
        """The RouteDecision ledger record (SPEC §5) of this request, answered with `status` after `elapsed`
        seconds at `ended` (`time.time()`: the record's time stamp is when the request arrived); `attempts`
        as for `access_fields`."""
        gate = self.gate
        denied = gate.denied
        failed = self.error is not None or status >= 400
        return decision_record(
            self.request_id, ended - elapsed, self.requested, self.router, route=self.route,
            selected=gate.name(self.channel) if self.channel is not None and not denied else None,
            candidates=self.candidates, ranked=self.ranked, affinity_key=self.affinity_key,
            attempts=self.attempt_records() if attempts is None else attempts,
            fallbacks=self.fallbacks, usage=self.usage, latency_ms=milliseconds(elapsed),
            outcome="denied" if denied else "error" if failed else "selected", error=self.error,
            router_error=self.router_error, policy=gate.ledger_fields())
