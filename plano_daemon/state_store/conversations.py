"""Continuing and recording Responses conversations: the proxy's two small hooks into the store.

`begin` runs before routing: it replaces `previous_response_id` by the stored items, so every upstream
dialect (Responses, chat, Anthropic) receives the whole conversation, and it confines the request to the
stored privacy boundaries. `Turn` follows the answer as the client receives it and stores it at the end.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from plano_daemon.config.schema import StateStorage
from plano_daemon.errors import BadRequest, ConfigError, GatewayError
from plano_daemon.logs import LOG
from plano_daemon.state_store.base import ResponseStore, StoredResponse, StoreUnavailable
from plano_daemon.state_store.memory import MemoryStore
from plano_daemon.translate.chat_stream_to_responses import UNIQUE_RESPONSE_IDS

if TYPE_CHECKING:
    from plano_daemon.exchange import Exchange

#: Terminal Responses stream events that carry the whole response object.
_TERMINAL = (b'"response.completed"', b'"response.incomplete"')


def input_items(value: Any) -> list[dict[str, Any]]:
    """A Responses `input` as a list of items (a bare string is one user message)."""
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return []


def output_items(response: dict[str, Any]) -> list[dict[str, Any]]:
    """The output items worth sending back as input: reasoning only when it carries its encrypted content
    (a bare reasoning id means something only to the upstream that produced it)."""
    output = response.get("output")
    return [item for item in output if isinstance(item, dict)
            and (item.get("type") != "reasoning" or item.get("encrypted_content"))] if isinstance(output, list) else []


def continued(previous: StoredResponse, body: dict[str, Any]) -> None:
    """Rewrite `body` in place: the stored conversation, then this request's input; no previous id.
    `instructions` are not carried over (as OpenAI's Responses API defines)."""
    body["input"] = [*previous.items, *input_items(body.get("input"))]
    body.pop("previous_response_id", None)


class SseResponseCapture:
    """Finds the final response object in a Responses SSE stream as written to the client."""

    __slots__ = ("_buffer", "response")

    def __init__(self) -> None:
        self._buffer = b""
        self.response: dict[str, Any] | None = None

    def feed(self, chunk: bytes) -> None:
        data = (self._buffer + chunk).replace(b"\r\n", b"\n")
        *events, self._buffer = data.split(b"\n\n")
        for event in events:
            if any(name in event for name in _TERMINAL):
                self._parse(event)

    def _parse(self, event: bytes) -> None:
        payload = b"\n".join(line[5:].lstrip() for line in event.split(b"\n") if line.startswith(b"data:"))
        try:
            parsed = json.loads(payload)
        except ValueError:
            return
        if isinstance(parsed, dict) and isinstance(parsed.get("response"), dict):
            self.response = parsed["response"]


class Turn:
    """One Responses request that will be stored once answered (not with `store: false`)."""

    __slots__ = ("_store", "_items", "_capture")

    def __init__(self, store: ResponseStore, items: list[dict[str, Any]]) -> None:
        self._store = store
        self._items = items
        self._capture = SseResponseCapture()

    def feed(self, chunk: bytes) -> None:
        """A chunk of the stream the client receives (after any translation)."""
        self._capture.feed(chunk)

    def answered(self, body: bytes) -> None:
        """The JSON body the client receives."""
        try:
            parsed = json.loads(body)
        except ValueError:
            return
        if isinstance(parsed, dict):
            self._capture.response = parsed

    async def save(self, exchange: Exchange) -> None:
        """Store the conversation under the response's id; a store that fails is logged (id and failure
        kind only) and the client still gets its answer."""
        response = self._capture.response
        response_id = response.get("id") if response is not None else None
        if response is None or not isinstance(response_id, str) or not response_id or exchange.channel is None:
            return
        verdict = exchange.gate.verdict
        record = StoredResponse(response_id=response_id, items=[*self._items, *output_items(response)],
                                model=exchange.channel.model, provider=exchange.channel.prefix, created_at=time.time(),
                                boundaries=verdict.boundaries if verdict is not None else None)
        try:
            await self._store.put(record)
        except StoreUnavailable as exc:
            LOG.warning("state_storage: response %s was not stored (%s)", response_id, exc)


class Conversations:
    """The configured store, as the proxy uses it."""

    def __init__(self, store: ResponseStore) -> None:
        self.store = store

    async def begin(self, exchange: Exchange, body: dict[str, Any]) -> bool:
        """Prepare a Responses request; True when `body` was rewritten (its raw bytes no longer match)."""
        previous_id = body.get("previous_response_id")
        rewritten = False
        if previous_id is not None:
            if not isinstance(previous_id, str) or not previous_id:
                raise BadRequest("`previous_response_id` must be a non-empty string",
                                 extra={"param": "previous_response_id"})
            try:
                previous = await self.store.get(previous_id)
            except StoreUnavailable as exc:
                raise GatewayError(f"state_storage is unavailable ({exc}); send the whole conversation in "
                                   "`input`", code="state_storage_unavailable", status=503) from None
            if previous is None:
                raise BadRequest(f"Previous response with id '{previous_id}' not found.",
                                 code="previous_response_not_found", extra={"param": "previous_response_id"})
            continued(previous, body)
            exchange.confine = previous.boundaries
            rewritten = True
        if body.get("store", True) is not False:
            exchange.turn = Turn(self.store, input_items(body.get("input")))
            UNIQUE_RESPONSE_IDS.set(True)  # this request's task only
        return rewritten

    async def close(self) -> None:
        await self.store.close()


def build_conversations(settings: StateStorage | None) -> Conversations | None:
    if settings is None:
        return None
    if settings.type == "memory":
        return Conversations(MemoryStore(retention=settings.retention, max_entries=settings.max_entries))
    if not settings.connection_string:
        raise ConfigError(["state_storage.connection_string: required when type is postgres"])
    try:
        from plano_daemon.state_store.postgres import PostgresStore
    except ImportError:
        raise ConfigError(["state_storage: type postgres needs the asyncpg package "
                           "(install plano-daemon with its `postgres` extra)"]) from None
    return Conversations(PostgresStore(settings.connection_string, retention=settings.retention))
