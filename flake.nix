{
  description = "plano_daemon: a local LLM routing gateway (Plano-compatible) as a NixOS system daemon";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";
    home-manager = {
      url = "github:nix-community/home-manager/release-26.05";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    sops-nix = {
      url = "github:Mic92/sops-nix";
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };

  # Outputs only wire files together; the logic lives in nix/, modules/ and hosts/.
  outputs =
    inputs@{
      self,
      nixpkgs,
      home-manager,
      ...
    }:
    let
      system = "x86_64-linux";
      pkgs = nixpkgs.legacyPackages.${system}.extend self.overlays.default;
    in
    {
      overlays.default = import ./nix/overlay.nix;

      packages.${system} = {
        default = self.packages.${system}.plano-daemon;
        inherit (pkgs) plano-daemon;
      };

      apps.${system}.default = {
        type = "app";
        program = nixpkgs.lib.getExe pkgs.plano-daemon;
        meta.description = "Run the plano-daemon CLI (serve, validate, route, demo)";
      };

      nixosModules = {
        default = {
          imports = [ ./modules/nixos ];
        };
        plano = {
          imports = [
            ./modules/nixos/plano.nix
            ./modules/nixos/modes.nix
          ];
        };
      };

      homeManagerModules.default = {
        imports = [ ./modules/home ];
      };
      homeModules = self.homeManagerModules;

      nixosConfigurations.workstation = nixpkgs.lib.nixosSystem {
        specialArgs = { inherit inputs; };
        modules = [ ./hosts/workstation ];
      };

      checks.${system} = import ./nix/checks.nix { inherit pkgs self home-manager; };

      devShells.${system}.default = import ./nix/shell.nix { inherit pkgs; };
    };
}
