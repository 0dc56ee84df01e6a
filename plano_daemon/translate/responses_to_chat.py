"""OpenAI Responses client → OpenAI Chat upstream: the request down, the JSON response back up.

Custom tools (free-form text input, e.g. Codex's apply_patch) become function tools with a single
string parameter `input`; calls to them come back as `custom_tool_call` items with that string.
Namespaced tools (Codex's code mode: `additional_tools` input items holding `namespace` tools) become
function tools named `namespace__name`, as Codex itself flattens them; calls come back with the
tool's own name and its `namespace`. Hosted tools (web_search, file_search ...) run only on OpenAI's
servers: left out, and the model is told they are unavailable so it says so instead of pretending.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from plano_daemon.errors import BadRequest
from plano_daemon.logs import LOG
from plano_daemon.translate.chat_stream_to_responses import (
    ChatStreamToResponses,
    ResponseShape,
    ToolOrigin,
    response_ids,
    responses_usage,
)
from plano_daemon.translate.mappings import input_to_arguments, text_of
from plano_daemon.translate.stream_base import as_dict, as_list
from plano_daemon.translate.system_prompt import hosted_note, settle_system

_PASSED = ("temperature", "top_p", "parallel_tool_calls", "user", "stream")
_NO_STATE = ("previous_response_id is not supported for this model: its upstream speaks Chat Completions, "
             "so the gateway would have to store responses; send the whole conversation in `input`")


#: Input items with no chat form: dropped (debug log), never a 400. Reasoning is the model's own
#: scratchpad (encrypted for OpenAI's models), hosted-tool calls ran on OpenAI's side, references point at
#: stored items a chat upstream does not have.
_NO_CHAT_FORM = ("reasoning", "item_reference", "web_search_call", "file_search_call", "computer_call",
                 "computer_call_output", "image_generation_call", "code_interpreter_call", "local_shell_call",
                 "local_shell_call_output", "mcp_call", "mcp_list_tools", "mcp_approval_request",
                 "mcp_approval_response", "tool_search_call", "tool_search_output", "compaction",
                 "compaction_summary", "ghost_snapshot")


def input_to_messages(instructions: Any, items: Any, origins: dict[str, ToolOrigin] | None = None
                      ) -> list[dict[str, Any]]:
    """Responses `instructions` + `input` → chat messages; function calls and outputs stay in order.

    `origins` maps chat function names back to namespaced tools: calls in the history that name a
    namespace get the same flat name the tool list uses."""
    out: list[dict[str, Any]] = []
    if isinstance(instructions, str) and instructions:
        out.append({"role": "system", "content": instructions})
    if isinstance(items, str):
        out.append({"role": "user", "content": items})
        return out
    if not isinstance(items, list):
        raise BadRequest("`input` must be a string or a list of items")
    flat = {(o.namespace, o.name): chat for chat, o in (origins or {}).items()}
    calls: dict[str, Any] | None = None  # the assistant message collecting consecutive calls
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise BadRequest(f"input[{i}] must be an object")
        kind = item.get("type", "message")
        if kind in ("function_call", "custom_tool_call"):
            if calls is None:
                calls = {"role": "assistant", "content": None, "tool_calls": []}
                out.append(calls)
            arguments = (item.get("arguments", "") if kind == "function_call"
                         else input_to_arguments({"input": item.get("input", "")}))
            name = item.get("name", "")
            namespace = item.get("namespace")
            if isinstance(namespace, str) and namespace:
                name = flat.get((namespace, name)) or flat_tool_name(namespace, name)
            calls["tool_calls"].append({"id": item.get("call_id", ""), "type": "function",
                                        "function": {"name": name, "arguments": arguments}})
            continue
        if kind == "additional_tools":  # tools, not conversation: they went to `tools`
            continue
        if kind not in ("function_call_output", "custom_tool_call_output", "message"):
            # Dropped without ending a run of calls: a reasoning item between two parallel calls must
            # not split them into two assistant turns.
            LOG.debug("input[%d]: %s item has no chat form; not sent upstream", i,
                      kind if kind in _NO_CHAT_FORM else "an unknown")
            continue
        calls = None
        if kind == "message":
            out.append(_message(item, i))
        else:
            output = item.get("output", "")
            out.append({"role": "tool", "tool_call_id": item.get("call_id", ""),
                        "content": output if isinstance(output, str) else _output_text(output)})
    return settle_system(out)


def _output_text(output: Any) -> str:
    """A tool output given as parts (Codex sends input_text/input_image lists): its text."""
    if isinstance(output, list):
        return "\n".join(p.get("text", "") for p in output if isinstance(p, dict) and isinstance(p.get("text"), str))
    return text_of(output)


def _message(item: dict[str, Any], i: int) -> dict[str, Any]:
    role = item.get("role")
    if role not in ("user", "assistant", "system", "developer"):
        raise BadRequest(f"input[{i}]: unknown role {role!r}")
    role = "system" if role == "developer" else role
    content = item.get("content")
    if isinstance(content, str) or role != "user":
        return {"role": role, "content": content if isinstance(content, str) else _text_or_refusal(content)}
    if not isinstance(content, list):
        raise BadRequest(f"input[{i}].content must be a string or a list of parts")
    parts: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "text": part.get("text", "")})
        elif kind == "input_image" and part.get("image_url"):
            image: dict[str, Any] = {"url": part["image_url"]}
            if part.get("detail") in ("auto", "low", "high"):
                image["detail"] = part["detail"]
            parts.append({"type": "image_url", "image_url": image})
        else:
            LOG.debug("input[%d]: %s content part has no chat form; not sent upstream", i, kind)
    return {"role": "user", "content": parts}


def _text_or_refusal(content: Any) -> str:
    if isinstance(content, list):
        return "".join(p.get("text") or p.get("refusal") or "" for p in content
                       if isinstance(p, dict) and p.get("type") in ("text", "input_text", "output_text", "refusal"))
    return text_of(content)


def flat_tool_name(namespace: str, name: str) -> str:
    """`namespace__name`, the flat name Codex itself uses when a boundary cannot keep namespaces."""
    return f"{namespace.rstrip('_')}__{name.lstrip('_')}"


def request_tools(body: dict[str, Any]) -> list[Any]:
    """Top-level `tools` and those of `additional_tools` input items (Codex's code mode sends only the latter)."""
    tools = list(body["tools"]) if isinstance(body.get("tools"), list) else []
    items = body.get("input")
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("type") == "additional_tools" and isinstance(item.get("tools"), list):
            tools.extend(item["tools"])
    return tools


@dataclass(slots=True)
class ChatTools:
    """A Responses request's tools as chat function tools, and how to map their names back."""

    tools: list[dict[str, Any]] = field(default_factory=list)
    custom: set[str] = field(default_factory=set)
    origins: dict[str, ToolOrigin] = field(default_factory=dict)
    #: Hosted tools (web_search, file_search, ...) that only OpenAI's own servers can run.
    hosted: list[str] = field(default_factory=list)
    #: Every chat name given out so far.
    seen: dict[str, ToolOrigin] = field(default_factory=dict)


def tools_to_chat(tools: Any) -> ChatTools:
    """Function, custom and namespaced tools → chat function tools with unique names.

    A namespaced tool gets `namespace__name` (a suffix if that is taken), recorded in `origins` so that a
    call comes back to the client with its own name and namespace. Hosted tools cannot run on a chat
    upstream: they are listed in `hosted` and left out."""
    out = ChatTools()
    _add_tools(out, tools if isinstance(tools, list) else [], None)
    return out


def _add_tools(out: ChatTools, tools: list[Any], namespace: str | None) -> None:
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        kind = tool.get("type")
        name = tool.get("name") if isinstance(tool.get("name"), str) else ""
        if kind == "namespace" and isinstance(tool.get("tools"), list):
            _add_tools(out, tool["tools"], name or namespace)
            continue
        if kind not in ("function", "custom") or not name:
            out.hosted.append(str(kind))
            continue
        chat_name = flat_tool_name(namespace, name) if namespace else name
        origin = ToolOrigin(name, namespace, custom=kind == "custom")
        if chat_name in out.seen:
            if out.seen[chat_name] == origin:
                continue  # the same tool twice (Codex repeats additional_tools items in its history)
            chat_name = _unique(out, chat_name)
        out.seen[chat_name] = origin
        if namespace is not None or chat_name != name:
            out.origins[chat_name] = origin
        if kind == "custom":
            out.custom.add(chat_name)
            out.tools.append({"type": "function", "function": {
                "name": chat_name, "description": tool.get("description") or f"Call {name} with free-form text.",
                "parameters": {"type": "object", "properties": {"input": {"type": "string"}},
                               "required": ["input"]}}})
            continue
        function: dict[str, Any] = {"name": chat_name}
        if tool.get("description"):
            function["description"] = tool["description"]
        function["parameters"] = tool.get("parameters") or {"type": "object", "properties": {}}
        if tool.get("strict") is not None:
            function["strict"] = tool["strict"]
        out.tools.append({"type": "function", "function": function})


def _unique(out: ChatTools, name: str) -> str:
    n = 2
    while f"{name}_{n}" in out.seen:
        n += 1
    return f"{name}_{n}"


def _tool_choice(choice: Any, origins: dict[str, ToolOrigin]) -> Any:
    if isinstance(choice, dict) and choice.get("type") in ("function", "custom") and choice.get("name"):
        name, namespace = choice["name"], choice.get("namespace")
        if isinstance(namespace, str) and namespace:
            flat = {(o.namespace, o.name): chat for chat, o in origins.items()}
            name = flat.get((namespace, name)) or flat_tool_name(namespace, name)
        return {"type": "function", "function": {"name": name}}
    return choice if choice in ("auto", "none", "required") else None


def _response_format(text: Any) -> dict[str, Any] | None:
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_object":
        return {"type": "json_object"}
    if fmt.get("type") == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        return {"type": "json_schema", "json_schema": schema}
    return None


class ResponsesToChat:
    """One request's translation; it remembers what the response echoes (tools, instructions ...)."""

    __slots__ = ("_shape", "_created")

    def __init__(self, *, created: int | None = None) -> None:
        self._created = created if created is not None else int(time.time())
        self._shape = ResponseShape()

    def request(self, body: dict[str, Any], model_id: str) -> dict[str, Any]:
        if body.get("previous_response_id"):
            raise BadRequest(_NO_STATE)
        chat = tools_to_chat(request_tools(body))
        messages = input_to_messages(body.get("instructions"), body.get("input"), chat.origins)
        if chat.hosted:
            LOG.debug("hosted tools %s cannot run on a chat upstream; left out", sorted(set(chat.hosted)))
            messages = settle_system([{"role": "system", "content": hosted_note(chat.hosted)}, *messages])
        out: dict[str, Any] = {"model": model_id, "messages": messages}
        tools = chat.tools
        if tools:
            out["tools"] = tools
        choice = _tool_choice(body.get("tool_choice"), chat.origins)
        if choice is not None and tools:
            out["tool_choice"] = choice
        for key in _PASSED:
            if key in body:
                out[key] = body[key]
        if "parallel_tool_calls" in out and not tools:
            del out["parallel_tool_calls"]
        if body.get("stream"):
            out["stream_options"] = {"include_usage": True}
        if isinstance(body.get("max_output_tokens"), int):
            out["max_tokens"] = body["max_output_tokens"]
        reasoning = body.get("reasoning")
        if isinstance(reasoning, dict) and reasoning.get("effort"):
            out["reasoning_effort"] = reasoning["effort"]
        fmt = _response_format(body.get("text"))
        if fmt is not None:
            out["response_format"] = fmt
        self._shape = ResponseShape.from_request(body, frozenset(chat.custom), chat.origins)
        return out

    def response(self, body: dict[str, Any]) -> dict[str, Any]:
        choices = body.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
        message = as_dict(choice.get("message"))
        ids = response_ids(body.get("id"))
        output: list[dict[str, Any]] = []
        text = text_of(message.get("content"))
        if text:
            output.append({"type": "message", "id": ids.item(0), "status": "completed", "role": "assistant",
                           "content": [{"type": "output_text", "text": text, "annotations": [],
                                        "logprobs": []}]})
        calls = as_list(message.get("tool_calls"))
        for call in calls:
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict):
                continue
            name = function.get("name", "")
            arguments = function.get("arguments") or ""
            custom = self._shape.is_custom(name)
            item = self._shape.call_item(name, item_id=ids.item(len(output), "ctc" if custom else "fc"),
                                         call_id=call.get("id", ""), payload=arguments)
            output.append({**item, "status": "completed"})
        usage = as_dict(body.get("usage"))
        return self._shape.render(ids.response, created_at=self._created, model=body.get("model", ""),
                                  output=output, finish_reason=choice.get("finish_reason"),
                                  usage=responses_usage(usage))

    def stream(self) -> ChatStreamToResponses:
        return ChatStreamToResponses(shape=self._shape, created=self._created)
