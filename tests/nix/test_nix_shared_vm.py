"""The VM test nix/tests/plano-shared.nix replayed offline: its gateway settings (plano-shared-settings.nix,
plus the fragment plano-shared.nix adds) on two real gateways sharing one real redis-server, one over the
unix socket (redis.createLocally's `unix://` URL), one over TCP (redis.url), as its two nodes do. So the
VM test's expectations (pin honoured across gateways, cap across both) are checked here against the daemon,
though the NixOS VM itself needs nixpkgs and KVM.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from nix_offline import nix_eval

from tests.conftest import RunningGateway
from tests.shared_state.conftest import until_shared

CAP = 3
LOCAL_MODEL = "qwen2.5-coder-14b-instruct"


def vm_settings(base_url: str) -> dict[str, Any]:
    return nix_eval(
        f"""import <repo/nix/tests/plano-shared-settings.nix> {{
          baseUrl = "{base_url}"; localModel = "{LOCAL_MODEL}"; cap = {CAP}; }}"""
    )


def fragment(**args: str | bool) -> dict[str, Any]:
    attrs = " ".join(f"{name} = builtins.fromJSON {json.dumps(json.dumps(value))};" for name, value in args.items())
    settings: dict[str, Any] = nix_eval(f"(import <repo/modules/nixos/plano-shared.nix> {{ {attrs} }}).settings")
    return settings


@pytest.fixture
def redis_socket_and_port(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """redis-server on a unix socket (as services.redis.servers.plano) and on loopback TCP (the VM's 2nd node)."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is not installed (apt-get install redis-server)")
        pytest.skip("redis-server is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sock = tmp_path / "redis.sock"
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--unixsocket", str(sock), "--unixsocketperm", "660",
         "--dir", str(tmp_path), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sock.exists(), "redis-server did not create its socket within 10 s"
        yield sock, port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def post(gw: RunningGateway, path: str, body: dict[str, Any], **headers: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as s, s.post(f"{gw.url}{path}", json=body, headers=headers) as resp:
        return resp.status, await resp.json()


def chat(model: str, text: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}]}


async def test_the_vm_tests_two_gateways_behave_as_one(gateway: Any, fake_upstream: Any,
                                                       redis_socket_and_port: tuple[Path, int]) -> None:
    sock, port = redis_socket_and_port
    up = await fake_upstream("fake-vllm")
    base = {"version": "v0.4.0", "listeners": [{"type": "model", "name": "egress_traffic",
                                                "address": "127.0.0.1", "port": 0}]}
    settings = {**base, **vm_settings(up.base_url)}
    local = fragment(createLocally=True, redisSocket=str(sock))
    assert local["routing"]["session_cache"]["url"] == f"unix://{sock}"
    external = fragment(redisUrl=f"redis://127.0.0.1:{port}/0")
    shared1 = await gateway({**settings, "routing": local["routing"],
                             "dubnium": {**settings["dubnium"], **local["dubnium"]}})
    shared2 = await gateway({**settings, "routing": external["routing"],
                             "dubnium": {**settings["dubnium"], **external["dubnium"]}})
    await until_shared(shared1, True)
    await until_shared(shared2, True)

    _, first = await post(shared1, "/routing/v1/chat/completions",
                          chat("openai/reasoner", "Write a Python function for binary search"), **{"X-Session-Id": "s-42"})
    _, second = await post(shared2, "/routing/v1/chat/completions",
                           chat("openai/reasoner", "Explain the trade-offs of merge sort"), **{"X-Session-Id": "s-42"})
    _, fresh = await post(shared2, "/routing/v1/chat/completions",
                          chat("openai/reasoner", "Explain the trade-offs of merge sort"), **{"X-Session-Id": "s-43"})
    assert (first["route"], first["pinned"]) == ("code_generation", False), first
    assert (second["route"], second["pinned"], second["model"]) == ("code_generation", True, first["models"][0])
    assert (fresh["route"], fresh["pinned"]) == ("complex_reasoning", False), fresh

    results = [await post(gw, "/v1/chat/completions", chat("openai/capped", "hello")) for gw in (shared1, shared2) * CAP]
    statuses = [status for status, _ in results]
    assert statuses.count(200) == CAP, statuses
    refused = [body for status, body in results if status == 429]
    assert len(refused) == CAP and all("budget_hard_limit" in json.dumps(b) for b in refused), results
