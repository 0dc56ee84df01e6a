"""Policy from the user's model-router profile (SPEC §5): privacy boundaries, eligibility, budgets.

It only ever narrows what routing and failover would use; a denial ends the request (no fallback).
Import the submodules directly. The profile is read and validated at the config edge (config/profile.py)
into frozen values (config/profile_values.py): the rules here load no pydantic or yaml (test_layering.py).
"""
