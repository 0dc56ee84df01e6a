# The user's model-router policy profile (local-first-dev) as pure data (builtins only).
# With no arguments it equals tests/fixtures/local-first-dev.yaml in content; tests/nix checks that.
{
  name ? "local-first-dev",
  planoBaseUrl ? "http://127.0.0.1:12000",
  planoConfigFile ? "~/.config/planoai/dubnium.yaml",
  ledgerPath ? "~/.local/state/model-router/route-decisions.jsonl",
}:
let
  source = id: alias: boundary: cost: capabilities: context: {
    inherit id capabilities;
    provider = "plano";
    plano_alias = alias;
    privacy_boundary = boundary;
    cost_class = cost;
    context_tokens = context;
  };
in
{
  profile = name;
  version = "0.1.0";

  runtime = {
    gateway = "plano";
    plano_base_url = planoBaseUrl;
    openai_base_url = "${planoBaseUrl}/v1";
    plano_config_file = planoConfigFile;
  };

  principles = [
    "fail closed on privacy uncertainty"
    "prefer local execution for private code and unpublished docs"
    "preserve affinity within agentic execution loops"
    "allow fallback only for operational failures"
    "record routing decisions for later Anthesis evidence"
  ];

  privacy_classes = {
    local_only = {
      description = "Secrets, private source code, unpublished documents, and sensitive personal data";
      allowed_boundaries = [ "local" ];
    };
    trusted_cloud_ok = {
      description = "Work content allowed for explicitly approved cloud providers";
      allowed_boundaries = [
        "local"
        "trusted_cloud"
      ];
    };
    public_cloud_ok = {
      description = "Public-safe content";
      allowed_boundaries = [
        "local"
        "trusted_cloud"
        "public_cloud"
      ];
    };
  };

  sources = [
    (source "dubnium-local-code" "local-code" "local" "free" [ "code" "summarize" "rewrite" "classify" ] 32768)
    (source "dubnium-fast-local" "fast-local" "local" "free" [ "summarize" "rewrite" "classify" ] 32768)
    (source "openrouter-cloud-general" "cloud-general" "trusted_cloud" "metered" [
      "chat"
      "summarize"
      "rewrite"
      "classify"
      "code"
    ] 128000)
    (source "nous-cloud-reasoning" "cloud-reasoning" "trusted_cloud" "metered" [
      "chat"
      "code"
      "reason"
      "summarize"
      "rewrite"
    ] 200000)
    (source "kimi-long-context" "long-context" "trusted_cloud" "metered" [
      "chat"
      "reason"
      "summarize"
      "rewrite"
      "long_context"
    ] 128000)
    (source "openrouter-code-review" "code-review" "trusted_cloud" "metered" [
      "code"
      "review"
      "reason"
      "summarize"
    ] 128000)
    (source "nvidia-planning" "planning" "trusted_cloud" "metered" [ "chat" "reason" "plan" "summarize" ] 128000)
    (source "opencode-cheap-fast" "cheap-fast" "trusted_cloud" "low" [
      "chat"
      "summarize"
      "rewrite"
      "classify"
    ] 32768)
  ];

  rules = [
    {
      id = "private-code-local-only";
      description = "Private code and unpublished docs must stay on local routing surfaces";
      when.data_class = [
        "source_code"
        "secrets"
        "unpublished_docs"
        "sensitive_personal_data"
      ];
      effect = "require_local";
    }
    {
      id = "public-cheap-work-prefer-free";
      description = "Public summarize/rewrite/classify tasks should prefer free/local routes";
      when = {
        privacy_class = [ "public_cloud_ok" ];
        task = [
          "summarize"
          "rewrite"
          "classify"
        ];
      };
      effect = "prefer";
      parameters.cost_class = [
        "free"
        "low"
      ];
    }
    {
      id = "approved-general-chat-cloud-ok";
      description = "General chat may use trusted cloud providers only when task data is cloud-approved";
      when = {
        privacy_class = [
          "trusted_cloud_ok"
          "public_cloud_ok"
        ];
        task = [
          "chat"
          "reason"
        ];
      };
      effect = "allow";
      parameters.privacy_boundary = [
        "local"
        "trusted_cloud"
      ];
    }
  ];

  fallback = {
    allowed_reasons = [
      "timeout"
      "rate_limited"
      "provider_5xx"
      "transient_network_failure"
      "invalid_structured_output_after_retry"
    ];
    forbidden_reasons = [
      "privacy_violation"
      "forbidden_provider"
      "budget_hard_limit"
      "safety_policy_denial"
      "missing_approval_gate"
    ];
  };

  affinity = {
    enabled = true;
    key_sources = [
      "anthesis_execution_id"
      "session_id"
      "explicit_affinity_key"
    ];
  };

  ledger = {
    format = "jsonl";
    path = ledgerPath;
  };
}
