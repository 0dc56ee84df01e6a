# The workstation ("Dubnium"): minimal and evaluable, enough for
#   sudo nixos-rebuild build --flake .#workstation
# The boot loader and root filesystem are stubs; a real host imports its hardware-configuration.nix.
{ inputs, ... }:
{
  imports = [
    inputs.self.nixosModules.default
    inputs.sops-nix.nixosModules.sops
  ];

  nixpkgs.hostPlatform = "x86_64-linux";
  nixpkgs.overlays = [ inputs.self.overlays.default ];

  networking.hostName = "dubnium";

  boot.loader.systemd-boot.enable = true;
  boot.loader.efi.canTouchEfiVariables = false;
  fileSystems."/" = {
    device = "/dev/disk/by-label/nixos";
    fsType = "ext4";
  };
  fileSystems."/boot" = {
    device = "/dev/disk/by-label/boot";
    fsType = "vfat";
  };

  # compute.target, ai.slice and `sudo mode request compute|desktop`.
  dubnium.modes.enable = true;

  # Disabled on purpose: enable once the Plano executable exists, root-owned
  # (test -x /var/lib/plano/venv/bin/planoai; ExecStartPre refuses it otherwise), or switch to
  # runtime = "package".
  dubnium.plano.enable = false;

  # Enabling it with cloud keys from sops-nix (see docs/nixos.md):
  #
  # sops = {
  #   defaultSopsFile = ../../secrets/dubnium.yaml;
  #   secrets.openrouter_api_key = { };
  #   secrets.kimi_api_key = { };
  #   templates."plano.env".content = ''
  #     OPENROUTER_API_KEY=${config.sops.placeholder.openrouter_api_key}
  #     KIMI_API_KEY=${config.sops.placeholder.kimi_api_key}
  #   '';
  #   templates."plano.env".restartUnits = [ "plano.service" ];
  # };
  #
  # dubnium.plano = {
  #   enable = true;
  #   runtime = "package"; # pkgs.plano-daemon, from this flake's overlay
  #   environmentFiles = [ config.sops.templates."plano.env".path ];
  #   settings.model_providers = [
  #     { model = "openai/qwen2.5-coder-14b-instruct"; access_key = "EMPTY"; base_url = "http://127.0.0.1:8000/v1"; default = true; }
  #     { model = "openrouter/anthropic/claude-3.5-sonnet"; access_key = "$OPENROUTER_API_KEY"; base_url = "https://openrouter.ai/api/v1"; }
  #     { model = "kimi/moonshot-v1-128k"; access_key = "$KIMI_API_KEY"; base_url = "https://api.moonshot.ai/v1"; }
  #   ];
  # };
  # (add `config` to this file's arguments when uncommenting)

  system.stateVersion = "26.05";
}
