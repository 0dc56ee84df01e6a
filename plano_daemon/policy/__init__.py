"""Policy from the user's model-router profile (SPEC §5): privacy boundaries, eligibility, budgets.

It only ever narrows what routing and failover would use; a denial ends the request (no fallback).
"""

from plano_daemon.policy.budgets import Budgets, BudgetStore, Exceeded
from plano_daemon.policy.eligibility import Policy, RequestClass, Screening, SourceInfo, Verdict
from plano_daemon.policy.profile import Profile, load_profile, parse_profile, profile_path

__all__ = ["BudgetStore", "Budgets", "Exceeded", "Policy", "Profile", "RequestClass", "Screening",
           "SourceInfo", "Verdict", "load_profile", "parse_profile", "profile_path"]
