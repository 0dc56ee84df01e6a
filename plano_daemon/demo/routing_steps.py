"""The demo's routing steps: seed 003's walkthrough on /routing/v1/*, pinning, and a routed proxy call.

Kept apart from `session.py` so the scripted session stays readable; each step takes the `Demo` handle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plano_daemon.demo.session import Demo

LOCAL_MODEL = "openai/qwen2.5-coder-14b-instruct"
#: Seed 003's two routes on the demo's models, sent inline with each request (the Plano 0.4.15+ form), so
#: the rest of the demo keeps plain model lookup; the embedded router decides (the demo has no router model).
ROUTING_PREFERENCES = [
    {"name": "code_generation", "description": "generating new code, writing functions, or creating boilerplate",
     "models": ["cloud/claude-sonnet", LOCAL_MODEL]},
    {"name": "complex_reasoning",
     "description": "complex reasoning tasks, multi-step analysis, or detailed explanations",
     "models": [LOCAL_MODEL, "cloud/claude-sonnet"]},
]

INLINE: dict[str, Any] = {"routing_preferences": ROUTING_PREFERENCES}


def say(text: str) -> None:
    print(text, flush=True)


async def step_routing_decisions(d: Demo) -> None:
    """/routing/v1/* answers with the decision only, in three API formats; no LLM is called."""
    cases: list[tuple[str, str, dict[str, Any], str | None]] = [
        ("code generation (OpenAI format)", "/routing/v1/chat/completions",
         {"messages": [{"role": "user", "content": "Write a Python function that implements binary search"}]},
         "code_generation"),
        ("complex reasoning (OpenAI format)", "/routing/v1/chat/completions",
         {"messages": [{"role": "user", "content":
                        "Explain the trade-offs between microservices and monolithic architectures"}]},
         "complex_reasoning"),
        ("simple question, no match", "/routing/v1/chat/completions",
         {"messages": [{"role": "user", "content": "What is the capital of France?"}]}, None),
        ("code generation (Anthropic format)", "/routing/v1/messages",
         {"max_tokens": 1024, "messages": [{"role": "user", "content": "Create a REST API endpoint in Rust using "
                                            "actix-web that handles user registration"}]}, "code_generation"),
        ("code generation (Responses format)", "/routing/v1/responses",
         {"input": "Build a React component that renders a sortable data table"}, "code_generation"),
    ]
    for title, path, body, route in cases:
        status, data, ms = await d.post(path, {"model": "local-code", **body, **INLINE})
        assert status == 200 and data["route"] == route, data
        say(f"  {title}: {json.dumps({k: data[k] for k in ('models', 'route')})} ({ms:.1f} ms)")


async def step_pinning(d: Demo) -> None:
    """X-Model-Affinity pins a session's first decision; another session routes afresh."""
    calls = [("demo-session-001", "Write a Python function for binary search", False),
             ("demo-session-001", "Now explain merge sort", True),
             ("demo-session-002", "Explain the trade-offs between microservices and monoliths", False)]
    for session, text, pinned in calls:
        status, data, _ = await d.post("/routing/v1/chat/completions", {
            "model": "local-code", "messages": [{"role": "user", "content": text}], **INLINE},
            headers={"X-Model-Affinity": session})
        assert status == 200 and data["pinned"] is pinned, data
        shown = {k: data[k] for k in ("model", "models", "route", "session_id", "pinned") if k in data}
        say(f"  {text!r}: {json.dumps(shown)}")
    say("  the second call reused the first decision (pinned: the router did not run); session 002 routed afresh")


async def step_routed_proxy(d: Demo) -> None:
    """On the proxy path the routed model replaces the requested one, and the ledger records why."""
    cloud = d.upstreams["cloud"]
    seen = len(cloud.models_seen)
    status, data, ms = await d.post("/v1/chat/completions", {
        "model": "local-code", "messages": [{"role": "user", "content": "Write a Go function that reverses a slice"}],
        **INLINE}, headers={"X-Privacy-Class": "trusted_cloud_ok"})
    assert status == 200 and len(cloud.models_seen) == seen + 1, data
    say(f"  asked for local-code, routed to code_generation → cloud/claude-sonnet ({ms:.1f} ms); "
        f"the cloud upstream received {cloud.models_seen[-1]!r}")
    services = d.server.gateway.services
    ledger = services.ledger
    assert ledger is not None
    services.accounting.drain()  # the request's record is made in its 2 ms batch
    await ledger.flush()
    last = json.loads(Path(ledger.path).read_text(encoding="utf-8").splitlines()[-1])
    assert (last["requested_model"], last["task"]) == ("local-code", "code_generation"), last
    say(f"  ledger: task={last['task']} router={last['router']} requested={last['requested_model']} "
        f"selected={last['selected_source']} (never prompt text)")
