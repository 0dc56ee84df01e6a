"""Request headers the gateway reads by name."""

from __future__ import annotations

#: The policy profile names session-key sources; these are their headers.
KEY_SOURCE_HEADERS = {"anthesis_execution_id": "X-Anthesis-Execution-Id",
                      "session_id": "X-Session-Id",
                      "explicit_affinity_key": "X-Model-Affinity"}
