"""The router-model contract: the prompt we send and the answers we accept (SPEC §4.2).

Wire contract of the Arch-Router / Plano-Orchestrator family: routes as a JSON list of
{"name", "description"} inside <routes></routes>, the recent conversation as a JSON list of
{"role", "content"} inside <conversation></conversation>, and an answer {"route": "name"}
("other" = no route) or {"route": ["name", ...]} (first known wins, empty = no route). The
instruction text is ours; `routing.router_prompt_file` may replace it with any template holding
the {routes} and {conversation} placeholders.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from plano_daemon.routing.conversation import Turn
from plano_daemon.routing.routes import Route

DEFAULT_TEMPLATE = """\
Pick the route for the request below. Each route has a name and a description of the requests it
serves. Judge what the user wants in their latest message; earlier turns are context only.

<routes>
{routes}
</routes>

<conversation>
{conversation}
</conversation>

If one route fits, answer {"route": "<its name>"}. If none fits, answer {"route": "other"}.
Reply with that JSON object alone: no explanation, no code fence.
"""

#: Messages kept from the end of the conversation, before the token budget applies.
MAX_MESSAGES = 16
#: Tokens kept free for the model's answer.
ANSWER_RESERVE_TOKENS = 64
#: The rough tokenizer: one token per this many UTF-8 bytes.
BYTES_PER_TOKEN = 4
#: A trimmed message never shrinks below this many bytes, whatever the budget says.
MIN_MESSAGE_BYTES = 256
TRIM_MARKER = "\n[...]\n"
OTHER = "other"


class TemplateError(ValueError):
    """A router prompt template without the placeholders the contract needs."""


def check_template(template: str) -> str:
    missing = [p for p in ("{routes}", "{conversation}") if p not in template]
    if missing:
        raise TemplateError(f"router prompt template lacks {' and '.join(missing)}")
    return template


def build_prompt(routes: Sequence[Route], turns: Sequence[Turn], *,
                 template: str = DEFAULT_TEMPLATE, context_tokens: int = 8192) -> str:
    """The single user message sent to the router model."""
    routes_json = json.dumps([{"name": r.name, "description": r.description} for r in routes],
                             ensure_ascii=False)
    skeleton = len(template.encode()) + len(routes_json.encode())
    budget = context_tokens * BYTES_PER_TOKEN - skeleton - ANSWER_RESERVE_TOKENS * BYTES_PER_TOKEN
    kept = fit_conversation(turns, budget_bytes=budget)
    conversation_json = json.dumps([{"role": t.role, "content": t.content} for t in kept],
                                   ensure_ascii=False)
    # str.replace, not str.format: user templates may contain JSON braces of their own.
    return template.replace("{routes}", routes_json).replace("{conversation}", conversation_json)


def fit_conversation(turns: Sequence[Turn], *, budget_bytes: int) -> list[Turn]:
    """The newest turns (at most MAX_MESSAGES) that fit the budget; the newest is always kept,
    middle-trimmed when it alone is too big (its start states the task, its end the latest ask)."""
    recent = list(turns[-MAX_MESSAGES:])
    if not recent:
        return []
    budget = max(budget_bytes, MIN_MESSAGE_BYTES)
    newest = recent[-1]
    size = _json_size(newest)
    if size > budget:
        return [Turn(newest.role, middle_trim(newest.content, budget))]
    kept = [newest]
    for turn in reversed(recent[:-1]):
        size += _json_size(turn)
        if size > budget:
            break
        kept.append(turn)
    kept.reverse()
    return kept


def middle_trim(text: str, max_bytes: int) -> str:
    """Keep the head and the tail of `text` within about `max_bytes` UTF-8 bytes."""
    data = text.encode()
    if len(data) <= max_bytes:
        return text
    keep = max(max_bytes - len(TRIM_MARKER.encode()) - 16, 2)
    head = data[: keep // 2].decode(errors="ignore")
    tail = data[len(data) - keep // 2:].decode(errors="ignore")
    return head + TRIM_MARKER + tail


def _json_size(turn: Turn) -> int:
    """Serialised size of one message inside the conversation JSON (quotes, keys, escapes)."""
    return len(json.dumps({"role": turn.role, "content": turn.content}, ensure_ascii=False).encode()) + 2


# --- parsing the answer ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Answer:
    """`understood` is False for garbage (the caller falls back); `route` None means no route."""

    understood: bool
    route: str | None = None


GARBAGE = Answer(understood=False)
NO_ROUTE = Answer(understood=True)

_FENCE = re.compile(r"```[a-zA-Z]*\s*(.*?)\s*```", re.S)
_OBJECT = re.compile(r"\{.*\}", re.S)
_ROUTE_FIELD = re.compile(r"""["']?route["']?\s*[:=]\s*(\[[^\]]*\]|"[^"]*"|'[^']*'|[^\s,}]+)""", re.I)


def parse_answer(text: str, names: Iterable[str]) -> Answer:
    """Read the router model's answer leniently; names that are not configured routes are ignored."""
    lookup = {_norm(n): n for n in names}
    body = text.strip()
    fenced = _FENCE.search(body)
    if fenced:
        body = fenced.group(1).strip()
    value = _route_value(body)
    if value is _MISSING:
        bare = _norm(body.strip("\"'`. \n"))
        if bare == OTHER or bare in ("none", "null", ""):
            return NO_ROUTE if bare else GARBAGE
        return Answer(True, lookup[bare]) if bare in lookup else GARBAGE
    candidates = value if isinstance(value, list) else [value]
    for candidate in candidates:
        if isinstance(candidate, str) and _norm(candidate) in lookup:
            return Answer(True, lookup[_norm(candidate)])
    return NO_ROUTE


class _Missing:
    pass


_MISSING = _Missing()


def _route_value(body: str) -> object:
    """The value of the `route` field: from a JSON (or Python-literal) object, else `route: x` text."""
    match = _OBJECT.search(body)
    if match:
        obj = _load_object(match.group(0))
        if isinstance(obj, dict):
            for key, val in obj.items():
                if isinstance(key, str) and key.lower() == "route":
                    return val
    field = _ROUTE_FIELD.search(body)
    if field is None:
        return _MISSING
    raw = field.group(1)
    loaded = _load_object(raw)
    if isinstance(loaded, str | list):
        return loaded
    return raw.strip("\"'")


def _load_object(text: str) -> object:
    for load in (json.loads, ast.literal_eval):
        try:
            return load(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            continue
    return None


def _norm(name: str) -> str:
    """Compare names the way a small model garbles them: case, `_`/`-`/space runs."""
    return re.sub(r"[\s_\-]+", " ", name.strip().lower())
