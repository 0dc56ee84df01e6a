"""A fake router model (Arch-Router style) for FakeUpstream: it answers by the conversation it is shown."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tests.fakes.upstream import Behaviour, Received, chat_completion


def conversation_of(prompt: str) -> list[dict[str, Any]]:
    start = prompt.index("<conversation>") + len("<conversation>")
    return json.loads(prompt[start:prompt.index("</conversation>")])


def route_by_keywords(rules: dict[str, str], *, as_list: bool = False) -> Behaviour:
    """The first keyword found in the latest conversation turn names the route; none found → "other"."""
    async def behave(request: web.Request, rec: Received) -> web.StreamResponse:
        prompt = rec.json["messages"][0]["content"]
        latest = conversation_of(prompt)[-1]["content"].lower()
        route = next((name for word, name in rules.items() if word in latest), "other")
        answer: object = ([] if route == "other" else [route]) if as_list else route
        return web.json_response(chat_completion(rec.json["model"], json.dumps({"route": answer})))
    return behave


def answer_text(text: str) -> Behaviour:
    async def behave(request: web.Request, rec: Received) -> web.StreamResponse:
        return web.json_response(chat_completion(rec.json["model"], text))
    return behave
