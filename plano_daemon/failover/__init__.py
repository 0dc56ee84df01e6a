"""Retries and failover (SPEC §3): outcome classification, the per-request plan, shared blocks, health."""

from plano_daemon.failover.blocks import Blocks
from plano_daemon.failover.health import Health
from plano_daemon.failover.latency import Latency
from plano_daemon.failover.outcome import Outcome, classify
from plano_daemon.failover.plan import Attempt, AttemptRecord, Next, Plan, Seen, Stop, policy_for

__all__ = ["Attempt", "AttemptRecord", "Blocks", "Health", "Latency", "Next", "Outcome", "Plan", "Seen", "Stop",
           "classify", "policy_for"]
