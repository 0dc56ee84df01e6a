"""Plano v0.4-compatible configuration: schema, legacy migration, $VAR substitution, loading."""

from plano_daemon.config.load import LoadedConfig, load_config
from plano_daemon.config.schema import Config

__all__ = ["Config", "LoadedConfig", "load_config"]
