# The dubnium Home Manager module set: client-side configuration for the Plano gateway.
{
  imports = [ ./plano-clients.nix ];
}
