"""`state_storage` end to end: the official OpenAI SDK's Responses API continues conversations with
`previous_response_id` on memory and on a real PostgreSQL, whatever dialect the upstream speaks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.conftest import config, provider
from tests.functional.users_setup import KEYS, PLANNING, users_setup

SECRET = "my-s3cret-diary-entry"


@pytest.fixture(params=["memory", "postgres"])
def storage(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "memory":
        return {"type": "memory"}
    dsn = request.getfixturevalue("postgres_dsn")
    return {"type": "postgres", "connection_string": dsn}


def chat_roles(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["role"], m["content"] if isinstance(m["content"], str) else
             "".join(p["text"] for p in m["content"])) for m in body["messages"]]


@pytest.mark.parametrize("stream", [False, True])
async def test_previous_response_id_rebuilds_the_conversation_for_a_chat_upstream(
        storage, stream, fake_upstream, gateway, openai_client):
    up = await fake_upstream()
    gw = await gateway(config(provider("local/qwen", up), state_storage=storage))
    client = openai_client(gw)

    async def ask(text: str, previous: str | None) -> tuple[str, str]:
        if not stream:
            reply = await client.responses.create(model="local/qwen", input=text, previous_response_id=previous)
            return reply.id, reply.output_text
        async with client.responses.stream(model="local/qwen", input=text, previous_response_id=previous) as s:
            final = await s.get_final_response()
        return final.id, final.output_text

    first_id, first = await ask("hello", None)
    second_id, second = await ask("and again", first_id)
    _, third = await ask("third", second_id)

    assert (first, second, third) == ("echo: hello", "echo: and again", "echo: third")
    assert chat_roles(up.received[2].json) == [
        ("user", "hello"), ("assistant", "echo: hello"), ("user", "and again"), ("assistant", "echo: and again"),
        ("user", "third")]
    assert "previous_response_id" not in up.received[2].json


async def test_previous_response_id_rebuilds_the_conversation_for_an_anthropic_upstream(
        storage, fake_upstream, gateway, openai_client):
    up = await fake_upstream()
    gw = await gateway(config(provider("anthropic/claude-x", up), state_storage=storage))
    client = openai_client(gw)

    first = await client.responses.create(model="anthropic/claude-x", input="hello", instructions="Be terse.")
    second = await client.responses.create(model="anthropic/claude-x", input=[
        {"role": "user", "content": [{"type": "input_text", "text": "more"}]}], previous_response_id=first.id)

    assert second.output_text == "echo: more"
    sent = up.received[1].json
    assert up.received[1].path.endswith("/messages")
    assert "system" not in sent  # instructions are not carried over (as OpenAI's Responses API defines)
    assert [(m["role"], m["content"][0]["text"] if isinstance(m["content"], list) else m["content"])
            for m in sent["messages"]] == [("user", "hello"), ("assistant", "echo: hello"), ("user", "more")]


async def test_unknown_or_unstored_previous_response_is_a_400_in_the_openai_dialect(
        storage, fake_upstream, gateway, openai_client):
    up = await fake_upstream()
    gw = await gateway(config(provider("local/qwen", up), state_storage=storage))
    client = openai_client(gw)
    unstored = await client.responses.create(model="local/qwen", input="hi", store=False)

    for previous in ("resp_never_seen", unstored.id):
        with pytest.raises(openai.BadRequestError) as err:
            await client.responses.create(model="local/qwen", input="x", previous_response_id=previous)
        assert err.value.body["code"] == "previous_response_not_found"
        assert err.value.body["param"] == "previous_response_id"
    assert len(up.received) == 1


async def test_stored_conversation_never_reaches_the_ledger_or_logs(
        storage, fake_upstream, gateway, openai_client, state_directory: Path, caplog):
    up = await fake_upstream()
    gw = await gateway(config(provider("local/qwen", up), state_storage=storage))
    client = openai_client(gw)
    caplog.set_level("DEBUG")

    first = await client.responses.create(model="local/qwen", input=SECRET)
    await client.responses.create(model="local/qwen", input="next", previous_response_id=first.id)
    await gw.server.stop()

    ledger = (state_directory / "route-decisions.jsonl").read_text()
    assert len(ledger.splitlines()) == 2 and SECRET not in ledger
    assert SECRET not in caplog.text
    assert SECRET not in repr(await gw.server.gateway.services.conversations.store.get(first.id) or "")


async def test_a_local_only_conversation_cannot_be_continued_on_a_cloud_channel(
        storage, fake_upstream, gateway, openai_client):
    cfg, fakes = await users_setup(fake_upstream)
    cfg["state_storage"] = storage
    gw = await gateway(cfg, env=KEYS)
    client = openai_client(gw)

    private = await client.responses.create(model="local-code", input=PLANNING[0]["content"],
                                            extra_headers={"X-Privacy-Class": "local_only"})
    assert private.model == "qwen2.5-coder-14b-instruct"
    cloud_ok = {"X-Privacy-Class": "trusted_cloud_ok"}

    # The same request, not continued, is routed to a cloud model; continued, it stays local.
    fresh = await client.responses.create(model="local-code", input=PLANNING[0]["content"], extra_headers=cloud_ok)
    assert fresh.model == "nemotron-4-340b-instruct"
    continued = await client.responses.create(model="local-code", input=PLANNING[0]["content"],
                                              previous_response_id=private.id, extra_headers=cloud_ok)
    assert continued.model == "qwen2.5-coder-14b-instruct"
    # Asking for a cloud model by name: the conversation still goes to no cloud upstream.
    cloud_before = sum(len(f.received) for name, f in fakes.items() if name != "local")
    named = await client.responses.create(model="cloud-general", input="go on", previous_response_id=continued.id,
                                          extra_headers=cloud_ok)
    assert named.model == "qwen2.5-coder-14b-instruct"
    assert sum(len(f.received) for name, f in fakes.items() if name != "local") == cloud_before
    # ... while a conversation that started cloud-eligible may go there.
    allowed = await client.responses.create(model="cloud-general", input="go on", previous_response_id=fresh.id,
                                            extra_headers=cloud_ok)
    assert allowed.status == "completed"
    assert json.dumps(fakes["local"].received[-1].json).count(PLANNING[0]["content"]) == 2
