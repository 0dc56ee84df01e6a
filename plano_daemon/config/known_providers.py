"""Who speaks what: a provider prefix's default wire interface and base URL (one table, as Plano has)."""

from __future__ import annotations

from dataclasses import dataclass

OPENAI = "openai"
ANTHROPIC = "anthropic"

#: Interface names accepted in `provider_interface`, mapped to the wire API they speak.
INTERFACE_ALIASES: dict[str, str] = {
    "openai": OPENAI,
    "anthropic": ANTHROPIC,
    "claude": ANTHROPIC,
    "gemini": OPENAI,
    "groq": OPENAI,
    "mistral": OPENAI,
    "deepseek": OPENAI,
    "xai": OPENAI,
    "together_ai": OPENAI,
    "openrouter": OPENAI,
    "moonshotai": OPENAI,
    "ollama": OPENAI,
    "azure_openai": OPENAI,
    "xiaomi": OPENAI,
    "chatgpt": OPENAI,
    "digitalocean": OPENAI,
    "vercel": OPENAI,
    "plano": OPENAI,
}


@dataclass(frozen=True, slots=True)
class KnownProvider:
    interface: str
    base_url: str | None  # None: the config must give base_url


KNOWN_PROVIDERS: dict[str, KnownProvider] = {
    "openai": KnownProvider(OPENAI, "https://api.openai.com/v1"),
    "anthropic": KnownProvider(ANTHROPIC, "https://api.anthropic.com/v1"),
    "claude": KnownProvider(ANTHROPIC, "https://api.anthropic.com/v1"),
    "gemini": KnownProvider(OPENAI, "https://generativelanguage.googleapis.com/v1beta/openai"),
    "groq": KnownProvider(OPENAI, "https://api.groq.com/openai/v1"),
    "mistral": KnownProvider(OPENAI, "https://api.mistral.ai/v1"),
    "deepseek": KnownProvider(OPENAI, "https://api.deepseek.com/v1"),
    "xai": KnownProvider(OPENAI, "https://api.x.ai/v1"),
    "together_ai": KnownProvider(OPENAI, "https://api.together.xyz/v1"),
    "openrouter": KnownProvider(OPENAI, "https://openrouter.ai/api/v1"),
    "moonshotai": KnownProvider(OPENAI, "https://api.moonshot.ai/v1"),
    "ollama": KnownProvider(OPENAI, None),
    "azure_openai": KnownProvider(OPENAI, None),
}

#: Provider prefixes Plano knows whose wire API this gateway does not speak: accepted at load with a
#: warning (a Plano config stays loadable), answered with an error naming the provider when chosen.
UNSPOKEN_PROVIDERS: dict[str, str] = {
    "amazon_bedrock": "Amazon Bedrock's Converse API",
}

#: Path prefix an interface uses when base_url has no path of its own.
DEFAULT_PATH_PREFIX = "/v1"

#: Hosts whose OpenAI interface also serves the Responses API natively (pass-through for Responses clients).
RESPONSES_NATIVE_HOSTS = frozenset({"api.openai.com"})
