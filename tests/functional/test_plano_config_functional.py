"""Plano's own demo config served: a bedrock model is answered with an error naming the provider, in the
client's dialect; bare-id alias targets serve."""

from __future__ import annotations

import anthropic
import openai
import pytest

from tests.conftest import FIXTURES
from tests.unit.test_config_names import PLANO_ENV


@pytest.fixture
async def plano_gw(gateway, fake_upstream):
    up = await fake_upstream()
    text = (FIXTURES / "plano" / "config_with_aliases.yaml").read_text()
    # The demo's providers are public APIs: point the ollama one at a fake, the listener at a free port.
    text = text.replace("http://localhost:11434", up.base_url).replace("port: 12000", "port: 0")
    return await gateway(text, env=PLANO_ENV), up


async def test_an_anthropic_client_asking_for_a_bedrock_model_is_told_why(plano_gw, anthropic_client):
    gw, _ = plano_gw
    with pytest.raises(anthropic.APIStatusError) as err:
        await anthropic_client(gw).messages.create(model="coding-model", max_tokens=10,
                                                   messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 501
    assert err.value.body["type"] == "error" and "amazon_bedrock" in err.value.body["error"]["message"]


async def test_an_openai_client_asking_for_a_bedrock_model_is_told_why(plano_gw, openai_client):
    gw, _ = plano_gw
    with pytest.raises(openai.APIStatusError) as err:
        await openai_client(gw).chat.completions.create(
            model="amazon_bedrock/us.amazon.nova-pro-v1:0", messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 501 and "amazon_bedrock" in err.value.message


async def test_a_bare_id_serves(plano_gw, openai_client):
    gw, up = plano_gw
    reply = await openai_client(gw).chat.completions.create(model="llama3.1",
                                                            messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "echo: hi"
    assert up.received[0].json["model"] == "llama3.1"
