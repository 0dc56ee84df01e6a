"""`$VAR` / `${VAR}` substitution and systemd EnvironmentFile parsing; pure, never logs a value."""

from __future__ import annotations

import re
from collections.abc import Mapping

_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def referenced_vars(text: str) -> list[str]:
    """Names of the variables `text` refers to, in order."""
    return [m.group(1) or m.group(2) for m in _VAR.finditer(text)]


def substitute(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """Replace every `$VAR`/`${VAR}`; returns the new text and the names that were missing."""
    missing: list[str] = []

    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name in env:
            return env[name]
        missing.append(name)
        return m.group(0)

    return _VAR.sub(repl, text), missing


def parse_env_file(text: str) -> dict[str, str]:
    """Parse systemd EnvironmentFile syntax: KEY=VALUE lines, `#`/`;` comments, optional quotes,
    `export ` prefixes (as sops-nix templates and .env files often have), backslash continuations."""
    env: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        while line.endswith("\\") and i < len(lines):
            line = line[:-1] + lines[i].strip()
            i += 1
        if not line or line[0] in "#;":
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            quote, value = value[0], value[1:-1]
            if quote == '"':
                value = value.replace('\\"', '"').replace("\\\\", "\\")
        env[key] = value
    return env
