"""The three client APIs by name, and the upstream path each one uses below a base URL's path prefix."""

from __future__ import annotations

CHAT = "chat"
MESSAGES = "messages"
RESPONSES = "responses"
API_PATHS = {CHAT: "/chat/completions", MESSAGES: "/messages", RESPONSES: "/responses"}
