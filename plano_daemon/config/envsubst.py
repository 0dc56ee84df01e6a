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


def parse_env_file(text: str) -> tuple[dict[str, str], list[str]]:
    """Parse systemd EnvironmentFile syntax: KEY=VALUE lines, `#`/`;` comments, optional quotes,
    `export ` prefixes (as sops-nix templates and .env files often have), backslash continuations.

    Returns the values and one `line N: ...` problem per line that is not an assignment: such a line is
    usually a key pasted without its `NAME=`, and ignoring it would leave a `$VAR` unset far from the cause.
    Problems never quote the line (it may be a secret)."""
    env: dict[str, str] = {}
    problems: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        number = i + 1
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
        if not sep:
            problems.append(f"line {number}: not a NAME=value assignment (no `=`)")
            continue
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            problems.append(f"line {number}: the name before `=` is not a valid variable name")
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            quote, value = value[0], value[1:-1]
            if quote == '"':
                value = value.replace('\\"', '"').replace("\\\\", "\\")
        env[key] = value
    return env, problems
