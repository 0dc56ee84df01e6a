"""Plano's config file at the edge: schema (pydantic), migration, env substitution, loading, the policy profile.

Import the submodules directly (`config.load`, `config.schema`): this package's own import is free, so the
pure core can read `known_providers` without loading pydantic or yaml.
"""
