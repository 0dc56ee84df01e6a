"""plano_daemon: a local LLM routing gateway compatible with Plano's config and HTTP API."""

__version__ = "0.1.0"
