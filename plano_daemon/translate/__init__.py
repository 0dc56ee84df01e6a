"""How to convert between client and upstream APIs; pure, one module per direction (issue 3)."""

from __future__ import annotations

from typing import Protocol


class StreamTranslator(Protocol):
    def feed(self, chunk: bytes) -> bytes: ...
    def finish(self) -> bytes: ...
    def error(self, message: str) -> bytes: ...


class Translation(Protocol):
    def request(self, body: dict, model_id: str) -> dict: ...
    def response(self, body: dict) -> dict: ...
    def stream(self) -> StreamTranslator: ...


def translation_for(client_api: str, upstream_api: str) -> Translation | None:
    """None when both sides speak the same API: the bytes pass through untouched."""
    if client_api == upstream_api:
        return None
    from plano_daemon.errors import GatewayError

    raise GatewayError(f"translating {client_api} to {upstream_api} is not supported yet",
                       status=501, code="not_implemented")
