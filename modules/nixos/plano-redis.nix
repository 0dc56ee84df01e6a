# A local Redis for the Plano gateway (README "Several instances as one"): the session pins, budget and
# rate-limit counters, Retry-After blocks and health cool-downs that several gateway instances share.
# Unix socket only (no TCP port), readable by the socket's group, which plano.service joins.
{ config, lib, ... }:
let
  cfg = config.dubnium.plano;
  redis = config.services.redis.servers.plano;
in
{
  options.dubnium.plano.redis.enable = lib.mkEnableOption ''
    a local Redis (services.redis.servers.plano, unix socket only) wired into the gateway's settings as
    routing.session_cache, so the instances on this host (and any sharing the socket) behave as one
  '';

  config = lib.mkIf (cfg.enable && cfg.redis.enable) {
    services.redis.servers.plano = {
      enable = true;
      port = 0; # no TCP listener: the unix socket only
      unixSocketPerm = 660;
    };

    dubnium.plano.settings.routing.session_cache = {
      type = "redis";
      url = "unix://${redis.unixSocket}";
    };

    systemd.services.plano = {
      after = [ "redis-plano.service" ];
      wants = [ "redis-plano.service" ];
      # DynamicUser= plus the socket's group; AF_UNIX is already allowed (sd_notify, journald).
      serviceConfig.SupplementaryGroups = [ redis.group ];
    };
  };
}
