# A node module providing vllm.service: a tiny OpenAI-compatible server on `port` (the real one is vLLM).
#
# POST /v1/chat/completions answers "fake-vllm saw <model>" (the model id exactly as received, so the
# test can check the gateway stripped the `openai/` prefix) and appends each request body to
# /var/lib/fake-vllm/requests.jsonl; GET /v1/models lists the one model.
{ port, model }:
{ pkgs, ... }:
let
  server = pkgs.writers.writePython3 "fake-vllm" { flakeIgnore = [ "E501" ]; } ''
    import json
    import os
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    PORT = int(sys.argv[1])
    MODEL = sys.argv[2]
    LOG = os.path.join(os.environ["STATE_DIRECTORY"], "requests.jsonl")


    class Handler(BaseHTTPRequestHandler):
        def reply(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/v1/models":
                self.reply(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
            else:
                self.reply(404, {"error": {"message": "not found"}})

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("content-length", "0")))
            with open(LOG, "ab") as log:
                log.write(raw.replace(b"\n", b" ") + b"\n")
            if self.path != "/v1/chat/completions":
                self.reply(404, {"error": {"message": "not found"}})
                return
            request = json.loads(raw)
            self.reply(200, {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 0,
                "model": request.get("model"),
                "choices": [{
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {
                        "role": "assistant",
                        "content": "fake-vllm saw " + str(request.get("model")),
                    },
                }],
                "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
            })


    ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
  '';
in
{
  systemd.services.vllm = {
    description = "Fake vLLM (OpenAI-compatible test double)";
    wantedBy = [ "compute.target" ];
    partOf = [ "compute.target" ];
    serviceConfig = {
      ExecStart = "${server} ${toString port} ${model}";
      DynamicUser = true;
      StateDirectory = "fake-vllm";
      Slice = "ai.slice";
    };
  };
}
