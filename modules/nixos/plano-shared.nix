# Several instances as one (Redis) and tracing (OTLP) for plano.service, builtins only (no nixpkgs), so
# tests/nix evaluates it offline. ./plano-shared-state.nix turns it into NixOS options and config.
{
  # A local Redis (services.redis.servers.plano) reached over its unix socket.
  createLocally ? false,
  redisSocket ? "/run/redis-plano/redis.sock",
  redisGroup ? "redis-plano",
  # An external Redis: a `$VAR` reference resolved from the environment files, or a URL without credentials.
  redisUrl ? null,
  # OTLP/gRPC receiver, http(s)://host:port with no path; null: no tracing.
  tracingEndpoint ? null,
  randomSampling ? 100,
}:
let
  url = if createLocally then "unix://${redisSocket}" else redisUrl;
  isReference = value: builtins.substring 0 1 value == "$";
  # A literal URL with user info (`redis://:password@host`) would put the password in the Nix store.
  literalCredentials = redisUrl != null && !isReference redisUrl && builtins.match ".*://[^/]*@.*" redisUrl != null;
  endpointOk = tracingEndpoint == null || builtins.match "https?://[^/]+/?" tracingEndpoint != null;
in
{
  inherit url;

  # Merged into dubnium.plano.settings (each leaf a default the user's settings may override).
  settings =
    (
      if url == null then
        { }
      else
        {
          routing.session_cache = {
            type = "redis";
            inherit url;
          };
          dubnium.shared_state.redis_url = url;
        }
    )
    // (
      if tracingEndpoint == null then
        { }
      else
        {
          tracing = {
            opentracing_grpc_endpoint = tracingEndpoint;
            random_sampling = randomSampling;
          };
        }
    );

  # Added to plano.service. The socket is redis-plano:redis-plano 0660 in a 0750 directory: the dynamic
  # user reaches it through the supplementary group (which still counts under PrivateUsers=, where it shows
  # as nogroup). RestrictAddressFamilies= already has AF_UNIX and the unit sets no IPAddressDeny=, so a
  # loopback OTLP receiver needs nothing more.
  unit =
    if createLocally then
      {
        After = [ "redis-plano.service" ];
        Wants = [ "redis-plano.service" ];
        SupplementaryGroups = [ redisGroup ];
      }
    else
      {
        After = [ ];
        Wants = [ ];
        SupplementaryGroups = [ ];
      };

  assertions = [
    {
      assertion = !(createLocally && redisUrl != null);
      message = ''
        dubnium.plano.redis.createLocally and dubnium.plano.redis.url are both set; choose one: the local
        Redis (services.redis.servers.plano, unix socket) or the external one at redis.url.
      '';
    }
    {
      assertion = !literalCredentials;
      message = ''
        dubnium.plano.redis.url carries credentials; the generated config is world-readable in the Nix
        store. Write `redis.url = "$PLANO_REDIS_URL";` and put PLANO_REDIS_URL=redis://:password@host:6379/0
        in a file listed in dubnium.plano.environmentFiles (e.g. a sops-nix template).
      '';
    }
    {
      assertion = endpointOk;
      message = ''
        dubnium.plano.tracing.endpoint = "${toString tracingEndpoint}" must be an http(s) URL with a host and
        no path, such as "http://127.0.0.1:4317" (an OTLP/gRPC receiver).
      '';
    }
    {
      assertion = randomSampling >= 0 && randomSampling <= 100;
      message = "dubnium.plano.tracing.randomSampling must be a percentage (0 to 100).";
    }
  ];
}
