# dubnium.planoClients: user-level configuration for tools that talk to the Plano gateway.
#
# Writes ~/.config/planoai/dubnium.yaml and ~/.config/model-router/profiles/<profile>.yaml (defaults:
# ./dubnium-plano.nix and ./local-first-dev.nix, the user's own files) and sets the session variables
# that point clients at the gateway. It starts nothing: plano.service is the NixOS module's job.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.dubnium.planoClients;
  yamlFormat = pkgs.formats.yaml { };

  planoConfigPath = "planoai/dubnium.yaml";
  profilePath = "model-router/profiles/${cfg.profile.name}.yaml";

  # What this module writes lands in the world-readable Nix store: keys must stay `$VAR` references.
  inherit (import ../nixos/plano-settings.nix) literalSecrets;
  writtenSecrets =
    lib.optionals (cfg.configFile == null) (map (p: "settings.${p}") (literalSecrets cfg.settings))
    ++ lib.optionals (cfg.profile.file == null) (
      map (p: "profile.settings.${p}") (literalSecrets cfg.profile.settings)
    );
in
{
  options.dubnium.planoClients = {
    enable = lib.mkEnableOption "Plano client configuration and the model-router profile";

    baseUrl = lib.mkOption {
      type = lib.types.str;
      default = "http://127.0.0.1:12000";
      example = "http://dubnium.tailnet.ts.net:12000";
      description = ''
        Base URL of the Plano gateway. `PLANO_BASE_URL` and `ANTHROPIC_BASE_URL` (Claude Code, the
        `anthropic` SDK) are set to it and `OPENAI_BASE_URL` (OpenCode, Codex, the `openai` SDK) to it plus
        `/v1`; the default profile's `runtime` section uses it too.
      '';
    };

    settings = lib.mkOption {
      inherit (yamlFormat) type;
      default = import ./dubnium-plano.nix { };
      defaultText = lib.literalExpression "import ./dubnium-plano.nix { } # the user's dubnium-vllm.yaml";
      example = lib.literalExpression ''
        import ./dubnium-plano.nix { localBaseUrl = "http://127.0.0.1:11434/v1"; }
      '';
      description = ''
        Plano config written to {file}`$XDG_CONFIG_HOME/planoai/dubnium.yaml`. Keys must stay `$VAR`
        references (an assertion rejects literal `access_key`s): the file is world-readable in the Nix store.
      '';
    };

    configFile = lib.mkOption {
      type = lib.types.nullOr lib.types.path;
      default = null;
      example = lib.literalExpression "./planoai/dubnium.yaml";
      description = "A file to link as {file}`$XDG_CONFIG_HOME/planoai/dubnium.yaml` instead of `settings`.";
    };

    profile = {
      name = lib.mkOption {
        type = lib.types.str;
        default = "local-first-dev";
        example = "cloud-ok";
        description = ''
          Name of the model-router profile, written to
          {file}`$XDG_CONFIG_HOME/model-router/profiles/<name>.yaml` and exported as `MODEL_ROUTER_PROFILE`.
        '';
      };

      settings = lib.mkOption {
        inherit (yamlFormat) type;
        default = import ./local-first-dev.nix {
          inherit (cfg.profile) name;
          planoBaseUrl = cfg.baseUrl;
        };
        defaultText = lib.literalExpression ''
          import ./local-first-dev.nix { name = cfg.profile.name; planoBaseUrl = cfg.baseUrl; }
        '';
        example = lib.literalExpression ''
          { profile = "cloud-ok"; version = "0.1.0"; fallback.allowed_reasons = [ "timeout" ]; }
        '';
        description = "The model-router policy profile (privacy classes, sources, rules, fallback, ledger).";
      };

      file = lib.mkOption {
        type = lib.types.nullOr lib.types.path;
        default = null;
        example = lib.literalExpression "./model-router/local-first-dev.yaml";
        description = "A profile file to link instead of `profile.settings`.";
      };
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = lib.hasPrefix "http://" cfg.baseUrl || lib.hasPrefix "https://" cfg.baseUrl;
        message = ''
          dubnium.planoClients.baseUrl = "${cfg.baseUrl}" is not an http(s) URL; use e.g. "http://127.0.0.1:12000".
        '';
      }
      {
        assertion = writtenSecrets == [ ];
        message = ''
          dubnium.planoClients holds literal secrets at ${lib.concatStringsSep ", " writtenSecrets}; the
          files it writes are world-readable in the Nix store. Write `access_key = "$SOME_API_KEY";` and
          export SOME_API_KEY from outside the store (e.g. a sops-nix secret).
        '';
      }
    ];

    xdg.configFile.${planoConfigPath}.source =
      if cfg.configFile != null then cfg.configFile else yamlFormat.generate "dubnium.yaml" cfg.settings;

    xdg.configFile.${profilePath}.source =
      if cfg.profile.file != null then
        cfg.profile.file
      else
        yamlFormat.generate "${cfg.profile.name}.yaml" cfg.profile.settings;

    home.sessionVariables = import ./session-variables.nix {
      inherit (cfg) baseUrl;
      inherit planoConfigPath;
      configHome = config.xdg.configHome;
      stateHome = config.xdg.stateHome;
      profileName = cfg.profile.name;
    };
  };
}
