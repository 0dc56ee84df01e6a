# dubnium.plano.redis and dubnium.plano.tracing: several gateway instances as one (session pins, budgets,
# Retry-After blocks, cool-downs and rate limits in one Redis) and OTLP traces. The decisions are pure data
# in ./plano-shared.nix; this module only turns them into options and NixOS config, added to plano.nix's.
{
  config,
  lib,
  ...
}:
let
  cfg = config.dubnium.plano;
  redisServer = config.services.redis.servers.plano;
  shared = import ./plano-shared.nix {
    inherit (cfg.redis) createLocally;
    redisUrl = cfg.redis.url;
    redisSocket = redisServer.unixSocket;
    redisGroup = redisServer.group or redisServer.user;
    tracingEndpoint = cfg.tracing.endpoint;
    inherit (cfg.tracing) randomSampling;
  };
  # Each leaf a default, so dubnium.plano.settings can still override any single value.
  asDefaults = lib.mapAttrsRecursive (_: lib.mkDefault);
in
{
  options.dubnium.plano = {
    redis = {
      createLocally = lib.mkEnableOption ''
        a local Redis for the gateway (services.redis.servers.plano, unix socket only), used as
        `routing.session_cache` (type redis) and `dubnium.shared_state.redis_url`; plano.service gets the
        socket's group and starts after redis-plano.service
      '';

      url = lib.mkOption {
        type = lib.types.nullOr lib.types.str;
        default = null;
        example = "$PLANO_REDIS_URL";
        description = ''
          An external Redis shared with the other instances, as `routing.session_cache.url` and
          `dubnium.shared_state.redis_url`. A URL with a password must be a `$VAR` reference resolved from
          {option}`dubnium.plano.environmentFiles` (the config lands in the world-readable Nix store); an
          assertion rejects credentials written inline.
        '';
      };
    };

    tracing = {
      endpoint = lib.mkOption {
        type = lib.types.nullOr lib.types.str;
        default = null;
        example = "http://127.0.0.1:4317";
        description = ''
          OTLP/gRPC receiver (`tracing.opentracing_grpc_endpoint`): an http(s) URL with no path. Null: no
          tracing. The sandbox allows AF_INET/AF_INET6 with no IP address filter, so a loopback collector
          (e.g. services.opentelemetry-collector) is reachable.
        '';
      };

      randomSampling = lib.mkOption {
        type = lib.types.ints.between 0 100;
        default = 100;
        example = 10;
        description = "Percent of traces exported (`tracing.random_sampling`).";
      };
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = shared.assertions;

    dubnium.plano.settings = asDefaults shared.settings;

    services.redis.servers.plano = lib.mkIf cfg.redis.createLocally {
      enable = true;
      # Unix socket only: nothing on TCP, not even loopback.
      port = lib.mkDefault 0;
    };

    systemd.services.plano = lib.mkIf cfg.redis.createLocally {
      after = shared.unit.After;
      wants = shared.unit.Wants;
      serviceConfig.SupplementaryGroups = shared.unit.SupplementaryGroups;
    };
  };
}
