"""The user's own config and profile pointed at loopback fakes, shared by the policy socket tests."""

from __future__ import annotations

from typing import Any

import yaml

from tests.conftest import FIXTURES
from tests.fakes.upstream import FakeUpstream

PROFILE = FIXTURES / "local-first-dev.yaml"
KEYS = {name: f"key-{name.lower()}" for name in (
    "OPENROUTER_API_KEY", "NOUS_API_KEY", "OPENCODE_API_KEY", "NVIDIA_API_KEY", "KIMI_API_KEY")}
PREFIX_OF = {"openai": "local", "openrouter": "openrouter", "nous": "nous", "opencode": "opencode",
             "nvidia": "nvidia", "kimi": "kimi"}
#: The embedded router sends this to the "planning work" route, served by a cloud model.
PLANNING = [{"role": "user", "content": "plan and decompose the migration of our billing system into milestones"}]
#: ... and this to "cloud general work", served by cloud-general's model.
GENERAL = [{"role": "user", "content": "let's have a general chat about the history of jazz"}]
TRUSTED = {"X-Privacy-Class": "trusted_cloud_ok"}


async def users_setup(fake_upstream: Any, **dubnium: Any) -> tuple[dict[str, Any], dict[str, FakeUpstream]]:
    """The user's dubnium-vllm.yaml with every base_url on a fake, plus their profile."""
    cfg = yaml.safe_load((FIXTURES / "dubnium-vllm.yaml").read_text())
    fakes = {name: await fake_upstream(name) for name in PREFIX_OF.values()}
    for p in cfg["model_providers"]:
        p["base_url"] = fakes[PREFIX_OF[p["model"].split("/", 1)[0]]].base_url
    cfg["listeners"][0]["port"] = 0
    cfg["dubnium"] = {"policy_profile": str(PROFILE), **dubnium}
    return cfg, fakes
