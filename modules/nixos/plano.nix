# dubnium.plano: the Plano routing gateway as plano.service, started with compute mode.
#
# Defaults come from the host documentation (./plano-defaults.nix); the unit itself is pure data in
# ./plano-unit.nix so CI can check it with systemd-analyze without nixpkgs.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.dubnium.plano;
  defaults = import ./plano-defaults.nix;
  planoSettings = import ./plano-settings.nix;
  settingsFormat = pkgs.formats.yaml { };

  isPackage = cfg.runtime == "package";
  executable = if isPackage then lib.getExe cfg.package else cfg.externalExecutable;

  # exposeOnTailscale binds beyond loopback; the firewall then opens the port on tailscale0 only.
  listenAddress = if cfg.exposeOnTailscale then "0.0.0.0" else cfg.host;
  isLoopback = address: lib.hasPrefix "127." address || address == "::1" || address == "localhost";

  configFile =
    if cfg.configFile != null then
      cfg.configFile
    else
      settingsFormat.generate "plano.yaml" cfg.settings;

  checkExecutable = pkgs.writeShellApplication {
    name = "plano-check-executable";
    runtimeInputs = [
      pkgs.coreutils
      pkgs.findutils
    ];
    text = builtins.readFile ./check-executable.sh;
  };

  unitData = import ./plano-unit.nix {
    inherit (cfg) runtime logLevel extraArgs;
    inherit executable;
    configFile = "/etc/${configEtcPath}";
    environmentFiles = map toString cfg.environmentFiles;
    checkExecutableBin = lib.getExe checkExecutable;
  };
  unit = unitData.plano;

  # The config sits at a stable path, so a settings change leaves ExecStart alone: `nixos-rebuild switch`
  # reloads the package runtime (in-flight requests finish) and restarts it only when a setting bound at
  # start changes (planoSettings.restartSettings). The external runtime has no reload: any change restarts.
  configEtcPath = "plano/config.yaml";
  restartKey = builtins.hashString "sha256" (builtins.toJSON (planoSettings.restartSettings cfg.settings));
  unsafeExecutable = lib.findFirst (dir: lib.hasPrefix "${dir}/" cfg.externalExecutable) null unitData.writableDirs;

  defaultSettings = planoSettings.defaultSettings {
    address = listenAddress;
    inherit (cfg) port localBaseUrl;
  };
  literalSecrets = planoSettings.literalSecrets cfg.settings;
  homeOrRelative = !(lib.hasPrefix "/" cfg.externalExecutable) || lib.hasPrefix "/home/" cfg.externalExecutable;
  storeEnvironmentFiles = lib.filter (f: lib.hasPrefix builtins.storeDir (toString f)) cfg.environmentFiles;
in
{
  options.dubnium.plano = {
    enable = lib.mkEnableOption "the Plano LLM routing gateway (plano.service, started with compute.target)";

    runtime = lib.mkOption {
      type = lib.types.enum [
        "external"
        "package"
      ];
      default = defaults.runtime;
      example = "package";
      description = ''
        Which gateway to run.

        - `external`: an executable installed outside Nix, at
          {option}`dubnium.plano.externalExecutable`, run as `<executable> up <config> --foreground`.
        - `package`: {option}`dubnium.plano.package` (`plano-daemon serve --config <config>`), with
          `Type=notify-reload` readiness, a watchdog and reload on `systemctl reload plano`.
      '';
    };

    externalExecutable = lib.mkOption {
      type = lib.types.str;
      default = defaults.externalExecutable;
      example = "/opt/plano/bin/planoai";
      description = ''
        Absolute path of the Plano executable for `runtime = "external"`, outside the service's writable
        directories (`/var/lib/plano/state`, `/var/cache/plano`). `ExecStartPre` refuses it while it is
        missing, not executable, or modifiable by anyone but root (the file, its directories, its venv), so
        the unit fails closed.
      '';
    };

    package = lib.mkOption {
      type = lib.types.nullOr lib.types.package;
      default = pkgs.plano-daemon or null;
      defaultText = lib.literalExpression "pkgs.plano-daemon or null";
      example = lib.literalExpression "inputs.plano-daemon.packages.\${pkgs.system}.default";
      description = ''
        The plano-daemon package, used when `runtime = "package"`. `pkgs.plano-daemon` exists once the
        flake's `overlays.default` is in {option}`nixpkgs.overlays`.
      '';
    };

    host = lib.mkOption {
      type = lib.types.str;
      default = defaults.host;
      example = "::1";
      description = ''
        Address of the model listener in the default settings. Keep it on loopback; use
        {option}`dubnium.plano.exposeOnTailscale` to reach the gateway from the tailnet.
      '';
    };

    port = lib.mkOption {
      type = lib.types.port;
      default = defaults.port;
      example = 12001;
      description = "TCP port of the model listener (the OpenAI/Anthropic-compatible endpoint).";
    };

    localBaseUrl = lib.mkOption {
      type = lib.types.str;
      default = defaults.localBaseUrl;
      example = "http://127.0.0.1:11434/v1";
      description = ''
        OpenAI-compatible endpoint of the local model server (vllm.service by default), used as the
        default provider (`${planoSettings.localModel}`) of the default settings.
      '';
    };

    exposeOnTailscale = lib.mkOption {
      type = lib.types.bool;
      default = defaults.exposeOnTailscale;
      example = true;
      description = ''
        Bind the listener on all addresses and open {option}`dubnium.plano.port` in the firewall on the
        `tailscale0` interface only. Keep this off until the gateway behaviour is validated: Plano is
        routing infrastructure, not an authorization layer.
      '';
    };

    settings = lib.mkOption {
      type = lib.types.submodule { freeformType = settingsFormat.type; };
      default = { };
      defaultText = lib.literalExpression ''
        {
          version = "v0.4.0";
          listeners = [ { name = "egress_traffic"; type = "model"; address = cfg.host; port = cfg.port; timeout = "120s"; } ];
          model_providers = [ { model = "${planoSettings.localModel}"; access_key = "EMPTY"; base_url = cfg.localBaseUrl; default = true; } ];
        }
      '';
      example = lib.literalExpression ''
        {
          model_providers = [
            { model = "openai/qwen2.5-coder-14b-instruct"; access_key = "EMPTY"; base_url = "http://127.0.0.1:8000/v1"; default = true; }
            { model = "openrouter/anthropic/claude-3.5-sonnet"; access_key = "$OPENROUTER_API_KEY"; }
          ];
          model_aliases.cloud-general.target = "openrouter/anthropic/claude-3.5-sonnet";
        }
      '';
      description = ''
        Plano configuration (v0.4.0 YAML), rendered to {file}`/etc/plano/config.yaml`. A change reloads
        `runtime = "package"` in place; a change to `listeners` or to `dubnium.max_body_bytes`,
        `drain_seconds`, `metrics` or `ledger` (bound at start) restarts it. `version`,
        `listeners` and `model_providers` default to a loopback listener and the local endpoint; setting one
        of them replaces its default. Credentials must be `$VAR` references resolved from
        {option}`dubnium.plano.environmentFiles`: this file lands in the world-readable Nix store.
      '';
    };

    configFile = lib.mkOption {
      type = lib.types.nullOr lib.types.path;
      default = null;
      example = "/etc/plano/config.yaml";
      description = ''
        A Plano config file to link as {file}`/etc/plano/config.yaml` instead of
        {option}`dubnium.plano.settings`. A change reloads `runtime = "package"`; the daemon logs which
        settings bound at start (listeners, ...) need `systemctl restart plano`.
      '';
    };

    environmentFiles = lib.mkOption {
      type = lib.types.listOf lib.types.path;
      default = [ ];
      example = lib.literalExpression ''[ config.sops.templates."plano.env".path ]'';
      description = ''
        systemd `EnvironmentFile=`s holding the provider keys (`OPENROUTER_API_KEY=...`) that `$VAR`s in
        the config refer to, e.g. a sops-nix template. They are read by systemd as root; never point this
        at a Nix store path. Keys are read at start: restart (not reload) the unit after they change.
      '';
    };

    logLevel = lib.mkOption {
      type = lib.types.enum [
        "debug"
        "info"
        "warning"
        "error"
      ];
      default = "info";
      example = "debug";
      description = ''
        Log level of the gateway: `--log-level` for `runtime = "package"`, and `PLANO_LOG_LEVEL` in the
        environment for both runtimes.
      '';
    };

    extraArgs = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      example = [ "--verbose" ];
      description = "Extra command-line arguments appended to the gateway's `ExecStart`.";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = !isPackage || cfg.package != null;
        message = ''
          dubnium.plano.runtime = "package" needs dubnium.plano.package: add this flake's overlays.default to
          nixpkgs.overlays, or set dubnium.plano.package to the plano-daemon package.
        '';
      }
      {
        assertion = literalSecrets == [ ];
        message = ''
          dubnium.plano.settings holds literal secrets at ${lib.concatStringsSep ", " literalSecrets}; the
          generated config is world-readable in the Nix store. Write `access_key = "$SOME_API_KEY";` and put
          SOME_API_KEY=... in a file listed in dubnium.plano.environmentFiles (e.g. a sops-nix template).
        '';
      }
      {
        assertion = storeEnvironmentFiles == [ ];
        message = ''
          dubnium.plano.environmentFiles contains Nix store paths (${toString storeEnvironmentFiles}); secrets
          there are world-readable. Use a path outside the store, such as config.sops.templates."plano.env".path.
        '';
      }
      {
        assertion = isPackage || (unsafeExecutable == null && !homeOrRelative);
        message = ''
          dubnium.plano.externalExecutable = "${cfg.externalExecutable}" must be an absolute path outside
          /home${lib.optionalString (unsafeExecutable != null) " and outside ${unsafeExecutable}, which plano.service can write"}:
          the gateway must never be able to modify its own executable. Install it root-owned, e.g. under
          /var/lib/plano/venv or /opt.
        '';
      }
      {
        assertion = config.dubnium.modes.enable;
        message = ''
          dubnium.plano.enable needs compute.target and ai.slice from dubnium.modes; set
          dubnium.modes.enable = true (or leave it at its default).
        '';
      }
    ];

    warnings = lib.optional (!cfg.exposeOnTailscale && !isLoopback cfg.host) ''
      dubnium.plano.host = "${cfg.host}" listens beyond loopback. Set it back to "127.0.0.1" and use
      dubnium.plano.exposeOnTailscale = true to reach the gateway from the tailnet.
    '';

    dubnium.modes.enable = lib.mkDefault true;

    dubnium.plano.settings = {
      version = lib.mkDefault "v0.4.0";
      listeners = lib.mkDefault defaultSettings.listeners;
      model_providers = lib.mkDefault defaultSettings.model_providers;
    };

    environment.etc.${configEtcPath}.source = configFile;

    systemd.services.plano = {
      reloadTriggers = lib.optional isPackage configFile;
      restartTriggers = if isPackage then [ restartKey ] else [ configFile ];
      description = unit.Unit.Description;
      after = unit.Unit.After;
      wants = unit.Unit.Wants;
      partOf = unit.Unit.PartOf;
      wantedBy = unit.Install.WantedBy;
      unitConfig = removeAttrs unit.Unit [
        "Description"
        "After"
        "Wants"
        "PartOf"
      ];
      serviceConfig = unit.Service;
    };

    networking.firewall.interfaces = lib.mkIf cfg.exposeOnTailscale {
      tailscale0.allowedTCPPorts = [ cfg.port ];
    };
  };
}
