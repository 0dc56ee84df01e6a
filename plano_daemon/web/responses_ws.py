"""GET /v1/responses with a WebSocket upgrade: the Responses WebSocket transport Codex opens first.

Protocol (codex-rs `codex-api/src/endpoint/responses_websocket.rs`): the client sends text messages
`{"type": "response.create", ...a Responses request body...}`; the server answers each with the same
events a streaming POST /v1/responses sends, one JSON text message per event, up to the terminal
`response.completed` / `response.incomplete` / `response.failed`. A refused request is one message
`{"type": "error", "status": <http status>, "error": {...}}`, which Codex treats as that HTTP error.
`response.processed` acknowledgements are accepted and ignored.

Each `response.create` is sent as a streaming POST /v1/responses to this same listener over loopback,
so it runs exactly like one (routing, policy, failover, translation, ledger, metrics, access log; the
connection itself gets its guard's access line, status 101)
without a second implementation of the request path. The connection keeps the last request's input
and output: Codex sends `previous_response_id` with only the new items when it reuses a connection,
and a prewarm request (`generate: false`) that must not reach a model.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from plano_daemon.logs import LOG
from plano_daemon.wire.sse import SSEParser

#: Upgrade-request headers not forwarded to the inner POST (hop-by-hop, WebSocket, transport).
_NOT_FORWARDED = frozenset({"host", "upgrade", "connection", "content-length", "content-type", "accept",
                            "accept-encoding", "openai-beta", "sec-websocket-key", "sec-websocket-version",
                            "sec-websocket-extensions", "sec-websocket-protocol", "sec-websocket-accept"})
#: Fields of a `response.create` message that are WebSocket transport details, not Responses API fields.
_WS_ONLY_FIELDS = ("generate", "stream_options", "client_metadata")
#: Trace context Codex puts in `client_metadata` (a WebSocket message has no headers of its own).
_TRACE_KEYS = {"ws_request_header_traceparent": "traceparent", "ws_request_header_tracestate": "tracestate"}
_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed", "error"})
_MAX_MESSAGE = 64 * 1024 * 1024


@dataclass(slots=True)
class Conversation:
    """What this connection remembers: the last response's id, the input it answered and its output."""

    response_id: str | None = None
    items: list[Any] = field(default_factory=list)

    def expand(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """`body` with `previous_response_id` replaced by the items it stands for; None if unknown here."""
        previous = body.get("previous_response_id")
        if not previous:
            return body
        if previous != self.response_id:
            return None
        new = body.get("input")
        new_items = [{"type": "message", "role": "user", "content": new}] if isinstance(new, str) else (
            new if isinstance(new, list) else [])
        out = {k: v for k, v in body.items() if k != "previous_response_id"}
        out["input"] = [*self.items, *new_items]
        return out

    def remember(self, body: dict[str, Any], response: dict[str, Any]) -> None:
        given = body.get("input")
        items = [{"type": "message", "role": "user", "content": given}] if isinstance(given, str) else (
            list(given) if isinstance(given, list) else [])
        output = response.get("output")
        self.items = items + (list(output) if isinstance(output, list) else [])
        self.response_id = response.get("id") if isinstance(response.get("id"), str) else None


async def responses_ws(request: web.Request) -> web.StreamResponse:
    """The WebSocket transport, or a JSON 400 for a plain GET (the Responses API is POST)."""
    ws = web.WebSocketResponse(max_msg_size=_MAX_MESSAGE, heartbeat=30.0)
    if not ws.can_prepare(request).ok:
        refusal = {"error": {"message": "GET /v1/responses needs a WebSocket upgrade; send requests with POST",
                             "type": "invalid_request_error", "code": "websocket_upgrade_required", "param": None}}
        return web.json_response(refusal, status=400)
    started = time.perf_counter()
    await ws.prepare(request)
    target = _inner_url(request)
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED}
    conversation = Conversation()
    created = 0
    messages: asyncio.Queue[str | None] = asyncio.Queue()
    reader = asyncio.create_task(_read(ws, messages))
    answer: asyncio.Task[None] | None = None
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None),
                                         auto_decompress=True) as session:
            while (text := await messages.get()) is not None:
                body = _parse(text)
                if isinstance(body, str):
                    await _send_error(ws, 400, "unsupported_message", body)
                    continue
                if body is None:  # response.processed: an acknowledgement
                    continue
                created += 1
                # The answer runs beside the reader, so a client that leaves cancels it (and with it the
                # inner request and the upstream generation) instead of letting it run to the end.
                answer = asyncio.create_task(_create(ws, session, target, headers, conversation, body))
                await asyncio.wait((answer, reader), return_when=asyncio.FIRST_COMPLETED)
                if not answer.done():
                    answer.cancel()
                    LOG.debug("responses websocket: client left mid-answer; request cancelled")
                    break
                failure = answer.exception()
                if isinstance(failure, aiohttp.ClientError):  # the inner request failed
                    await _send_error(ws, 502, "gateway_error",
                                      f"the request could not be served: {type(failure).__name__}")
                elif failure is not None:
                    raise failure
    except ConnectionResetError:
        LOG.debug("responses websocket: client disconnected")
    except asyncio.CancelledError:
        # aiohttp cancels the handler once the client's TCP connection is gone, which for a WebSocket is
        # how a session normally ends: the connection was served (101), not abandoned.
        if not ws.closed and not reader.done():
            raise
    finally:
        reader.cancel()
        if answer is not None and not answer.done():
            answer.cancel()
        LOG.debug("responses websocket closed after %d responses, %.0f ms", created,
                  (time.perf_counter() - started) * 1000)
    return ws


async def _read(ws: web.WebSocketResponse, messages: asyncio.Queue[str | None]) -> None:
    """Client text messages into `messages`; None once the client closed the connection."""
    try:
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                await messages.put(message.data)
    finally:
        await messages.put(None)


def _parse(text: str) -> dict[str, Any] | str | None:
    """A response.create message; None for an acknowledgement; a string saying what is wrong otherwise."""
    try:
        body = json.loads(text)
    except ValueError:
        return "a message must be one JSON object"
    kind = body.get("type") if isinstance(body, dict) else None
    if kind == "response.processed":
        return None
    if kind != "response.create":
        return f"unsupported message type {kind!r}; send response.create"
    return body  # type: ignore[no-any-return]


async def _create(ws: web.WebSocketResponse, session: aiohttp.ClientSession, target: str,
                  headers: dict[str, str], conversation: Conversation, message: dict[str, Any]) -> None:
    body = {k: v for k, v in message.items() if k != "type"}
    expanded = conversation.expand(body)
    if expanded is None:
        await _send_error(ws, 400, "previous_response_not_found",
                          f"previous response {body.get('previous_response_id')!r} is not known on this "
                          "connection; send the whole conversation in `input`", param="previous_response_id")
        return
    if expanded.get("generate") is False:  # a prewarm: nothing to generate, only state to keep
        response = _empty_response(expanded)
        for kind in ("response.created", "response.completed"):
            await ws.send_str(json.dumps({"type": kind, "response": response}))
        conversation.remember(expanded, response)
        return
    payload = {k: v for k, v in expanded.items() if k not in _WS_ONLY_FIELDS}
    payload["stream"] = True
    async with session.post(target, json=payload, headers={**headers, **_trace_headers(expanded)}) as resp:
        if resp.status >= 400 or resp.content_type != "text/event-stream":
            await _send_upstream_error(ws, resp)
            return
        parser = SSEParser()
        async for chunk in resp.content.iter_any():
            for event in parser.feed(chunk):
                data = event.text.strip()
                if not data or data == "[DONE]":
                    continue
                await ws.send_str(data)
                try:
                    parsed = json.loads(data)
                except ValueError:
                    continue
                if isinstance(parsed, dict) and parsed.get("type") in _TERMINAL:
                    final = parsed.get("response")
                    if isinstance(final, dict) and parsed["type"] != "response.failed":
                        conversation.remember(expanded, final)
                    return


def _trace_headers(body: dict[str, Any]) -> dict[str, str]:
    metadata = body.get("client_metadata")
    if not isinstance(metadata, dict):
        return {}
    return {header: metadata[key] for key, header in _TRACE_KEYS.items() if isinstance(metadata.get(key), str)}


async def _send_upstream_error(ws: web.WebSocketResponse, resp: aiohttp.ClientResponse) -> None:
    raw = await resp.read()
    try:
        error = json.loads(raw).get("error")
    except (ValueError, AttributeError):
        error = None
    if not isinstance(error, dict):
        error = {"message": raw.decode("utf-8", "replace")[:500] or f"HTTP {resp.status}", "type": "server_error"}
    await ws.send_str(json.dumps({"type": "error", "status": resp.status, "error": error}))


async def _send_error(ws: web.WebSocketResponse, status: int, code: str, message: str,
                      param: str | None = None) -> None:
    LOG.debug("responses websocket: %s", code)
    await ws.send_str(json.dumps({"type": "error", "status": status, "error": {
        "type": "invalid_request_error", "code": code, "message": message, "param": param}}))


def _empty_response(body: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"resp_{uuid.uuid4().hex}", "object": "response", "created_at": int(time.time()),
            "status": "completed", "error": None, "incomplete_details": None, "model": body.get("model", ""),
            "output": [], "usage": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}}


def _inner_url(request: web.Request) -> str:
    """POST /v1/responses on the listener this connection came in on (loopback when it listens on any)."""
    sockname = request.transport.get_extra_info("sockname") if request.transport is not None else None
    if not isinstance(sockname, tuple):
        return str(request.url.with_path("/v1/responses").with_query(None).with_scheme("http"))
    host, port = sockname[0], sockname[1]
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/v1/responses"
