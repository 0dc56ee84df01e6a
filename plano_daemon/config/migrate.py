"""Legacy Plano config dicts (v0.1 … v0.3) → the v0.4.0 shape; pure, returns warnings instead of logging."""

from __future__ import annotations

import copy
from typing import Any

CURRENT_VERSION = "v0.4.0"
DEFAULT_LISTENER: dict[str, Any] = {"type": "model", "name": "model_listener", "port": 12000}

_LEGACY_LISTENER_TYPES = {"egress_traffic": "model", "ingress_traffic": "prompt"}


def migrate(raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Return a v0.4.0 dict and human-readable notes on what was migrated. The input is not modified."""
    cfg = copy.deepcopy(raw)
    notes: list[str] = []

    if "llm_providers" in cfg:
        if "model_providers" in cfg:
            # Both present is ambiguous; leave both so validation reports `llm_providers` as unknown.
            return cfg, notes
        cfg["model_providers"] = cfg.pop("llm_providers")
        notes.append("llm_providers: renamed to model_providers")

    listeners = cfg.get("listeners")
    if isinstance(listeners, dict):
        converted = []
        for key, value in listeners.items():
            if key not in _LEGACY_LISTENER_TYPES or not isinstance(value, dict):
                converted.append({"name": key, "type": "unknown-legacy", **(value if isinstance(value, dict) else {})})
                continue
            entry = {k: v for k, v in value.items() if k != "message_format"}
            entry.setdefault("port", 12000 if key == "egress_traffic" else 10000)
            converted.append({"type": _LEGACY_LISTENER_TYPES[key], "name": key, **entry})
        cfg["listeners"] = converted
        notes.append("listeners: legacy object form converted to a list")
    elif listeners is None:
        cfg["listeners"] = [dict(DEFAULT_LISTENER)]

    providers = cfg.get("model_providers")
    if isinstance(providers, list):
        _lift_inline_preferences(cfg, providers, notes)

    version = cfg.get("version")
    if version != CURRENT_VERSION and isinstance(version, str):
        notes.append(f"version: {version} migrated to {CURRENT_VERSION}")
        cfg["version"] = CURRENT_VERSION
    return cfg, notes


def _lift_inline_preferences(cfg: dict[str, Any], providers: list[Any], notes: list[str]) -> None:
    """Inline per-provider preferences become top-level entries grouped by name, in declaration order."""
    top = cfg.get("routing_preferences")
    lifted: list[dict[str, Any]] = list(top) if isinstance(top, list) else []
    by_name = {p["name"]: p for p in lifted if isinstance(p, dict) and isinstance(p.get("name"), str)}
    moved = 0
    for provider in providers:
        if not isinstance(provider, dict) or "routing_preferences" not in provider:
            continue
        inline = provider.pop("routing_preferences") or []
        model = provider.get("model")
        for pref in inline if isinstance(inline, list) else []:
            if not isinstance(pref, dict):
                continue
            name = pref.get("name")
            entry = by_name.get(name) if isinstance(name, str) else None
            if entry is None:
                entry = {"name": name, "description": pref.get("description"), "models": []}
                if isinstance(name, str):
                    by_name[name] = entry
                lifted.append(entry)
            models = entry.setdefault("models", [])
            if isinstance(models, list) and model not in models:
                models.append(model)
            moved += 1
    if moved:
        cfg["routing_preferences"] = lifted
        notes.append(f"routing_preferences: {moved} inline preference(s) moved to the top level")
