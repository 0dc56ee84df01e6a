"""How to convert between client and upstream APIs: pure translations, one module per direction.

    translation_for(client_api, upstream_api) -> Translation | None     None: same API, pass bytes through

A `Translation` carries one request's state (stop sequences, custom tool names, whether usage was
asked for in the stream), so get a fresh one per upstream attempt:

    request(body, model_id) -> dict     client body → upstream body; BadRequest if it cannot be expressed
    response(body) -> dict              upstream JSON → client JSON
    stream() -> StreamTranslator        feed(bytes) -> bytes, finish() -> bytes, error(message) -> bytes,
                                        usage (tokens seen), anomalies (upstream events kept as comments),
                                        started (an answer has begun), failure (why the stream failed)

`PassThroughStream(api)` is the StreamTranslator of a same-API stream.
"""

from __future__ import annotations

from typing import Any, Protocol

from plano_daemon.errors import GatewayError
from plano_daemon.translate.anthropic_to_chat import MessagesToChat
from plano_daemon.translate.chat_to_anthropic import ChatToMessages
from plano_daemon.translate.passthrough import PassThroughStream
from plano_daemon.translate.responses_to_anthropic import ResponsesToMessages
from plano_daemon.translate.responses_to_chat import ResponsesToChat
from plano_daemon.wire.apis import CHAT, MESSAGES, RESPONSES
from plano_daemon.wire.usage import Usage


class StreamTranslator(Protocol):
    @property
    def usage(self) -> Usage: ...

    @property
    def anomalies(self) -> int: ...

    @property
    def done(self) -> bool: ...

    @property
    def started(self) -> bool: ...

    @property
    def failure(self) -> str | None: ...

    def feed(self, chunk: bytes) -> bytes: ...

    def finish(self) -> bytes: ...

    def error(self, message: str) -> bytes: ...


class Translation(Protocol):
    def request(self, body: dict[str, Any], model_id: str) -> dict[str, Any]: ...

    def response(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def stream(self) -> StreamTranslator: ...


_PAIRS: dict[tuple[str, str], type[MessagesToChat | ChatToMessages | ResponsesToChat | ResponsesToMessages]] = {
    (MESSAGES, CHAT): MessagesToChat,
    (CHAT, MESSAGES): ChatToMessages,
    (RESPONSES, CHAT): ResponsesToChat,
    (RESPONSES, MESSAGES): ResponsesToMessages,
}


def translation_for(client_api: str, upstream_api: str) -> Translation | None:
    """A fresh translation for one request, or None when both sides speak the same API."""
    if client_api == upstream_api:
        return None
    try:
        return _PAIRS[(client_api, upstream_api)]()
    except KeyError:
        raise GatewayError(f"translating {client_api} requests to a {upstream_api} upstream is not supported",
                           status=501, code="not_implemented") from None


__all__ = ["PassThroughStream", "StreamTranslator", "Translation", "Usage", "translation_for"]
