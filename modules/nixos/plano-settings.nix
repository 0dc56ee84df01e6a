# Plano config helpers, builtins only (no nixpkgs), so tests/nix can evaluate them offline.
#
#   defaultSettings { address, port, localBaseUrl }  the config written when `settings` is left alone:
#     one loopback model listener and the local OpenAI-compatible endpoint (vLLM) as default provider.
#   literalSecrets settings  paths ("model_providers[1].access_key") of access keys written inline;
#     only `$VAR` / `${VAR}` references and the keyless marker `EMPTY` may reach the Nix store.
#   restartSettings settings  the settings plano-daemon binds at start (listeners, state_storage,
#     tracing, routing.session_cache, start-bound dubnium keys; a reload keeps them; see
#     restart_only_changes in plano_daemon/server.py): when they change, the module restarts the unit.
let
  # The model the user's vLLM serves (see tests/fixtures/dubnium-vllm.yaml).
  localModel = "openai/qwen2.5-coder-14b-instruct";

  isReference = value: builtins.substring 0 1 value == "$" || value == "EMPTY";

  # Walk attrsets and lists, collecting the paths of string-valued `access_key` attributes.
  findLiteralKeys =
    path: value:
    if builtins.isAttrs value then
      builtins.concatLists (
        map (
          name:
          let
            child = value.${name};
            childPath = if path == "" then name else "${path}.${name}";
          in
          if name == "access_key" && builtins.isString child then
            (if isReference child then [ ] else [ childPath ])
          else
            findLiteralKeys childPath child
        ) (builtins.attrNames value)
      )
    else if builtins.isList value then
      builtins.concatLists (
        builtins.genList (i: findLiteralKeys "${path}[${toString i}]" (builtins.elemAt value i)) (
          builtins.length value
        )
      )
    else
      [ ];
in
{
  inherit localModel;

  defaultSettings =
    {
      address,
      port,
      localBaseUrl,
    }:
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
          model = localModel;
          access_key = "EMPTY";
          base_url = localBaseUrl;
          default = true;
        }
      ];
    };

  literalSecrets = settings: findLiteralKeys "" settings;

  restartSettings =
    settings:
    let
      dubnium = settings.dubnium or { };
    in
    {
      listeners = settings.listeners or null;
      state_storage = settings.state_storage or null;
      tracing = settings.tracing or null;
      session_cache = (settings.routing or { }).session_cache or null;
      # The header read timeout is bound into the listeners' connection handler at start.
      request_headers_timeout = (dubnium.timeouts or { }).request_headers or null;
      dubnium = builtins.intersectAttrs {
        max_body_bytes = null;
        drain_seconds = null;
        metrics = null;
        ledger = null;
        shared_state = null;
      } dubnium;
    };
}
