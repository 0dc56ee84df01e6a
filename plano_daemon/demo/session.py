"""`plano-daemon demo`: the real gateway in front of simulated upstreams, replaying a scripted session.

A newcomer's first command: no key, no network, everything on 127.0.0.1. Each step is one function in
`STEPS`; it prints what it did and what came back, and raises if the gateway misbehaved.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from plano_daemon.config.load import load_config
from plano_daemon.demo import routing_steps
from plano_daemon.runtime import build_gateway
from plano_daemon.server import Server
from plano_daemon.simulated import SimulatedUpstream
from plano_daemon.systemd_notify import Notifier

LOCAL_MODEL = "qwen2.5-coder-14b-instruct"
#: The user's local-first classes and rules, with sources for the demo's aliases (see the file's header).
DEMO_PROFILE = Path(__file__).parents[1] / "data" / "demo-profile.yaml"


@dataclass
class Demo:
    """What a step can use: the gateway URL, an HTTP session, the simulated upstreams by name."""

    url: str
    http: aiohttp.ClientSession
    upstreams: dict[str, SimulatedUpstream]
    server: Server
    state_dir: str
    notes: list[str] = field(default_factory=list)

    async def post(self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
                   ) -> tuple[int, Any, float]:
        started = time.perf_counter()
        async with self.http.post(self.url + path, json=body, headers=headers) as resp:
            data = await resp.json(content_type=None)
            return resp.status, data, (time.perf_counter() - started) * 1000

    async def stream(self, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        events = []
        async with self.http.post(self.url + path, json=body) as resp:
            async for line in resp.content:
                text = line.decode().strip()
                if text.startswith("data: ") and text != "data: [DONE]":
                    events.append(json.loads(text[6:]))
        return events


def say(text: str = "") -> None:
    print(text, flush=True)


def demo_config(ups: dict[str, SimulatedUpstream], state_dir: str) -> dict[str, Any]:
    local, cloud, backup = ups["local"], ups["cloud"], ups["cloud-backup"]
    return {
        "version": "v0.4.0",
        "listeners": [{"type": "model", "name": "demo", "address": "127.0.0.1", "port": 0, "timeout": "30s"}],
        "model_providers": [
            {"model": f"openai/{LOCAL_MODEL}", "base_url": local.base_url, "access_key": "EMPTY", "default": True},
            {"model": "cloud/claude-sonnet", "base_url": cloud.base_url, "access_key": "demo-cloud-key",
             "provider_interface": "openai",
             "retry_policy": {"fallback_models": ["cloud-backup/claude-sonnet"],
                              "backoff": {"base_ms": 50, "max_ms": 200}}},
            {"model": "cloud-backup/claude-sonnet", "base_url": backup.base_url, "access_key": "demo-backup-key",
             "provider_interface": "openai"},
        ],
        "model_aliases": {"local-code": {"target": f"openai/{LOCAL_MODEL}"},
                          "cloud-general": {"target": "cloud/claude-sonnet"},
                          "cloud-backup": {"target": "cloud-backup/claude-sonnet"}},
        "dubnium": {"ledger": {"path": f"{state_dir}/route-decisions.jsonl"},
                    "policy_profile": str(DEMO_PROFILE)},
    }


# --- the scripted session --------------------------------------------------------------------------

async def step_chat(d: Demo) -> None:
    status, data, ms = await d.post("/v1/chat/completions", {
        "model": f"openai/{LOCAL_MODEL}", "messages": [{"role": "user", "content": "hello, gateway"}]})
    assert status == 200, data
    say(f"  answer: {data['choices'][0]['message']['content']!r}  ({ms:.1f} ms)")
    say(f"  the local upstream received model {d.upstreams['local'].models_seen[-1]!r} (prefix stripped)")


async def step_stream_tools(d: Demo) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}]
    events = await d.stream("/v1/chat/completions", {
        "model": "local-code", "stream": True, "tools": tools, "tool_choice": "auto",
        "messages": [{"role": "user", "content": "what's the weather in Oslo?"}]})
    name, args = "", ""
    for ev in events:
        for call in (ev.get("choices") or [{}])[0].get("delta", {}).get("tool_calls") or []:
            name += call.get("function", {}).get("name") or ""
            args += call.get("function", {}).get("arguments") or ""
    assert name == "get_weather", events
    say(f"  {len(events)} SSE chunks relayed as they arrived; tool call {name}({args})")


async def step_alias(d: Demo) -> None:
    status, data, ms = await d.post("/v1/chat/completions", {
        "model": "cloud-general", "messages": [{"role": "user", "content": "via an alias"}]})
    assert status == 200, data
    say(f"  alias cloud-general → cloud/claude-sonnet: {data['choices'][0]['message']['content']!r}")
    say(f"  the cloud upstream received model {d.upstreams['cloud'].models_seen[-1]!r} and the configured key")


async def step_anthropic(d: Demo) -> None:
    body = {"model": "local-code", "max_tokens": 256, "system": "Be terse.",
            "messages": [{"role": "user", "content": "hello from an Anthropic client"}]}
    status, data, ms = await d.post("/v1/messages", body, headers={"anthropic-version": "2023-06-01"})
    assert status == 200 and data.get("type") == "message", data
    say(f"  Anthropic Messages → local OpenAI-style model: {data['content'][0]['text']!r} "
        f"(stop_reason {data['stop_reason']}, {ms:.1f} ms)")
    events = await d.stream("/v1/messages", {**body, "stream": True})
    kinds = [ev.get("type") for ev in events]
    assert kinds[:1] == ["message_start"] and kinds[-1:] == ["message_stop"], kinds
    say(f"  streamed: chat chunks rebuilt as {len(events)} Anthropic events, message_start … message_stop")


async def step_responses(d: Demo) -> None:
    body = {"model": "local-code", "instructions": "Be terse.", "input": "hello from a Responses client"}
    status, data, ms = await d.post("/v1/responses", body)
    assert status == 200 and data.get("status") == "completed", data
    say(f"  Responses → local OpenAI-style model: {data['output'][0]['content'][0]['text']!r} ({ms:.1f} ms)")
    events = await d.stream("/v1/responses", {**body, "stream": True})
    numbers = [ev.get("sequence_number") for ev in events]
    assert numbers == list(range(len(events))) and events[-1].get("type") == "response.completed", events
    say(f"  streamed: {len(events)} Responses events, response.created … response.completed, "
        f"sequence_number 0..{len(events) - 1}")


async def step_failover(d: Demo) -> None:
    cloud, backup = d.upstreams["cloud"], d.upstreams["cloud-backup"]
    cloud.fail_next(429, retry_after="2")
    seen = len(cloud.models_seen), len(backup.models_seen)
    body = {"model": "cloud-general", "messages": [{"role": "user", "content": "are you there?"}]}
    status, data, ms = await d.post("/v1/chat/completions", body)
    assert status == 200 and len(backup.models_seen) == seen[1] + 1, data
    say("  cloud/claude-sonnet answered 429 with Retry-After: 2 → failed over to cloud-backup/claude-sonnet "
        "(same model, its own key)")
    say(f"  answer: {data['choices'][0]['message']['content']!r}  ({ms:.1f} ms)")
    status, data, _ = await d.post("/v1/chat/completions", body)
    assert status == 200 and len(cloud.models_seen) == seen[0] + 1, data
    say("  the next request skipped the rate-limited channel while its Retry-After block lasts: "
        f"{data['choices'][0]['message']['content']!r}")


async def step_models(d: Demo) -> None:
    async with d.http.get(d.url + "/v1/models") as resp:
        data = await resp.json()
    say("  " + ", ".join(m["id"] for m in data["data"]))


async def step_errors(d: Demo) -> None:
    status, data, _ = await d.post("/v1/chat/completions", {
        "model": "no-such-model", "messages": [{"role": "user", "content": "x"}]})
    assert status == 404, data
    say(f"  unknown model → HTTP {status}: {data['error']['message']}")


#: An inline route (Plano 0.4.15+ request form) that sends general questions to the cloud model.
CLOUD_ROUTE = [{"name": "general questions", "description": "general knowledge questions and chat",
                "models": ["cloud/claude-sonnet"]}]
QUESTION = [{"role": "user", "content": "a general knowledge question: why is the sky blue?"}]


def cloud_calls(d: Demo) -> int:
    return len(d.upstreams["cloud"].models_seen) + len(d.upstreams["cloud-backup"].models_seen)


async def step_policy_stays_local(d: Demo) -> None:
    before = cloud_calls(d)
    status, data, _ = await d.post("/v1/chat/completions", {
        "model": "local-code", "messages": QUESTION, "routing_preferences": CLOUD_ROUTE},
        headers={"X-Privacy-Class": "trusted_cloud_ok"})
    assert status == 200 and cloud_calls(d) == before + 1, data
    say(f"  trusted_cloud_ok: routed to the cloud model {data['model']!r}")
    status, data, _ = await d.post("/v1/chat/completions", {
        "model": "local-code", "messages": QUESTION, "routing_preferences": CLOUD_ROUTE},
        headers={"X-Privacy-Class": "local_only"})
    assert status == 200 and cloud_calls(d) == before + 1, data
    say(f"  local_only: the same route is out of bounds, so it stayed on the local model {data['model']!r}; "
        "no cloud upstream saw it")


async def step_policy_denied(d: Demo) -> None:
    before = cloud_calls(d)
    status, data, _ = await d.post("/v1/chat/completions", {"model": "cloud-general", "messages": QUESTION},
                                   headers={"X-Privacy-Class": "trusted_cloud_ok", "X-Data-Class": "source_code"})
    assert status == 403 and data["error"]["code"] == "privacy_violation", data
    assert cloud_calls(d) == before, "a cloud upstream was called"
    say(f"  source_code asked of cloud-general → HTTP {status} {data['error']['code']}: {data['error']['message']}")
    say("  no upstream was called, and no fallback was tried (policy failures end the request)")


Step = Callable[[Demo], Awaitable[None]]
STEPS: list[tuple[str, Step]] = [
    ("Chat completion to the local model (OpenAI format)", step_chat),
    ("Streamed chat completion with a tool call, through an alias", step_stream_tools),
    ("A cloud model through an alias", step_alias),
    ("Routing decisions on /routing/v1/* (seed 003's walkthrough, embedded router)",
     routing_steps.step_routing_decisions),
    ("Session pinning over two calls, then a second session", routing_steps.step_pinning),
    ("Intent routing on the proxy path, recorded in the ledger", routing_steps.step_routed_proxy),
    ("A flaky channel: 429 with Retry-After, failover to the same model on a second channel", step_failover),
    ("Anthropic Messages client, translated to the local OpenAI-style model", step_anthropic),
    ("OpenAI Responses client (Codex), translated to the local OpenAI-style model", step_responses),
    ("Policy: a local_only request the router would send to the cloud stays local", step_policy_stays_local),
    ("Policy: private source code asked of a cloud alias is denied before any upstream call", step_policy_denied),
    ("GET /v1/models", step_models),
    ("A model nobody serves", step_errors),
]


async def _run() -> int:
    ups = {name: SimulatedUpstream(name) for name in ("local", "cloud", "cloud-backup")}
    for up in ups.values():
        await up.start()
    with tempfile.TemporaryDirectory(prefix="plano-demo-") as state_dir:
        text = yaml.safe_dump(demo_config(ups, state_dir), sort_keys=False)
        loaded = load_config(None, text=text, environ={})
        server = Server(gateway=build_gateway(loaded), loader=lambda: load_config(None, text=text, environ={}),
                        notifier=Notifier({}))
        await server.start()
        url = f"http://127.0.0.1:{server.addresses[0][1]}"
        say("plano-daemon demo: the real gateway, simulated upstreams, all on 127.0.0.1 (no key, no network)")
        say(f"  gateway  {url}/v1")
        for up in ups.values():
            say(f"  upstream {up.name:<13} {up.base_url}")
        failed = 0
        try:
            async with aiohttp.ClientSession() as http:
                demo = Demo(url=url, http=http, upstreams=ups, server=server, state_dir=state_dir)
                for i, (title, step) in enumerate(STEPS, 1):
                    say(f"\n{i}. {title}")
                    try:
                        await step(demo)
                    except AssertionError as exc:
                        failed += 1
                        say(f"  FAILED: {exc}")
        finally:
            await server.stop()
            for up in ups.values():
                await up.stop()
    say(f"\n{len(STEPS) - failed}/{len(STEPS)} steps behaved as expected.")
    return 0 if failed == 0 else 1


def run_demo() -> int:
    try:
        return asyncio.run(_run())
    except KeyboardInterrupt:
        return 1
    finally:
        sys.stdout.flush()
