"""Bad client input, ops endpoints and 404s: always JSON, never a 500, never a traceback."""

from __future__ import annotations

import logging

import aiohttp
import pytest

from tests.conftest import config, provider
from tests.fakes.upstream import chat_completion


@pytest.fixture
async def gw(fake_upstream, gateway):
    up = await fake_upstream()
    return await gateway(config(provider("openai/m", up, default=True),
                                {"model": "openai/router", "base_url": up.base_url},
                                model_aliases={"fast": {"target": "openai/m"}},
                                overrides={"llm_routing_model": "openai/router"},
                                dubnium={"max_body_bytes": 4096}))


BAD_BODIES = [
    (b"{not json", 400, "not valid JSON"),
    (b"[1, 2]", 400, "must be a JSON object"),
    (b'{"messages": []}', 400, "`model` is required"),
    (b'{"model": 5, "messages": []}', 400, "`model` must be a non-empty string"),
    (b'{"model": "openai/m"}', 400, "`messages` is required"),
    (b'{"model": "openai/m", "messages": "hi"}', 400, "`messages` must be an array"),
    (b'{"model": "openai/m", "messages": [], "stream": "yes"}', 400, "`stream` must be a boolean"),
    (b'{"model": "nobody/serves-this", "messages": []}', 404, "nobody/serves-this"),
]


@pytest.mark.parametrize("body,status,message", BAD_BODIES)
async def test_bad_input_is_a_json_4xx(gw, caplog, body: bytes, status: int, message: str) -> None:
    caplog.set_level(logging.DEBUG)
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{gw.base_url}/chat/completions", data=body,
                          headers={"Content-Type": "application/json"}) as resp:
            data = await resp.json()
    assert resp.status == status
    assert message in data["error"]["message"]
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages", "/v1/responses",
                                  "/routing/v1/chat/completions", "/v1/messages/count_tokens"])
async def test_body_over_the_limit_is_413(gw, path: str) -> None:
    body = b'{"model": "openai/m", "messages": [{"role": "user", "content": "' + b"x" * 8000 + b'"}]}'
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{gw.url}{path}", data=body,
                          headers={"Content-Type": "application/json"}) as resp:
            data = await resp.json()
    assert resp.status == 413
    assert data["error"]["code"] == "request_too_large"


async def test_models_lists_providers_and_aliases_not_the_router(gw) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{gw.base_url}/models") as resp:
            data = await resp.json()
            assert resp.headers["Access-Control-Allow-Origin"] == "*"
        async with s.options(f"{gw.base_url}/models", headers={
                "Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"}) as pre:
            assert pre.status == 204
            assert "GET" in pre.headers["Access-Control-Allow-Methods"]
    assert data["object"] == "list"
    assert [m["id"] for m in data["data"]] == ["openai/m", "fast"]
    assert all(m["object"] == "model" and m["owned_by"] == "openai" and m["created"] for m in data["data"])


async def test_health_and_unknown_paths(gw) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{gw.url}/healthz") as resp:
            assert resp.status == 200
        async with s.get(f"{gw.url}/v2/whatever") as resp:
            assert resp.status == 404
            assert (await resp.json())["error"]["code"] == "not_found"
        async with s.get(f"{gw.base_url}/chat/completions") as resp:  # a POST path: 405, with Allow
            assert resp.status == 405 and resp.headers["Allow"] == "POST"
            assert (await resp.json())["error"]["code"] == "method_not_allowed"


async def test_metrics_count_requests_upstreams_and_tokens(fake_upstream, gateway, openai_client, monkeypatch) -> None:
    """A scrape counts every request answered before it, however recently (accounting runs in batches)."""
    monkeypatch.setattr("plano_daemon.accounting.ACCOUNT_DELAY_SECONDS", 60.0)
    up = await fake_upstream()
    gw = await gateway(config(provider("openai/m", up, default=True), model_aliases={"fast": {"target": "openai/m"}}))
    client = openai_client(gw)
    await client.chat.completions.create(model="fast", messages=[{"role": "user", "content": "hi"}])
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{gw.url}/metrics") as resp:
            text = await resp.text()
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert 'plano_requests_total{handler="chat",method="POST",status_class="2xx"} 1.0' in text
    assert 'plano_upstream_requests_total{error_class="none",model="openai/m",provider="openai",status_class="2xx"} 1.0' in text
    assert 'plano_tokens_total{kind="input",model="openai/m"} 11.0' in text
    assert "plano_requests_in_flight 0.0" in text


async def test_a_request_answered_just_before_shutdown_is_in_the_log_and_the_ledger(
        fake_upstream, gateway, openai_client, state_directory, caplog, monkeypatch) -> None:
    """Accounting runs in batches after the responses: stopping the gateway does what is still due."""
    import json

    monkeypatch.setattr("plano_daemon.accounting.ACCOUNT_DELAY_SECONDS", 60.0)  # due only at shutdown
    caplog.set_level(logging.INFO, logger="plano_daemon.access")
    up = await fake_upstream()
    gw = await gateway(config(provider("openai/m", up, default=True)))
    await openai_client(gw).chat.completions.create(model="openai/m", messages=[{"role": "user", "content": "hi"}])
    await gw.server.stop()
    assert len([r for r in caplog.records if r.name == "plano_daemon.access"]) == 1
    records = (state_directory / "route-decisions.jsonl").read_text().splitlines()
    assert [json.loads(line)["requested_model"] for line in records] == ["openai/m"]


async def test_one_access_line_per_request_without_prompt_or_key(gw, openai_client, caplog) -> None:
    import json

    caplog.set_level(logging.INFO, logger="plano_daemon.access")
    await openai_client(gw).chat.completions.create(
        model="fast", messages=[{"role": "user", "content": "a very private prompt"}])
    gw.accounted()
    lines = [r.getMessage() for r in caplog.records if r.name == "plano_daemon.access"]
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert (entry["requested"], entry["resolved"], entry["status"]) == ("fast", "openai/m", 200)
    assert len(entry["request_id"]) == 32 and entry["attempts"][0]["status"] == 200
    assert "private prompt" not in lines[0] and "key-for-" not in lines[0]


async def test_reload_names_the_settings_that_need_a_restart(fake_upstream, gateway, caplog) -> None:
    import yaml

    from tests.conftest import load_text

    up = await fake_upstream()
    cfg = config(provider("openai/m", up))
    gw = await gateway(cfg)
    cfg["listeners"][0]["timeout"] = "10s"
    cfg["dubnium"] = {"max_body_bytes": 4096, "ledger": {"enabled": False}}
    gw.server.loader = lambda: load_text(yaml.safe_dump(cfg))
    with caplog.at_level(logging.WARNING, logger="plano_daemon"):
        assert gw.server.reload()
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("reload:")]
    assert "listeners, dubnium.max_body_bytes, dubnium.ledger changed" in line


async def test_stop_closes_every_listener_while_one_is_still_draining(fake_upstream, gateway) -> None:
    import asyncio

    from aiohttp import web

    up = await fake_upstream()
    arrived, release = asyncio.Event(), asyncio.Event()

    async def held(request, rec):
        arrived.set()
        await release.wait()
        return web.json_response(chat_completion("m", "done"))

    up.script(held)
    listener = {"type": "model", "address": "127.0.0.1", "port": 0}
    cfg = config(provider("openai/m", up))
    cfg["listeners"] = [{**listener, "name": "first"}, {**listener, "name": "second", "address": "127.0.0.2"}]
    gw = await gateway(cfg)
    first, second = gw.server.addresses
    body = {"model": "openai/m", "messages": [{"role": "user", "content": "x"}]}

    async def accepts(address: tuple[str, int]) -> bool:
        try:
            _, writer = await asyncio.open_connection(*address)
        except OSError:
            return False
        writer.close()
        await writer.wait_closed()
        return True

    async with aiohttp.ClientSession() as s:
        in_flight = asyncio.create_task(s.post(f"http://127.0.0.2:{second[1]}/v1/chat/completions", json=body))
        await arrived.wait()
        stopping = asyncio.create_task(gw.server.stop())
        for _ in range(5):  # a few loop steps, no waiting: stop() closes the sites before it drains
            await asyncio.sleep(0)
        assert not await accepts(second)
        assert not await accepts(first)  # not still taking requests while the second drains
        release.set()
        async with await in_flight as resp:
            assert resp.status == 200  # the in-flight request finished
        await stopping


async def test_a_bug_of_ours_is_a_json_500_in_the_clients_dialect(gw, monkeypatch, caplog) -> None:
    import plano_daemon.web.proxy

    def broken(client_api: str, upstream_api: str) -> None:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(plano_daemon.web.proxy, "translation_for", broken)
    caplog.set_level(logging.ERROR, logger="plano_daemon")
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{gw.url}/v1/messages", json={
                "model": "openai/m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}) as resp:
            data = await resp.json()
    assert resp.status == 500
    assert data["type"] == "error" and "internal error" in data["error"]["message"]
    assert "simulated bug" in caplog.text


async def test_a_bug_that_escapes_a_proxy_handler_is_a_json_500_with_its_traceback_logged(
        gw, monkeypatch, caplog) -> None:
    """The proxy handlers are added without a guard around them (web/guard.py): what escapes one, here from
    the handler's last step, is answered by the connection, still as JSON in the client's dialect."""
    from plano_daemon.accounting import AccountingQueue

    def broken(*args: object) -> None:
        raise RuntimeError("simulated bug in the accounting")

    monkeypatch.setattr(AccountingQueue, "defer", broken)
    caplog.set_level(logging.ERROR, logger="plano_daemon")
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{gw.url}/v1/messages", json={
                "model": "openai/m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
                headers={"traceparent": f"00-{'ab' * 16}-{'cd' * 8}-01"}) as resp:
            data = await resp.json()
    assert resp.status == 500 and resp.headers["X-Request-Id"] == "ab" * 16
    assert data["type"] == "error" and data["error"]["type"] == "api_error"
    assert any(r.exc_info and "simulated bug in the accounting" in str(r.exc_info[1]) for r in caplog.records)
    access = [r for r in caplog.records if r.name == "plano_daemon.access"]
    assert access and '"status":500' in access[-1].getMessage()
