# The session variables dubnium.planoClients sets, as pure data (builtins only) so tests/nix can check
# them without nixpkgs. Each client reads its own: OpenCode, Codex and the `openai` SDK take
# OPENAI_BASE_URL (with /v1), Claude Code and the `anthropic` SDK take ANTHROPIC_BASE_URL (without).
{
  baseUrl,
  configHome,
  stateHome,
  profileName,
  planoConfigPath,
}:
{
  PLANO_BASE_URL = baseUrl;
  OPENAI_BASE_URL = "${baseUrl}/v1";
  ANTHROPIC_BASE_URL = baseUrl;
  PLANO_CONFIG_FILE = "${configHome}/${planoConfigPath}";
  MODEL_ROUTER_PROFILE = profileName;
  MODEL_ROUTER_CONFIG_HOME = "${configHome}/model-router";
  MODEL_ROUTER_STATE_HOME = "${stateHome}/model-router";
  MODEL_ROUTER_LEDGER = "${stateHome}/model-router/route-decisions.jsonl";
}
