"""Policy from the user's model-router profile (SPEC §5): privacy boundaries, eligibility, budgets.

It only ever narrows what routing and failover would use; a denial ends the request (no fallback).
Import the submodules directly: `profile` is loaded with the config, before the catalog exists.
"""
