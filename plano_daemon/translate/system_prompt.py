"""Where system text goes in a translated chat conversation: one system message, first.

Many chat templates (vLLM's Qwen, Llama, Mistral ...) reject a system message that is not the first
message, and vLLM's prefix cache only helps when a conversation's beginning is the same every turn.
So system/developer messages that a client sends *before the first assistant turn* (Claude Code's
environment block at `messages[1]`, Codex's two instruction messages) join the leading system
message: they are there on every turn, so the prefix stays stable. One that appears *later* (a
mid-conversation reminder) must not rewrite the beginning of the conversation each turn, so it is
folded into the adjacent user turn instead, where it stays put as the conversation grows.

Templates that require user/assistant alternation also reject two user turns in a row, which both
Claude Code (a reminder turn, then the prompt) and Codex (environment context, then the prompt) send:
consecutive user turns become one.
"""

from __future__ import annotations

from typing import Any

from plano_daemon.translate.mappings import text_of

_SYSTEM_ROLES = ("system", "developer")
#: How folded system text is marked inside a user turn, so the model still reads it as instructions.
_FOLDED = "<system-reminder>\n{}\n</system-reminder>"


def settle_system(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat messages with at most one system message, first; later system text folded into user turns.

    A late system message joins the user turn right before it (when it follows one directly), else the
    next user turn, else a user turn of its own at the end: each choice depends only on its neighbours,
    which do not change as the conversation grows.
    """
    head: list[Any] = []
    rest: list[dict[str, Any]] = []
    pending: list[str] = []  # late system text waiting for the next user turn
    seen_assistant = False
    for msg in messages:
        role = msg.get("role")
        if role in _SYSTEM_ROLES:
            if not seen_assistant:
                head.append(msg.get("content"))
            elif rest and rest[-1].get("role") == "user" and not pending:
                rest[-1] = _with_text(rest[-1], [_FOLDED.format(text_of(msg.get("content")))], after=True)
            else:
                pending.append(_FOLDED.format(text_of(msg.get("content"))))
            continue
        if role == "assistant":
            seen_assistant = True
        if role == "user" and pending:
            msg = _with_text(msg, pending, after=False)
            pending = []
        rest.append(msg)
    if pending:
        rest.append({"role": "user", "content": "\n\n".join(pending)})
    return ([_joined(head)] if head else []) + _merge_user_runs(rest)


def _merge_user_runs(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for msg in messages:
        if out and msg.get("role") == "user" and out[-1].get("role") == "user":
            out[-1] = _concat(out[-1], msg)
        else:
            out.append(msg)
    return out


def _concat(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    a, b = first.get("content"), second.get("content")
    if isinstance(a, str) and isinstance(b, str):
        return {**first, "content": "\n\n".join(t for t in (a, b) if t)}
    return {**first, "content": [*_parts(a), *_parts(b)]}


def _parts(content: Any) -> list[Any]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return list(content) if isinstance(content, list) else []


def _joined(contents: list[Any]) -> dict[str, Any]:
    if len(contents) == 1:
        return {"role": "system", "content": contents[0]}
    return {"role": "system", "content": "\n\n".join(t for t in (text_of(c) for c in contents) if t)}


def _with_text(msg: dict[str, Any], texts: list[str], *, after: bool) -> dict[str, Any]:
    content = msg.get("content")
    if isinstance(content, str):
        return {**msg, "content": "\n\n".join([content, *texts] if after else [*texts, content])}
    parts = content if isinstance(content, list) else []
    added = [{"type": "text", "text": t} for t in texts]
    return {**msg, "content": [*parts, *added] if after else [*added, *parts]}


def hosted_note(hosted: list[str]) -> str:
    """What the model is told when the client offered hosted tools (run by the API provider itself, like
    web search) that a chat upstream cannot run: it then says so instead of pretending to search."""
    names = ", ".join(sorted(set(hosted)))
    return (f"Note from the gateway: the hosted tools {names} are not available with this model; "
            "do not try to call them, and say so if the task needs them.")


def merge_system_runs(body: dict[str, Any]) -> dict[str, Any] | None:
    """A chat request with each run of consecutive system/developer messages made one system message, or
    None when it has no such run (the common case: the client's bytes then pass through untouched).

    For chat clients talking to a chat upstream (OpenCode sends its system prompt as two messages): a
    template that wants one leading system message then gets one, and nothing else moves."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not _has_system_run(messages):
        return None
    out: list[Any] = []
    run: list[Any] = []
    for msg in [*messages, None]:
        if msg is not None and _is_system(msg):
            run.append(msg.get("content"))
            continue
        if run:
            out.append(_joined(run))
            run = []
        if msg is not None:
            out.append(msg)
    return {**body, "messages": out}


def _has_system_run(messages: list[Any]) -> bool:
    """Two system/developer messages in a row anywhere. Every chat request asks, over an agent's whole
    conversation: a plain loop costs less than half of `any` over `itertools.pairwise`."""
    previous = False
    for msg in messages:
        system = _is_system(msg)
        if system and previous:
            return True
        previous = system
    return False


def _is_system(msg: Any) -> bool:
    return isinstance(msg, dict) and msg.get("role") in _SYSTEM_ROLES
