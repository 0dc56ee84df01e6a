# The dubnium NixOS module set: the Plano gateway workload and the compute/desktop modes it runs in.
{
  imports = [
    ./plano.nix
    ./plano-shared-state.nix
    ./modes.nix
  ];
}
