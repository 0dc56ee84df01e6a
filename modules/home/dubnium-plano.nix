# The user's client-side Plano config (~/.config/planoai/dubnium.yaml) as pure data (builtins only).
# With no arguments it equals tests/fixtures/dubnium-vllm.yaml in content; tests/nix checks that.
# Cloud keys are `$VAR` references, resolved by the gateway from its environment files.
{
  address ? "127.0.0.1",
  port ? 12000,
  localBaseUrl ? "http://127.0.0.1:8000/v1",
}:
let
  local = "openai/qwen2.5-coder-14b-instruct";
  cloud = model: key: base_url: {
    inherit model base_url;
    access_key = "$" + key;
  };
  alias = target: { inherit target; };
  preference = name: description: model: {
    inherit name description;
    models = [ model ];
  };
in
{
  version = "v0.4.0";

  listeners = [
    {
      name = "egress_traffic";
      type = "model";
      inherit address port;
      timeout = "120s";
    }
  ];

  model_providers = [
    {
      model = local;
      access_key = "EMPTY";
      base_url = localBaseUrl;
      default = true;
    }
    (cloud "openrouter/anthropic/claude-3.5-sonnet" "OPENROUTER_API_KEY" "https://openrouter.ai/api/v1")
    (cloud "nous/hermes-3-llama-3.1-405b" "NOUS_API_KEY" "https://api.nousresearch.com/v1")
    (cloud "opencode/default" "OPENCODE_API_KEY" "https://api.opencode.ai/v1")
    (cloud "nvidia/nemotron-4-340b-instruct" "NVIDIA_API_KEY" "https://integrate.api.nvidia.com/v1")
    (cloud "kimi/moonshot-v1-128k" "KIMI_API_KEY" "https://api.moonshot.ai/v1")
  ];

  model_aliases = {
    local-code = alias local;
    fast-local = alias local;
    cloud-general = alias "openrouter/anthropic/claude-3.5-sonnet";
    cloud-reasoning = alias "nous/hermes-3-llama-3.1-405b";
    long-context = alias "kimi/moonshot-v1-128k";
    code-review = alias "openrouter/anthropic/claude-3.5-sonnet";
    planning = alias "nvidia/nemotron-4-340b-instruct";
    cheap-fast = alias "opencode/default";
  };

  routing_preferences = [
    (preference "local code work"
      "code understanding, code generation, refactoring, and repo analysis that should prefer local inference"
      local
    )
    (preference "cloud general work"
      "public-safe general chat and broad reasoning allowed to use cloud routing"
      "openrouter/anthropic/claude-3.5-sonnet"
    )
    (preference "cloud reasoning work" "public-safe high-quality reasoning allowed to use cloud routing"
      "nous/hermes-3-llama-3.1-405b"
    )
    (preference "long-context work" "public-safe long-context analysis and synthesis"
      "kimi/moonshot-v1-128k"
    )
    (preference "code review work"
      "public-safe code review and repo analysis allowed to use cloud routing"
      "openrouter/anthropic/claude-3.5-sonnet"
    )
    (preference "planning work" "public-safe planning and decomposition allowed to use cloud routing"
      "nvidia/nemotron-4-340b-instruct"
    )
    (preference "cheap fast work" "public-safe cheap or fast tasks allowed to use cloud routing"
      "opencode/default"
    )
  ];
}
