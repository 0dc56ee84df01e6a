"""OpenAI Responses client → Anthropic Messages upstream, as Responses → Chat → Anthropic.

Composing the two tested translations keeps one source of truth per mapping; the cost (each
event converted twice) only applies to this rare pairing.
"""

from __future__ import annotations

from typing import Any

from plano_daemon.translate.chat_stream_to_responses import ChatStreamToResponses
from plano_daemon.translate.chat_to_anthropic import ChatToMessages
from plano_daemon.translate.responses_to_chat import ResponsesToChat
from plano_daemon.translate.stream_base import StreamTranslatorBase


class ResponsesToMessages:
    __slots__ = ("_outer", "_inner")

    def __init__(self, *, created: int | None = None) -> None:
        self._outer = ResponsesToChat(created=created)
        self._inner = ChatToMessages(created=created)

    def request(self, body: dict[str, Any], model_id: str) -> dict[str, Any]:
        return self._inner.request(self._outer.request(body, model_id), model_id)

    def response(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._outer.response(self._inner.response(body))

    def stream(self) -> ComposedStream:
        return ComposedStream(self._inner.stream(), self._outer.stream())


class ComposedStream:
    """Upstream bytes through `first`, its output through `second`; errors render in `second`'s dialect."""

    __slots__ = ("_first", "_second")

    def __init__(self, first: StreamTranslatorBase, second: ChatStreamToResponses) -> None:
        self._first = first
        self._second = second

    @property
    def usage(self) -> Any:
        return self._first.usage

    @property
    def anomalies(self) -> int:
        return self._first.anomalies + self._second.anomalies

    @property
    def done(self) -> bool:
        return self._second.done

    @property
    def started(self) -> bool:
        return self._first.started and self._second.started

    @property
    def failure(self) -> str | None:
        return self._first.failure or self._second.failure

    def feed(self, chunk: bytes) -> bytes:
        return self._second.feed(self._first.feed(chunk))

    def finish(self) -> bytes:
        return self._second.feed(self._first.finish()) + self._second.finish()

    def error(self, message: str) -> bytes:
        return self._second.error(message)
