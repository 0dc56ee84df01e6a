# Development shell: Python with the runtime and test dependencies, plus the tools tests/nix calls.
{ pkgs }:
pkgs.mkShell {
  inputsFrom = [ pkgs.plano-daemon ];
  packages = [
    (pkgs.python3.withPackages (
      ps: with ps; [
        pytest
        pytest-aiohttp
        pytest-timeout
        openai
        anthropic
        hypothesis
      ]
    ))
    pkgs.nix
    pkgs.systemd
    pkgs.shellcheck
  ];
}
