# Adds plano-daemon to pkgs, so `pkgs.plano-daemon` (the default of dubnium.plano.package) exists.
final: _prev: {
  plano-daemon = final.callPackage ./package.nix { };
}
