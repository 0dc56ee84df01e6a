"""A client's JSON request body, read once: over the size limit → 413, not a JSON object → 400."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from plano_daemon.errors import BadRequest, PayloadTooLarge


async def read_json_object(request: web.Request) -> tuple[bytes, dict[str, Any]]:
    """The raw bytes (kept for byte-identical forwarding) and the object parsed from them."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise PayloadTooLarge(f"request body too large: {exc.text} (dubnium.max_body_bytes)") from None
    try:
        body = json.loads(raw)
    except ValueError:
        raise BadRequest("request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    return raw, body
