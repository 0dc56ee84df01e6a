# plano-daemon: the gateway, built from this repository's pyproject.toml (setuptools).
{
  lib,
  python3Packages,
  postgresql,
  openssl,
}:
let
  pyproject = builtins.fromTOML (builtins.readFile ../pyproject.toml);
in
python3Packages.buildPythonApplication {
  pname = "plano-daemon";
  inherit (pyproject.project) version;
  pyproject = true;

  # Only what the build and the test suite read, so editing nix/ or docs/ does not rebuild.
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../pyproject.toml
      ../plano_daemon
      ../tests
      (lib.fileset.maybeMissing ../README.md)
    ];
  };

  build-system = [ python3Packages.setuptools ];

  dependencies = with python3Packages; [
    aiohttp
    pyyaml
    pydantic
    sdnotify
    prometheus-client
    redis  # the shared state of several instances (plano_daemon/shared)
    orjson  # JSON on the hot path (plano_daemon/json_codec.py)
    # Not required (the daemon falls back to asyncio's loop), but the measured latency assumes it.
    uvloop
  ];

  # journald log handler; the daemon logs to stderr (also journald under systemd) without it.
  optional-dependencies = {
    systemd = [ python3Packages.systemd-python or python3Packages.systemd ];
    # state_storage: postgres
    postgres = [ python3Packages.asyncpg ];
    # tracing: OTLP/gRPC spans
    tracing = with python3Packages; [
      opentelemetry-sdk
      opentelemetry-exporter-otlp-proto-grpc
    ];
  };

  nativeCheckInputs = with python3Packages; [
    pytestCheckHook
    pytest-aiohttp
    pytest-timeout
    openai
    anthropic
    hypothesis
    # tests/state_storage starts a PostgreSQL (initdb/postgres on PATH); tests/tracing an OTLP/gRPC receiver.
    asyncpg
    opentelemetry-sdk
    opentelemetry-exporter-otlp-proto-grpc
    opentelemetry-proto
    grpcio
    postgresql
    # the upstream client's TLS test makes a self-signed certificate with the openssl command
    openssl
  ];

  # tests/nix needs nix-instantiate and systemd-analyze, which the build sandbox lacks; CI runs it
  # outside Nix. tests/perf is never collected (norecursedirs in pyproject.toml).
  disabledTestPaths = [ "tests/nix" ];

  # The functional tests bind 127.0.0.1:0 for fake upstreams and the gateway.
  __darwinAllowLocalNetworking = true;

  pythonImportsCheck = [ "plano_daemon" ];

  meta = {
    description = "Local LLM routing gateway compatible with Plano's config and HTTP API";
    homepage = "https://github.com/katanemo/plano";
    license = lib.licenses.asl20;
    mainProgram = "plano-daemon";
    platforms = lib.platforms.linux;
  };
}
