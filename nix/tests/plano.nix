# VM test of the dubnium.plano module (SPEC §8), one node per variant:
#   serving     runtime = "package" with a fake vllm.service: compute mode brings plano up (READY=1),
#               it sits in ai.slice, proxies and routes through the gateway port, on loopback only.
#   failclosed  runtime = "external" with no executable: plano.service fails and is never active.
#   exposed     exposeOnTailscale = true: bound beyond loopback, port open on tailscale0 only.
#   client      a peer on the test network, to show the exposed port stays closed on eth1.
# Ports are bound here and interpolated into the script, so Nix and Python cannot disagree.
{ pkgs, self }:
let
  planoPort = 12000;
  vllmPort = 8000;
  localModel = "qwen2.5-coder-14b-instruct";

  fakeVllm = import ./fake-vllm.nix {
    port = vllmPort;
    model = localModel;
  };

  common = {
    imports = [ self.nixosModules.default ];
    # pkgs carries overlays.default, so dubnium.plano.package defaults to pkgs.plano-daemon.
    environment.systemPackages = [ pkgs.curl ];
  };
in
pkgs.testers.runNixOSTest {
  name = "plano";

  nodes = {
    serving = {
      imports = [
        common
        fakeVllm
      ];
      dubnium.plano = {
        enable = true;
        runtime = "package";
        port = planoPort;
        localBaseUrl = "http://127.0.0.1:${toString vllmPort}/v1";
      };
    };

    failclosed = {
      imports = [ common ];
      # The documented default: runtime = "external" at /var/lib/plano/venv/bin/planoai, not installed.
      dubnium.plano.enable = true;
    };

    exposed = {
      imports = [ common ];
      networking.nftables.enable = false; # the rule check below reads iptables
      dubnium.plano = {
        enable = true;
        runtime = "package";
        port = planoPort;
        exposeOnTailscale = true;
      };
    };

    client = {
      environment.systemPackages = [ pkgs.curl ];
    };
  };

  testScript =
    { nodes, ... }:
    let
      firewall = nodes.exposed.networking.firewall;
    in
    ''
      import json
      import re

      PORT = ${toString planoPort}
      MODEL = "${localModel}"
      URL = f"http://127.0.0.1:{PORT}"


      def post(machine, path, body, headers=()):
          args = " ".join(f"-H '{h}'" for h in ("content-type: application/json", *headers))
          out = machine.succeed(f"curl -sS --fail-with-body {args} -d '{json.dumps(body)}' {URL}{path}")
          return json.loads(out)


      def unit_property(machine, unit, prop):
          return machine.succeed(f"systemctl show -p {prop} --value {unit}").strip()


      start_all()

      with subtest("desktop mode: nothing of compute mode runs at boot"):
          serving.wait_for_unit("multi-user.target")
          serving.fail("systemctl is-active plano.service")
          serving.fail("systemctl is-active vllm.service")
          assert serving.succeed("mode status").startswith("mode: desktop")
          serving.succeed("su nobody -s /bin/sh -c 'mode request compute' 2>&1 | grep -q 'needs root'")

      with subtest("mode request compute brings plano up (Type=notify-reload: active means READY=1)"):
          serving.succeed("mode request compute")
          serving.wait_for_unit("plano.service")
          serving.wait_for_unit("vllm.service")
          assert unit_property(serving, "plano.service", "Type") == "notify-reload"
          # The state directory is nested: /var/lib/plano (where the external venv lives) stays root's.
          assert serving.succeed("stat -c %u /var/lib/plano").strip() == "0"
          serving.succeed("test -L /var/lib/plano/state")
          assert unit_property(serving, "plano.service", "Slice") == "ai.slice"
          assert unit_property(serving, "vllm.service", "Slice") == "ai.slice"
          event = json.loads(serving.succeed("tail -n 1 /var/lib/mode-controller/events.jsonl"))
          assert (event["from"], event["to"], event["result"]) == ("desktop", "compute", "ok"), event

      with subtest("health and a chat completion through the gateway reach the fake vLLM"):
          serving.wait_for_open_port(PORT)
          serving.succeed(f"curl -sS --fail {URL}/healthz")
          reply = post(serving, "/v1/chat/completions", {
              "model": f"openai/{MODEL}",
              "messages": [{"role": "user", "content": "hello"}],
          })
          assert reply["choices"][0]["message"]["content"] == f"fake-vllm saw {MODEL}", reply
          seen = [json.loads(line) for line in
                  serving.succeed("cat /var/lib/fake-vllm/requests.jsonl").splitlines()]
          assert seen[-1]["model"] == MODEL, seen
          assert seen[-1]["messages"] == [{"role": "user", "content": "hello"}], seen

      with subtest("/routing/v1 answers with a decision and calls no model"):
          before = serving.succeed("wc -l < /var/lib/fake-vllm/requests.jsonl").strip()
          decision = post(serving, "/routing/v1/chat/completions", {
              "model": f"openai/{MODEL}",
              "messages": [{"role": "user", "content": "refactor this function"}],
          })
          assert isinstance(decision["models"], list) and decision["models"], decision
          assert "route" in decision, decision
          assert re.fullmatch(r"[0-9a-f]{32}", decision["trace_id"]), decision
          assert serving.succeed("wc -l < /var/lib/fake-vllm/requests.jsonl").strip() == before

      with subtest("the gateway listens on loopback only"):
          listeners = serving.succeed(f"ss -Htln 'sport = :{PORT}'").split("\n")
          local = [line.split()[3] for line in listeners if line.strip()]
          assert local and all(a.startswith("127.0.0.1:") for a in local), local

      with subtest("reload keeps serving; desktop mode stops plano"):
          assert "--config /etc/plano/config.yaml" in unit_property(serving, "plano.service", "ExecStart")
          serving.succeed("systemctl reload plano.service")
          serving.succeed(f"curl -sS --fail {URL}/healthz")
          serving.succeed("mode request desktop")
          serving.wait_until_fails("systemctl is-active plano.service")
          serving.wait_until_fails("systemctl is-active vllm.service")

      with subtest("fail closed: external runtime without its executable never becomes active"):
          failclosed.wait_for_unit("multi-user.target")
          failclosed.succeed("mode request compute")
          failclosed.wait_until_succeeds(
              "test \"$(systemctl show -p ActiveState --value plano.service)\" = failed", timeout=300
          )
          assert unit_property(failclosed, "plano.service", "ActiveEnterTimestampMonotonic") == "0"
          assert unit_property(failclosed, "plano.service", "ExecMainPID") == "0"
          failclosed.succeed("journalctl -u plano.service | grep -q 'Control process exited'")
          failclosed.fail(f"curl -sS --max-time 5 {URL}/healthz")

      with subtest("exposeOnTailscale: bound beyond loopback, open on tailscale0 only"):
          assert PORT in json.loads('${builtins.toJSON firewall.interfaces.tailscale0.allowedTCPPorts}')
          assert PORT not in json.loads('${builtins.toJSON firewall.allowedTCPPorts}')
          exposed.succeed("mode request compute")
          exposed.wait_for_unit("plano.service")
          exposed.wait_for_open_port(PORT)
          bound = exposed.succeed(f"ss -Htln 'sport = :{PORT}'").split()[3]
          assert bound in (f"0.0.0.0:{PORT}", f"*:{PORT}"), bound
          rules = exposed.succeed("iptables -w -S nixos-fw")
          assert re.search(rf"-i tailscale0 .*--dport {PORT} .*-j nixos-fw-accept", rules), rules
          assert not re.search(rf"^(?!.*-i tailscale0).*--dport {PORT} ", rules, re.M), rules
          client.wait_for_unit("multi-user.target")
          client.fail(f"curl -sS --max-time 5 http://exposed:{PORT}/healthz")
          exposed.succeed(f"curl -sS --fail {URL}/healthz")
    '';
}
