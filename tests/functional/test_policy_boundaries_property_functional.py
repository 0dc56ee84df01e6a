"""Property (hypothesis): whatever the config, the request's class and the upstreams' failures, no
upstream outside the request's allowed boundaries ever receives a request.

Each example starts its own fakes and gateway on 127.0.0.1 and sends one request with the OpenAI SDK.
Every fake is on loopback: a channel is cloud only because the generated profile's sources say so.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import openai
import yaml
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plano_daemon.config.load import load_config
from plano_daemon.runtime import build_gateway
from plano_daemon.server import Server
from plano_daemon.systemd_notify import Notifier
from tests.conftest import FIXTURES
from tests.fakes.upstream import Behaviour, FakeUpstream, answer_like_provider, reply_status, reset_connection

PROFILE = yaml.safe_load((FIXTURES / "local-first-dev.yaml").read_text())
CLASS_BOUNDARIES = {name: set(c["allowed_boundaries"]) for name, c in PROFILE["privacy_classes"].items()}
PROMPT = "triage the nightly build failures and summarize them"
FAILURES: dict[str, Behaviour] = {
    "ok": answer_like_provider, "503": reply_status(503), "429": reply_status(429), "401": reply_status(401),
    "reset": reset_connection(),
    "refusal": reply_status(400, body={"error": {"code": "content_filter", "message": "blocked"}}),
}


@dataclass(frozen=True)
class Channel:
    label: str | None  # the profile source's boundary; None: no source (loopback → local)
    script: tuple[str, ...]
    fallbacks: tuple[int, ...]
    strategy: str
    max_attempts: int
    retry_401: bool

    @property
    def boundary(self) -> str:
        return self.label or "local"


@dataclass(frozen=True)
class Scenario:
    channels: tuple[Channel, ...]
    default: int | None
    route: tuple[int, ...]  # models of the one routing preference (empty: no routing)
    requested: str
    privacy: str | None
    data_class: str | None

    def allowed(self) -> set[str]:
        allowed = set(CLASS_BOUNDARIES.get(self.privacy or "", CLASS_BOUNDARIES["local_only"]))
        return {"local"} if self.data_class == "source_code" else allowed


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    n = draw(st.integers(2, 4))
    channels = tuple(Channel(
        label=draw(st.sampled_from([None, "local", "trusted_cloud", "public_cloud"])),
        script=tuple(draw(st.lists(st.sampled_from(sorted(FAILURES)), max_size=3))),
        fallbacks=tuple(draw(st.lists(st.sampled_from([j for j in range(n) if j != i]), unique=True))),
        strategy=draw(st.sampled_from(["same_model", "same_provider", "different_provider"])),
        max_attempts=draw(st.integers(1, 4)),
        retry_401=draw(st.booleans()),
    ) for i in range(n))
    return Scenario(
        channels=channels,
        default=draw(st.none() | st.integers(0, n - 1)),
        route=tuple(draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n))),
        requested=draw(st.sampled_from([f"a{i}" for i in range(n)] + [f"p{i}/m" for i in range(n)] + ["nope"])),
        privacy=draw(st.sampled_from([None, "local_only", "trusted_cloud_ok", "public_cloud_ok", "cloud!"])),
        data_class=draw(st.sampled_from([None, "source_code", "docs"])),
    )


def gateway_config(s: Scenario, fakes: list[FakeUpstream], profile_path: str) -> dict[str, Any]:
    providers = []
    for i, (ch, fake) in enumerate(zip(s.channels, fakes, strict=True)):
        p: dict[str, Any] = {"model": f"p{i}/m", "base_url": fake.base_url, "access_key": f"key-{i}",
                             "default": s.default == i,
                             "retry_policy": {"fallback_models": [f"p{j}/m" for j in ch.fallbacks],
                                              "default_strategy": ch.strategy,
                                              "default_max_attempts": ch.max_attempts,
                                              "backoff": {"base_ms": 0, "max_ms": 0, "jitter": False}}}
        if ch.retry_401:
            p["retry_policy"]["on_status_codes"] = [{"codes": [401], "strategy": "different_provider"}]
        providers.append(p)
    cfg: dict[str, Any] = {
        "version": "v0.4.0", "listeners": [{"type": "model", "address": "127.0.0.1", "port": 0}],
        "model_providers": providers,
        "model_aliases": {f"a{i}": {"target": f"p{i}/m"} for i in range(len(providers))},
        "dubnium": {"policy_profile": profile_path}}
    if s.route:
        cfg["routing_preferences"] = [{"name": "build triage", "description": PROMPT,
                                       "models": [f"p{i}/m" for i in s.route], "examples": [PROMPT]}]
    return cfg


def profile_for(s: Scenario) -> dict[str, Any]:
    sources = [{"id": f"src-{i}", "plano_alias": f"a{i}", "privacy_boundary": ch.label}
               for i, ch in enumerate(s.channels) if ch.label is not None]
    return {**PROFILE, "sources": sources}


async def run(s: Scenario, profile_path: str) -> tuple[list[int], str | None]:
    """Received counts per fake, and the error code the client got (None: an answer)."""
    runners: list[web.AppRunner] = []
    fakes: list[FakeUpstream] = []
    for i, ch in enumerate(s.channels):
        fake = FakeUpstream(f"p{i}").script(*(FAILURES[name] for name in ch.script))
        runner = web.AppRunner(fake.app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        runners.append(runner)
        fakes.append(fake)
    text = yaml.safe_dump(gateway_config(s, fakes, profile_path))
    server = Server(gateway=build_gateway(load_config(None, text=text, environ={})),
                    loader=lambda: load_config(None, text=text, environ={}), notifier=Notifier({}))
    headers = {k: v for k, v in (("X-Privacy-Class", s.privacy), ("X-Data-Class", s.data_class)) if v}
    try:
        await server.start()
        client = openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{server.addresses[0][1]}/v1", api_key="k",
                                    max_retries=0, timeout=20)
        try:
            await client.chat.completions.create(model=s.requested, extra_headers=headers,
                                                 messages=[{"role": "user", "content": PROMPT}])
            code = None
        except openai.APIStatusError as exc:
            code = str(exc.body.get("code")) if isinstance(exc.body, dict) else str(exc.status_code)
        finally:
            await client.close()
    finally:
        await server.stop()
        for runner in reversed(runners):
            await runner.cleanup()
    return [len(f.received) for f in fakes], code


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(s=scenarios())
def test_no_upstream_outside_the_allowed_boundaries_ever_receives_a_request(s: Scenario, tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("profile") / "profile.yaml"
    path.write_text(yaml.safe_dump(profile_for(s)))
    received, code = asyncio.run(run(s, str(path)))

    allowed = s.allowed()
    for ch, count in zip(s.channels, received, strict=True):
        if ch.boundary not in allowed:
            assert count == 0, (ch, allowed, received)
    if code == "privacy_violation":  # denied before any upstream call
        assert not any(received), received
    if code is None:  # an answer came from an allowed upstream
        assert any(count and ch.boundary in allowed for ch, count in zip(s.channels, received, strict=True))
