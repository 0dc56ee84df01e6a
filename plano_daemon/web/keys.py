"""Typed application keys, declared once."""

from __future__ import annotations

from aiohttp import web

from plano_daemon.runtime import Gateway

GATEWAY = web.AppKey("gateway", Gateway)
#: Whole-request deadline of the listener this app serves (`listeners[].timeout`), seconds.
LISTENER_TIMEOUT = web.AppKey("listener_timeout", float)
