# The dubnium.plano defaults from the host documentation (seed 000), as pure data.
# plano.nix takes its option defaults from here, and tests/nix checks them without nixpkgs.
{
  enable = false;
  runtime = "external";
  externalExecutable = "/var/lib/plano/venv/bin/planoai";
  host = "127.0.0.1";
  port = 12000;
  localBaseUrl = "http://127.0.0.1:8000/v1";
  exposeOnTailscale = false;
}
