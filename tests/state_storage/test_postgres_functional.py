"""`state_storage: postgres` shared by two gateways, and a database that goes away and comes back."""

from __future__ import annotations

import openai
import pytest

from tests.conftest import config, provider


async def test_two_gateways_on_one_database_continue_each_others_conversations(
        postgres_dsn, fake_upstream, gateway, openai_client):
    up = await fake_upstream()
    cfg = config(provider("local/qwen", up), state_storage={"type": "postgres", "connection_string": postgres_dsn})
    first, second = openai_client(await gateway(cfg)), openai_client(await gateway(cfg))

    a = await first.responses.create(model="local/qwen", input="one")
    b = await second.responses.create(model="local/qwen", input="two", previous_response_id=a.id)
    c = await first.responses.create(model="local/qwen", input="three", previous_response_id=b.id)

    assert c.output_text == "echo: three"
    assert [m["content"] for m in up.received[-1].json["messages"]] == [
        "one", "echo: one", "two", "echo: two", "three"]


async def test_database_down_new_conversations_are_served_continuations_fail_503_then_recover(
        postgres_server, postgres_dsn, fake_upstream, gateway, openai_client, caplog):
    up = await fake_upstream()
    cfg = config(provider("local/qwen", up), state_storage={"type": "postgres", "connection_string": postgres_dsn})
    client = openai_client(await gateway(cfg))
    stored = await client.responses.create(model="local/qwen", input="before")

    postgres_server.stop()
    try:
        fresh = await client.responses.create(model="local/qwen", input="while down")
        assert fresh.output_text == "echo: while down"
        assert f"response {fresh.id} was not stored" in caplog.text
        with pytest.raises(openai.APIStatusError) as err:
            await client.responses.create(model="local/qwen", input="more", previous_response_id=stored.id)
        assert err.value.status_code == 503 and err.value.body["code"] == "state_storage_unavailable"
        assert "password" not in caplog.text and "while down" not in caplog.text
    finally:
        postgres_server.start()

    again = await client.responses.create(model="local/qwen", input="after", previous_response_id=stored.id)
    assert [m["content"] for m in up.received[-1].json["messages"]] == ["before", "echo: before", "after"]
    assert again.status == "completed"
