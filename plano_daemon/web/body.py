"""A client's JSON request body, read once: too slow → 408, over the size limit → 413, unreadable (a broken
Content-Encoding, a connection cut short) or not a JSON object (nested too deeply included) → 400."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from plano_daemon.errors import BadRequest, PayloadTooLarge, RequestTimeout
from plano_daemon.json_codec import loads
from plano_daemon.web.keys import GATEWAY


async def read_json_object(request: web.Request) -> tuple[bytes, dict[str, Any]]:
    """The raw bytes (kept for byte-identical forwarding) and the object parsed from them."""
    timeouts = request.app[GATEWAY].runtime.config.dubnium.timeouts
    try:
        if request.content.is_eof():  # already here whole (the usual case): nothing to wait for, no timer
            raw = await request.read()
        else:
            async with asyncio.timeout(timeouts.request_body):
                raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise PayloadTooLarge(f"request body too large: {exc.text} (dubnium.max_body_bytes)") from None
    except TimeoutError:
        raise RequestTimeout("request body not received in time (dubnium.timeouts.request_body)") from None
    except RequestPayloadError:
        raise BadRequest("request body could not be read (a broken Content-Encoding or transfer)") from None
    try:
        body = loads(raw)
    except RecursionError:
        raise BadRequest("request body is nested too deeply") from None
    except ValueError:
        raise BadRequest("request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    return raw, body
