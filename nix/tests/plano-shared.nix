# VM test of dubnium.plano.redis: two gateways on one Redis behave as one (issue 15).
#   shared1  redis.createLocally = true: plano reaches services.redis.servers.plano over its unix socket
#            (SupplementaryGroups=redis-plano under PrivateUsers=). For this test only, that Redis also
#            listens on TCP so that shared2 can use it.
#   shared2  redis.url = "redis://shared1:6379/0": the same Redis, from another node.
# Checked: a session pin made through one gateway is honoured by the other, and a daily request cap holds
# across both. Both run the fake vLLM; every provider below points at it.
{ pkgs, self }:
let
  planoPort = 12000;
  vllmPort = 8000;
  redisPort = 6379;
  localModel = "qwen2.5-coder-14b-instruct";
  cap = 3;

  fakeVllm = import ./fake-vllm.nix {
    port = vllmPort;
    model = localModel;
  };

  gateway = {
    imports = [
      self.nixosModules.default
      fakeVllm
    ];
    environment.systemPackages = [
      pkgs.curl
      pkgs.redis
    ];
    dubnium.plano = {
      enable = true;
      runtime = "package";
      port = planoPort;
      settings = import ./plano-shared-settings.nix {
        baseUrl = "http://127.0.0.1:${toString vllmPort}/v1";
        inherit localModel cap;
      };
    };
  };
in
pkgs.testers.runNixOSTest {
  name = "plano-shared";

  nodes = {
    shared1 = {
      imports = [ gateway ];
      dubnium.plano.redis.createLocally = true;
      # Test only: the second node shares this Redis over the test network.
      services.redis.servers.plano = {
        port = redisPort;
        bind = null;
        openFirewall = true;
        settings.protected-mode = "no";
      };
    };

    shared2 = {
      imports = [ gateway ];
      dubnium.plano.redis.url = "redis://shared1:${toString redisPort}/0";
    };
  };

  testScript = ''
    import json
    import time

    PORT = ${toString planoPort}
    URL = f"http://127.0.0.1:{PORT}"
    SOCKET = "/run/redis-plano/redis.sock"
    CAP = ${toString cap}


    def post(machine, path, body, headers=()):
        """(HTTP status, JSON body) of a POST through the node's gateway."""
        args = " ".join(f"-H '{h}'" for h in ("content-type: application/json", *headers))
        out = machine.succeed(f"curl -sS -w '\\n%{{http_code}}' {args} -d '{json.dumps(body)}' {URL}{path}")
        text, status = out.rsplit("\n", 1)
        return int(status), json.loads(text)


    def shared_up(node, timeout=60):
        """Wait until the gateway's /readyz says the shared store (Redis) is up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = json.loads(node.succeed(f"curl -sS {URL}/readyz"))
            if ready.get("shared_state", {}).get("up") is True:
                return
            time.sleep(1)
        raise AssertionError(f"{node.name}: /readyz never said shared_state.up: {ready}")


    def chat(model, text):
        return {"model": model, "messages": [{"role": "user", "content": text}]}


    start_all()

    with subtest("both gateways start in compute mode and see the shared Redis"):
        shared1.wait_for_unit("redis-plano.service")
        for node in (shared1, shared2):
            node.succeed("mode request compute")
            node.wait_for_unit("plano.service")
            node.wait_for_open_port(PORT)
            shared_up(node)
        props = shared1.succeed("systemctl show -p SupplementaryGroups -p After -p Wants plano.service")
        assert "SupplementaryGroups=redis-plano" in props and "redis-plano.service" in props, props
        config = shared1.succeed("cat /etc/plano/config.yaml")
        assert f"unix://{SOCKET}" in config, config

    with subtest("a session pin made through one gateway is honoured by the other"):
        _, first = post(shared1, "/routing/v1/chat/completions",
                        chat("openai/reasoner", "Write a Python function for binary search"),
                        ["X-Session-Id: s-42"])
        _, second = post(shared2, "/routing/v1/chat/completions",
                         chat("openai/reasoner", "Explain the trade-offs of merge sort"),
                         ["X-Session-Id: s-42"])
        _, fresh = post(shared2, "/routing/v1/chat/completions",
                        chat("openai/reasoner", "Explain the trade-offs of merge sort"),
                        ["X-Session-Id: s-43"])
        assert (first["route"], first["pinned"]) == ("code_generation", False), first
        assert (second["route"], second["pinned"], second["model"]) == ("code_generation", True, first["models"][0]), second
        assert (fresh["route"], fresh["pinned"]) == ("complex_reasoning", False), fresh
        ttl = int(shared1.succeed(f"redis-cli -s {SOCKET} ttl plano:affinity:s-42").strip())
        assert ttl > 0, ttl

    with subtest("a daily request cap holds across both gateways"):
        results = [post(node, "/v1/chat/completions", chat("openai/capped", "hello"))
                   for node in (shared1, shared2) * CAP]
        statuses = [status for status, _ in results]
        assert statuses.count(200) == CAP, statuses
        refused = [body for status, body in results if status == 429]
        assert len(refused) == CAP and all("budget_hard_limit" in json.dumps(b) for b in refused), results
  '';
}
