"""SIGHUP with a config that cannot be read: one log line, no traceback, no secret, READY=1, still serving."""

from __future__ import annotations

import asyncio
import logging
import signal

import aiohttp
import pytest
import yaml

from plano_daemon.config.load import LoadedConfig, load_config
from plano_daemon.runtime import build_gateway
from plano_daemon.server import Server
from plano_daemon.systemd_notify import Notifier
from tests.conftest import config, provider
from tests.functional.test_systemd_functional import Daemon, daemon  # noqa: F401 - the fixture

KEY = "sk-live-reload-7f3a9c2e5b1d"


async def test_a_reload_that_is_not_utf8_is_one_line_without_the_key_then_ready(daemon, fake_upstream) -> None:  # noqa: F811
    up = await fake_upstream()
    good = config(provider("openai/m", up, access_key=KEY))
    d = await daemon(good)
    port = Daemon.port(await d.wait_for("READY=1"))

    d.config_path.write_bytes(yaml.safe_dump(good).encode() + b"# \xff\xfe\n")
    d.proc.send_signal(signal.SIGHUP)
    await d.wait_for("RELOADING=1")
    after = await d.wait_for("READY=1")
    assert "reload rejected" in after and KEY not in after
    async with aiohttp.ClientSession() as s:
        body = {"model": "openai/m", "messages": [{"role": "user", "content": "hi"}]}
        async with s.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body) as resp:
            assert resp.status == 200
    assert up.received[-1].headers["Authorization"] == f"Bearer {KEY}"

    d.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(d.proc.wait(), 20) == 0
    stderr = (await d.proc.stderr.read()).decode()
    rejected = [line for line in stderr.splitlines() if "reload rejected" in line]
    assert len(rejected) == 1 and "not UTF-8" in rejected[0], stderr
    assert "Traceback" not in stderr and "Exception in callback" not in stderr and KEY not in stderr


class Recording(Notifier):
    def __init__(self) -> None:
        super().__init__({})
        self.sent: list[str] = []

    def _send(self, *lines: str) -> None:
        self.sent.append("\n".join(lines))


def test_any_failure_while_reloading_is_one_line_and_ready_again(caplog: pytest.LogCaptureFixture) -> None:
    loaded = load_config(None, text=yaml.safe_dump(config({"model": "openai/m", "base_url": "http://127.0.0.1:9/v1",
                                                            "access_key": KEY})), environ={})

    def broken_loader() -> LoadedConfig:
        raise RuntimeError(f"a bug that quotes {KEY}")

    notifier = Recording()
    server = Server(gateway=build_gateway(loaded), loader=broken_loader, notifier=notifier)
    with caplog.at_level(logging.INFO, logger="plano_daemon"):
        assert server.reload() is False
    assert notifier.sent[0].startswith("RELOADING=1") and notifier.sent[-1].startswith("READY=1")
    assert [r.getMessage() for r in caplog.records] == [
        "reload rejected, serving the previous config: unexpected RuntimeError while loading"]
    assert all(r.exc_info is None for r in caplog.records)
    assert KEY not in repr(server)
