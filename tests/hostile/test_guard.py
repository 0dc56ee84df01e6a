"""The guard around every non-proxy route (web/guard.py): a bug of ours is logged with its traceback, answered
as JSON 500 in the client's dialect with the request id, counted as 5xx and logged at ERROR in the access log;
paths and methods no route takes are JSON 404/405, on the separate metrics listener too."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import yaml

from plano_daemon.runtime import build_gateway
from plano_daemon.web.app import make_app, make_metrics_app
from plano_daemon.web.keys import GATEWAY
from tests.conftest import config, load_text


async def test_an_unexpected_error_on_routing_is_a_json_500_in_the_dialect_and_counted(
        aiohttp_client: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    gateway = build_gateway(load_text(yaml.safe_dump(config(
        {"model": "openai/m", "base_url": "http://127.0.0.1:9/v1", "access_key": "k"},
        routing_preferences=[{"name": "code", "description": "code", "models": ["openai/m"]}]))))
    app = make_app(gateway, listener_timeout=30)

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(type(gateway.runtime.routing), "route", broken)
    client = await aiohttp_client(app)
    with caplog.at_level(logging.INFO, logger="plano_daemon"):
        resp = await client.post("/routing/v1/messages", json={"model": "x", "messages": []},
                                 headers={"traceparent": f"00-{'ab' * 16}-{'cd' * 8}-01"})
        body = await resp.json()
    assert resp.status == 500 and resp.headers["X-Request-Id"] == "ab" * 16
    assert body["type"] == "error" and body["error"]["type"] == "api_error"
    assert any(r.exc_info and "RuntimeError" in str(r.exc_info[1].__class__) for r in caplog.records)
    access = [r for r in caplog.records if r.name == "plano_daemon.access"]
    assert access[-1].levelno == logging.ERROR and '"status":500' in access[-1].getMessage()
    metrics = app[GATEWAY].services.metrics.render().decode()
    assert 'plano_requests_total{handler="routing",method="POST",status_class="5xx"} 1.0' in metrics


async def test_the_metrics_listener_answers_unknown_paths_and_methods_as_json_and_counts_them(
        aiohttp_client: Any) -> None:
    gateway = build_gateway(load_text(yaml.safe_dump(config(
        {"model": "openai/m", "base_url": "http://127.0.0.1:9/v1", "access_key": "k"}))))
    client = await aiohttp_client(make_metrics_app(gateway))
    resp = await client.get("/nowhere")
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found"
    resp = await client.post("/metrics")
    assert resp.status == 405 and resp.headers["Allow"] == "GET,HEAD"
    assert (await resp.json())["error"]["code"] == "method_not_allowed"
    resp = await client.get("/metrics")
    assert resp.status == 200
    text = await resp.text()
    assert 'plano_requests_total{handler="none",method="GET",status_class="4xx"} 1.0' in text
    assert 'plano_requests_total{handler="none",method="POST",status_class="4xx"} 1.0' in text
