"""A strict, scripted fake LLM: serves one model the way vLLM (OpenAI chat) or Anthropic Messages serves it.

Strict because a lenient fake hides the failures real clients meet: a request a real chat template or the
Anthropic API would refuse gets the same 400 here (one leading system message, user/assistant alternation,
tool results answering the calls just before them, prompt + output limit within `max_model_len`, the bare
served model id, the configured key). Scripted because a real client decides what to do from the answers:
when the request offers tools and the conversation holds no answer to our call yet, `plan` picks the
client's own tool and its arguments; once the tool's result comes back, the answer is a final text. A request
without tools (titles, summaries, quota probes) gets a short text.

Every request is kept in `received`, with the error it got, for the tests to assert on.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from aiohttp import web

FINAL_TEXT = "All done: the file is written."
SIDE_TEXT = "Fake title"


class ToolSpec(TypedDict):
    """A tool the client offered, whatever the wire API: its name and JSON schema."""
    name: str
    schema: dict[str, Any]


class PlannedCall(TypedDict):
    name: str
    arguments: dict[str, Any]


#: Picks the call to make from the offered tools, or None to answer with text.
Planner = Callable[[list[ToolSpec]], PlannedCall | None]


class Rejected(Exception):
    """A request the real server refuses: the status and message it answers with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Exchange:
    """One request as received, and what the fake did with it."""
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    outcome: str = ""  # "tool_call", "final", "side", "models", or "error: <message>"
    call_id: str | None = None


@dataclass
class StrictLLM:
    """One served model (`model`, the bare id) behind `key`, for chat (`/v1/chat/completions`) and Messages."""
    model: str
    key: str
    plan: Planner
    max_model_len: int = 32768
    max_output_tokens: int = 128000  # Anthropic's per-model cap on max_tokens (current Opus)
    #: chat: strict user/assistant alternation, as Mistral, Gemma and Llama 2 templates ask (Qwen's does not)
    alternate: bool = False
    received: list[Exchange] = field(default_factory=list)
    url: str = ""  # http://127.0.0.1:PORT once started
    _calls: int = 0

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/v1/models/{id:.+}", self._model)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        return app

    # --- what the tests read ------------------------------------------------------------------------

    def generations(self) -> list[Exchange]:
        return [e for e in self.received if e.path in ("/v1/chat/completions", "/v1/messages")]

    def errors(self) -> list[str]:
        return [f"{e.path}: {e.outcome}" for e in self.received if e.outcome.startswith("error")]

    def tool_calls(self) -> list[Exchange]:
        return [e for e in self.received if e.outcome == "tool_call"]

    def answered(self, call_id: str) -> list[str]:
        """The tool results the client sent back for `call_id`, as text (chat and Messages alike)."""
        found: list[str] = []
        for e in self.generations():
            for msg in e.body.get("messages") or []:
                if msg.get("role") == "tool" and msg.get("tool_call_id") == call_id:
                    found.append(_text(msg.get("content")))
                if isinstance(msg.get("content"), list):
                    found += [_text(b.get("content")) for b in msg["content"]
                              if b.get("type") == "tool_result" and b.get("tool_use_id") == call_id]
        return found

    # --- handlers -----------------------------------------------------------------------------------

    def _record(self, request: web.Request, body: Any) -> Exchange:
        ex = Exchange(request.method, request.path, dict(request.headers), body)
        self.received.append(ex)
        return ex

    async def _unknown(self, request: web.Request) -> web.Response:
        ex = self._record(request, None)
        ex.outcome = "error: 404"
        return web.json_response({"detail": "Not Found"}, status=404)

    def _card(self) -> dict[str, Any]:
        return {"id": self.model, "object": "model", "created": 1700000000, "owned_by": "vllm",
                "root": self.model, "parent": None, "max_model_len": self.max_model_len}

    async def _models(self, request: web.Request) -> web.Response:
        self._record(request, None).outcome = "models"
        return web.json_response({"object": "list", "data": [self._card()]})

    async def _model(self, request: web.Request) -> web.Response:
        ex = self._record(request, None)
        if request.match_info["id"] != self.model:
            ex.outcome = "error: unknown model"
            return web.json_response({"detail": "Not Found"}, status=404)
        ex.outcome = "models"
        return web.json_response(self._card())

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        ex = self._record(request, body)
        try:
            if request.headers.get("Authorization") != f"Bearer {self.key}":
                raise Rejected("Unauthorized", 401)
            check_chat(body, self.model, self.max_model_len, alternate=self.alternate)
        except Rejected as err:
            ex.outcome = f"error: {err}"
            return web.json_response({"error": {"message": str(err), "type": "BadRequestError", "param": None,
                                                "code": err.status}}, status=err.status)
        tools = [ToolSpec(name=t["function"]["name"], schema=t["function"].get("parameters") or {})
                 for t in body.get("tools") or []]
        call = self._decide(ex, tools, _chat_has_results(body["messages"]))
        stream = bool(body.get("stream"))
        usage = bool((body.get("stream_options") or {}).get("include_usage"))
        if call is None:
            text = FINAL_TEXT if ex.outcome == "final" else SIDE_TEXT
            return await _send_chat(request, self.model, stream, usage, text=text)
        assert ex.call_id is not None
        return await _send_chat(request, self.model, stream, usage, call=(ex.call_id, call))

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        ex = self._record(request, body)
        try:
            if request.headers.get("x-api-key") != self.key:
                raise Rejected("invalid x-api-key", 401)
            if not request.headers.get("anthropic-version"):
                raise Rejected("anthropic-version: header is required")
            check_messages(body, self.model, self.max_output_tokens)
        except Rejected as err:
            ex.outcome = f"error: {err}"
            kind = "authentication_error" if err.status == 401 else "invalid_request_error"
            return web.json_response({"type": "error", "error": {"type": kind, "message": str(err)}},
                                     status=err.status)
        tools = [ToolSpec(name=t["name"], schema=t.get("input_schema") or {})
                 for t in body.get("tools") or [] if "name" in t]
        call = self._decide(ex, tools, _messages_has_results(body["messages"]))
        stream = bool(body.get("stream"))
        if call is None:
            text = FINAL_TEXT if ex.outcome == "final" else SIDE_TEXT
            return await _send_messages(request, self.model, stream, text=text)
        assert ex.call_id is not None
        return await _send_messages(request, self.model, stream, call=(ex.call_id, call))

    def _decide(self, ex: Exchange, tools: list[ToolSpec], has_results: bool) -> PlannedCall | None:
        """The script: our tool call first, the final text once a result came back, text for side requests."""
        if has_results:
            ex.outcome = "final"
            return None
        call = self.plan(tools) if tools else None
        if call is None:
            ex.outcome = "side"
            return None
        self._calls += 1
        prefix = "toolu_fake" if ex.path.endswith("/messages") else "call_fake"
        ex.outcome, ex.call_id = "tool_call", f"{prefix}{self._calls:04d}"
        return call


# --- the rules ---------------------------------------------------------------------------------------

def estimate_tokens(value: Any) -> int:
    """A prompt's size the way a tokenizer sees it, roughly: 4 bytes of its JSON a token (never under)."""
    return math.ceil(len(json.dumps(value, ensure_ascii=False).encode()) / 4)


def check_chat(body: Any, model: str, max_model_len: int, *, alternate: bool) -> None:
    """vLLM's checks and a strict chat template's (`raise_exception` in Llama/Mistral/Qwen templates)."""
    if not isinstance(body, dict):
        raise Rejected("request body must be a JSON object")
    if body.get("model") != model:
        raise Rejected(f"The model `{body.get('model')}` does not exist.", 404)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Rejected("messages: must be a non-empty list")
    roles = [m.get("role") if isinstance(m, dict) else None for m in messages]
    for i, role in enumerate(roles):
        if role not in ("system", "user", "assistant", "tool"):
            raise Rejected(f"messages[{i}]: unknown role {role!r}")
        if role == "system" and i != 0:
            raise Rejected("System message must be at the beginning.")
    pending: set[str] = set()
    previous = "system"
    for i, msg in enumerate(messages):
        role = msg["role"]
        if role == "tool":
            call_id = msg.get("tool_call_id")
            if call_id not in pending:
                raise Rejected(f"messages[{i}]: tool message does not answer a tool call just before it")
            pending.discard(call_id)
        else:
            if pending:
                raise Rejected(f"messages[{i}]: tool calls {sorted(pending)} were not answered")
            if role == "user" and previous == "user" and alternate:
                raise Rejected("Conversation roles must alternate user/assistant/user/assistant/...")
            if role == "assistant" and previous == "assistant" and alternate:
                raise Rejected("Conversation roles must alternate user/assistant/user/assistant/...")
            if role == "assistant" and i == (1 if roles[0] == "system" else 0) and alternate:
                raise Rejected("Conversation roles must alternate user/assistant/user/assistant/...")
            if role == "assistant":
                pending = {c.get("id") for c in msg.get("tool_calls") or []}
        previous = role
    if pending:
        raise Rejected("the last assistant tool calls were not answered")
    seen: set[str] = set()
    for j, tool in enumerate(body.get("tools") or []):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(fn, dict):
            raise Rejected(f"tools[{j}]: only function tools are supported")
        name = fn.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.:-]{1,128}", name) or name in seen:
            raise Rejected(f"tools[{j}]: invalid or duplicate function name {name!r}")
        seen.add(name)
    prompt = estimate_tokens([messages, body.get("tools") or []])
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if limit is None:
        limit = max_model_len - prompt
    if not isinstance(limit, int) or limit < 1:
        raise Rejected(f"max_tokens must be at least 1, got {limit!r}")
    if prompt + limit > max_model_len:
        raise Rejected(f"This model's maximum context length is {max_model_len} tokens. However, you "
                       f"requested {prompt + limit} tokens ({prompt} in the messages, {limit} in the "
                       f"completion). Please reduce the length of the messages or completion.")


def check_messages(body: Any, model: str, max_output_tokens: int) -> None:
    """The Anthropic Messages API's checks on the request shape (the ones translations get wrong)."""
    if not isinstance(body, dict):
        raise Rejected("request body must be a JSON object")
    if body.get("model") != model:
        raise Rejected(f"model: {body.get('model')}", 404)
    limit = body.get("max_tokens")
    if not isinstance(limit, int) or not 1 <= limit <= max_output_tokens:
        raise Rejected(f"max_tokens: {limit!r} > {max_output_tokens}, which is the maximum allowed "
                       f"number of output tokens for {model}")
    system = body.get("system")
    if system is not None and not isinstance(system, (str, list)):
        raise Rejected("system: Input should be a valid list")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Rejected("messages: at least one message is required")
    pending: set[str] = set()
    for i, msg in enumerate(messages):
        role = msg.get("role") if isinstance(msg, dict) else None
        if role == "system" and i > 0:  # a mid-conversation system turn (Claude Code sends them)
            continue
        if role not in ("user", "assistant"):
            raise Rejected(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if i == 0 and role != "user":
            raise Rejected("messages: first message must use the \"user\" role")
        blocks = msg["content"] if isinstance(msg.get("content"), list) else [
            {"type": "text", "text": msg.get("content")}]
        for k, block in enumerate(blocks):
            if block.get("type") == "text" and not block.get("text"):
                raise Rejected(f"messages.{i}.content.{k}.text: text content blocks must be non-empty")
        results = {str(b.get("tool_use_id")) for b in blocks if b.get("type") == "tool_result"}
        if pending and not pending <= results:
            raise Rejected(f"messages.{i}: `tool_use` ids were found without `tool_result` blocks "
                           f"immediately after: {', '.join(sorted(pending))}")
        if results - pending:
            raise Rejected(f"messages.{i}: unexpected `tool_use_id` found in `tool_result` blocks")
        pending = {str(b.get("id")) for b in blocks if b.get("type") == "tool_use"} if role == "assistant" else set()
    if pending:
        raise Rejected("the last `tool_use` blocks have no `tool_result`")


def _chat_has_results(messages: Sequence[dict[str, Any]]) -> bool:
    return bool(messages) and messages[-1].get("role") == "tool"


def _messages_has_results(messages: Sequence[dict[str, Any]]) -> bool:
    last = messages[-1].get("content") if messages else None
    return isinstance(last, list) and any(b.get("type") == "tool_result" for b in last)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(_text(b.get("text", b.get("content"))) for b in content if isinstance(b, dict))
    return ""


async def _json_body(request: web.Request) -> Any:
    try:
        return json.loads(await request.read())
    except ValueError:
        return None


# --- answers -----------------------------------------------------------------------------------------

Call = tuple[str, PlannedCall]


async def _sse(request: web.Request, events: list[str]) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await resp.prepare(request)
    for event in events:
        await resp.write(event.encode())
    await resp.write_eof()
    return resp


async def _send_chat(request: web.Request, model: str, stream: bool, usage: bool, *, text: str | None = None,
                     call: Call | None = None) -> web.StreamResponse:
    base = {"id": "chatcmpl-strict", "created": 1700000000, "model": model}
    counts = {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60}
    tool_calls: list[dict[str, Any]] | None = None if call is None else [{"id": call[0], "type": "function",
        "function": {"name": call[1]["name"], "arguments": json.dumps(call[1]["arguments"])}}]
    finish = "stop" if call is None else "tool_calls"
    if not stream:
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if tool_calls:
            message["tool_calls"] = tool_calls
        return web.json_response({**base, "object": "chat.completion", "usage": counts,
                                  "choices": [{"index": 0, "message": message, "finish_reason": finish}]})

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
        obj = {**base, "object": "chat.completion.chunk",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}
        return f"data: {json.dumps(obj)}\n\n"

    events = [chunk({"role": "assistant", "content": ""})]
    if text is not None:
        events += [chunk({"content": text[:8]}), chunk({"content": text[8:]})]
    if tool_calls:
        args = tool_calls[0]["function"]["arguments"]
        events.append(chunk({"tool_calls": [{"index": 0, "id": call[0] if call else "", "type": "function",
                                             "function": {"name": tool_calls[0]["function"]["name"],
                                                          "arguments": ""}}]}))
        half = len(args) // 2
        events += [chunk({"tool_calls": [{"index": 0, "function": {"arguments": part}}]})
                   for part in (args[:half], args[half:])]
    events.append(chunk({}, finish))
    if usage:
        last = {**base, "object": "chat.completion.chunk", "choices": [], "usage": counts}
        events.append(f"data: {json.dumps(last)}\n\n")
    events.append("data: [DONE]\n\n")
    return await _sse(request, events)


async def _send_messages(request: web.Request, model: str, stream: bool, *, text: str | None = None,
                         call: Call | None = None) -> web.StreamResponse:
    content: list[dict[str, Any]] = []
    if text is not None:
        content.append({"type": "text", "text": text})
    if call is not None:
        content.append({"type": "tool_use", "id": call[0], "name": call[1]["name"], "input": call[1]["arguments"]})
    stop = "end_turn" if call is None else "tool_use"
    message = {"id": "msg_strict", "type": "message", "role": "assistant", "model": model, "content": content,
               "stop_reason": stop, "stop_sequence": None, "usage": {"input_tokens": 50, "output_tokens": 10}}
    if not stream:
        return web.json_response(message)

    def event(name: str, data: dict[str, Any]) -> str:
        return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n"

    events = [event("message_start", {"message": {**message, "content": [], "stop_reason": None,
                                                  "usage": {"input_tokens": 50, "output_tokens": 1}}})]
    for index, block in enumerate(content):
        if block["type"] == "text":
            events.append(event("content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}}))
            events.append(event("content_block_delta", {"index": index,
                                                        "delta": {"type": "text_delta", "text": block["text"]}}))
        else:
            start = {**block, "input": {}}
            events.append(event("content_block_start", {"index": index, "content_block": start}))
            events.append(event("content_block_delta", {"index": index, "delta": {
                "type": "input_json_delta", "partial_json": json.dumps(block["input"])}}))
        events.append(event("content_block_stop", {"index": index}))
    events.append(event("message_delta", {"delta": {"stop_reason": stop, "stop_sequence": None},
                                          "usage": {"output_tokens": 10}}))
    events.append(event("message_stop", {}))
    return await _sse(request, events)
