"""What the gateway records and says about upstream faults (issue 13 cases 4, 9, 11, 12, 14; issue 12's
usage): the access line, the ledger, the metrics, the client's error body, and never a configured key."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from plano_daemon.upstream import TransportFailure, UpstreamPool
from tests.conftest import config, provider
from tests.fakes.faulty_upstream import echo_key_401, fault
from tests.fakes.upstream import anthropic_message, reply_json, reply_status
from tests.faults.harness import PATHS, parse_sse, request_body

SECRET = "sk-live-7f3a9c2e1b-distinctive"
HEADERS = {"anthropic-version": "2023-06-01"}


async def post(gw: Any, api: str, body: dict[str, Any]) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as client, client.post(gw.url + PATHS[api], json=body,
                                                              headers=HEADERS) as resp:
        return resp.status, await resp.read()


async def ledger(gw: Any, state: Path) -> list[dict[str, Any]]:
    gw.accounted()
    await gw.server.gateway.services.ledger.flush()
    path = state / "route-decisions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def metrics(gw: Any) -> str:
    async with aiohttp.ClientSession() as client, client.get(gw.url + "/metrics") as resp:
        return await resp.text()


def access_lines(gw: Any, caplog: pytest.LogCaptureFixture) -> list[tuple[int, dict[str, Any]]]:
    gw.accounted()
    return [(r.levelno, json.loads(r.getMessage())) for r in caplog.records if r.name == "plano_daemon.access"]


async def test_a_stream_cut_after_its_first_byte_is_an_error_in_log_ledger_and_metrics(
        fake_upstream, gateway, state_directory, caplog):
    caplog.set_level(logging.INFO, "plano_daemon.access")
    a = (await fake_upstream("a")).script(fault("truncated", "mid"))
    gw = await gateway(config(provider("a/m", a)))

    status, raw = await post(gw, "chat", request_body("chat", True))

    events, torn = parse_sse(raw)
    assert status == 200 and not torn and "error" in events[-1][1] and (None, "[DONE]") not in events
    (level, line), = access_lines(gw, caplog)
    assert level == logging.WARNING and line["status"] == 200 and "ended before its end event" in line["error"]
    record, = await ledger(gw, state_directory)
    assert record["decision_outcome"] == "error" and "ended before its end event" in record["error"]
    assert record["attempts"][0]["error"] == "truncated"
    assert 'plano_upstream_requests_total{error_class="truncated",model="a/m",provider="a",status_class="2xx"} 1.0' \
        in await metrics(gw)


@pytest.mark.parametrize("api", ["chat", "messages", "responses"])
async def test_a_broken_answer_with_no_fallback_is_a_clean_502_in_the_clients_dialect(
        api, fake_upstream, gateway, caplog):
    caplog.set_level(logging.INFO, "plano_daemon.access")
    a = (await fake_upstream("a")).script(fault("html"))
    gw = await gateway(config(provider("a/m", a)))

    status, raw = await post(gw, api, request_body(api, False))

    body = json.loads(raw)
    assert status == 502
    assert (body["type"] == "error" and body["error"]["type"] == "api_error") if api == "messages" \
        else body["error"]["code"] == "upstream_exhausted"
    (level, line), = access_lines(gw, caplog)
    assert level == logging.ERROR and line["error"].startswith("upstream_exhausted")


async def test_tool_arguments_named_output_tokens_are_content_not_usage(fake_upstream, gateway, state_directory):
    """Issue 12: a non-streaming Anthropic reply whose tool_use.input has an output_tokens key counts 7."""
    a = await fake_upstream("a")
    reply = {**anthropic_message("m", ""), "stop_reason": "tool_use",
             "content": [{"type": "tool_use", "id": "toolu_1", "name": "report",
                          "input": {"output_tokens": 500000, "input_tokens": 400000}}]}
    a.script(reply_json(reply))
    gw = await gateway(config(provider("a/m", a, provider_interface="anthropic")))

    status, _ = await post(gw, "messages", request_body("messages", False))

    assert status == 200
    record, = await ledger(gw, state_directory)
    assert (record["usage"]["input_tokens"], record["usage"]["output_tokens"]) == (11, 7)
    text = await metrics(gw)
    assert 'plano_tokens_total{kind="output",model="a/m"} 7.0' in text
    assert 'plano_tokens_total{kind="input",model="a/m"} 11.0' in text


@pytest.mark.parametrize("interface", ["openai", "anthropic"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("api", ["chat", "messages", "responses"])
async def test_an_upstream_echoing_the_key_never_shows_it(api, stream, interface, fake_upstream, gateway,
                                                          state_directory, caplog):
    caplog.set_level(logging.DEBUG, "plano_daemon")
    header = "x-api-key" if interface == "anthropic" else "Authorization"
    a = (await fake_upstream("a")).script(echo_key_401(header))
    gw = await gateway(config({**provider("a/m", a, provider_interface=interface), "access_key": SECRET}))

    status, raw = await post(gw, api, request_body(api, stream))

    assert status == 401 and b"[redacted]" in raw
    outputs = {"body": raw.decode(), "logs": caplog.text, "metrics": await metrics(gw),
               "ledger": json.dumps(await ledger(gw, state_directory))}
    assert {where for where, text in outputs.items() if SECRET in text} == set()


async def test_transport_failures_name_the_upstream_host_and_port(gateway, caplog):
    caplog.set_level(logging.INFO, "plano_daemon")
    gw = await gateway(config({"model": "a/m", "base_url": "http://127.0.0.1:9/v1", "access_key": SECRET}))

    status, _ = await post(gw, "chat", request_body("chat", False))

    assert status == 502
    (level, line), = access_lines(gw, caplog)
    assert level == logging.ERROR and line["attempts"][0]["upstream"] == "127.0.0.1:9"
    assert "127.0.0.1:9" in line["error"] or "127.0.0.1:9" in caplog.text
    assert SECRET not in caplog.text


async def test_a_4xx_line_says_why(fake_upstream, gateway, caplog):
    caplog.set_level(logging.INFO, "plano_daemon.access")
    a = (await fake_upstream("a")).script(reply_status(400))
    gw = await gateway(config(provider("a/m", a)))

    assert (await post(gw, "chat", {"model": "a/m"}))[0] == 400
    assert (await post(gw, "chat", {"model": "nope/x", "messages": []}))[0] == 404
    assert (await post(gw, "chat", request_body("chat", False)))[0] == 400
    lines = access_lines(gw, caplog)
    assert [level for level, _ in lines] == [logging.WARNING] * 3
    assert [line["error"].split(":")[0] for _, line in lines] == ["invalid_request", "model_not_found",
                                                                  "upstream a/m answered HTTP 400"]


@pytest.mark.parametrize("url, headers", [
    ("http://user:{secret}@127.0.0.1:{port}/v1/x", {"Authorization": "Bearer k"}),
    ("http://127.0.0.1:{port}/v1/x", {"Authorization": "Bearer {secret}\n"}),
], ids=["credentials-in-url", "key-with-newline"])
async def test_requests_aiohttp_refuses_to_send_are_a_failure_value_not_an_exception(
        url, headers, aiohttp_server):
    """Case 9: aiohttp raises ValueError (outside ClientError) for these; the pool returns a failure the
    retry plan fails over from, and its detail holds no secret."""
    from aiohttp import web

    server = await aiohttp_server(web.Application())
    pool = UpstreamPool(connect_timeout=1.0)
    try:
        result = await pool.send(url.format(secret=SECRET, port=server.port),
                                 {k: v.format(secret=SECRET) for k, v in headers.items()}, b"{}",
                                 headers_timeout=2.0)
    finally:
        await pool.close()
    assert isinstance(result, TransportFailure) and result.kind == "request" and SECRET not in result.detail


async def test_a_lone_surrogate_model_does_not_stop_the_ledger(fake_upstream, gateway, state_directory):
    """Case 12: the record of a request naming "\\ud800" is written, and so is every record after it."""
    a = await fake_upstream("a")
    gw = await gateway(config(provider("a/m", a)))

    assert (await post(gw, "chat", {"model": "\ud800", "messages": []}))[0] == 404
    assert (await post(gw, "chat", request_body("chat", False)))[0] == 200

    records = await ledger(gw, state_directory)
    assert [r["requested_model"] for r in records] == ["\ud800", "a/m"]
    assert records[0]["decision_outcome"] == "error" and records[1]["decision_outcome"] == "selected"


@pytest.mark.parametrize("interface", ["openai", "anthropic"])
@pytest.mark.parametrize("api", ["chat", "messages", "responses"])
async def test_an_error_event_quoting_the_key_mid_stream_never_shows_it(api, interface, fake_upstream, gateway):
    from aiohttp import web

    from tests.fakes.upstream import Received, anthropic_stream, chat_chunks

    async def quote_key_mid_stream(request: web.Request, rec: Received) -> web.StreamResponse:
        anthropic = request.path.endswith("/messages")
        key = request.headers.get("x-api-key" if anthropic else "Authorization", "").removeprefix("Bearer ")
        start = (anthropic_stream("m", "hi") if anthropic else chat_chunks("m", ["hi"]))[:2]
        error = {"type": "error", "error": {"type": "api_error", "message": f"key {key} revoked"}} if anthropic \
            else {"error": {"message": f"key {key} revoked", "type": "server_error"}}
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b"".join(start))
        await asyncio.sleep(0.05)  # the client has its first bytes: the error can only be an event now
        await resp.write(f"data: {json.dumps(error)}\n\n".encode())
        await resp.write_eof()
        return resp

    a = (await fake_upstream("a")).script(quote_key_mid_stream)
    gw = await gateway(config({**provider("a/m", a, provider_interface=interface), "access_key": SECRET}))

    status, raw = await post(gw, api, request_body(api, True))

    assert status == 200 and SECRET.encode() not in raw and b"revoked" in raw
