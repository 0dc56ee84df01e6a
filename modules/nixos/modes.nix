# dubnium.modes: desktop vs. compute mode.
#
# compute.target groups the AI workloads (vllm.service, plano.service), ai.slice holds them, and the
# `mode` command (./mode.sh) enters or leaves compute mode and records each transition.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.dubnium.modes;
  # Only aiSlice and computeTarget are used here; plano.nix fills in the service's arguments.
  units = import ./plano-unit.nix {
    executable = "/unused";
    configFile = "/unused";
  };

  mode = pkgs.writeShellApplication {
    name = "mode";
    runtimeInputs = [
      pkgs.coreutils
      config.systemd.package
    ];
    text = builtins.readFile ./mode.sh;
    meta.description = "Switch the host between desktop and compute mode";
  };
in
{
  options.dubnium.modes = {
    enable = lib.mkEnableOption "compute mode: compute.target, ai.slice and the `mode` command";

    package = lib.mkOption {
      type = lib.types.package;
      readOnly = true;
      default = mode;
      defaultText = lib.literalExpression "the mode command built from modules/nixos/mode.sh";
      example = lib.literalExpression ''"''${lib.getExe config.dubnium.modes.package} status"'';
      description = "The `mode` command, for other modules to call.";
    };
  };

  config = lib.mkIf cfg.enable {
    systemd.targets.compute = {
      description = units.computeTarget.Unit.Description;
      requires = units.computeTarget.Unit.Requires;
      after = units.computeTarget.Unit.After;
      unitConfig = removeAttrs units.computeTarget.Unit [
        "Description"
        "Requires"
        "After"
      ];
    };

    systemd.slices.ai = {
      description = units.aiSlice.Unit.Description;
      sliceConfig = units.aiSlice.Slice;
    };

    environment.systemPackages = [ cfg.package ];
    # Transitions are appended to events.jsonl here (the script's default; MODE_EVENTS_DIR is for tests).
    systemd.tmpfiles.settings."10-mode-controller"."/var/lib/mode-controller".d = {
      mode = "0750";
      user = "root";
      group = "root";
    };
  };
}
