#!/usr/bin/env bash
# The benchmark's own virtualenv (tests/perf/.venv, ignored by git): LiteLLM's proxy to compare against,
# matplotlib for the chart, py-spy for profiles. Kept apart from .venv so none of it reaches the daemon.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-python3}"
[ -x "$here/.venv/bin/python" ] || "$python" -m venv "$here/.venv"
"$here/.venv/bin/pip" install -q --upgrade pip
"$here/.venv/bin/pip" install -q 'litellm[proxy]==1.106.2' matplotlib py-spy  # pinned: the table names this version
"$here/.venv/bin/python" -c 'import importlib.metadata as m; print("litellm", m.version("litellm"))'
