# checks.x86_64-linux: the package (with its pytest suite), the VM test, and the Home Manager files
# compared with the user's fixtures and accepted by `plano-daemon validate`.
{
  pkgs,
  self,
  home-manager,
}:
let
  home = home-manager.lib.homeManagerConfiguration {
    inherit pkgs;
    modules = [
      self.homeManagerModules.default
      {
        home = {
          username = "ryjen";
          homeDirectory = "/home/ryjen";
          stateVersion = "26.05";
        };
        dubnium.planoClients.enable = true;
      }
    ];
  };
  files = home.config.xdg.configFile;
  python = pkgs.python3.withPackages (ps: [ ps.pyyaml ]);
in
{
  package = pkgs.plano-daemon;

  vm-plano = import ./tests/plano.nix { inherit pkgs self; };

  vm-plano-shared = import ./tests/plano-shared.nix { inherit pkgs self; };

  home-files =
    pkgs.runCommand "plano-home-files"
      {
        nativeBuildInputs = [
          python
          pkgs.plano-daemon
        ];
      }
      ''
        same() {
          python3 -c 'import sys, yaml; a, b = (yaml.safe_load(open(p)) for p in sys.argv[1:]); sys.exit(a != b)' "$1" "$2" \
            || { echo "$1 differs from $2" >&2; exit 1; }
        }
        same ${files."planoai/dubnium.yaml".source} ${../tests/fixtures/dubnium-vllm.yaml}
        same ${files."model-router/profiles/local-first-dev.yaml".source} ${../tests/fixtures/local-first-dev.yaml}
        printf '%s=test\n' OPENROUTER_API_KEY NOUS_API_KEY OPENCODE_API_KEY NVIDIA_API_KEY KIMI_API_KEY > keys.env
        plano-daemon validate --config ${files."planoai/dubnium.yaml".source} --env-file keys.env
        touch $out
      '';
}
