"""Hostile clients against a live gateway: every malformed request gets a 4xx JSON answer in the client's
dialect (the closest JSON where none is known), never a 500, never plain text; slow clients are cut off."""

from __future__ import annotations

import gzip
import json
import socket
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile.conftest import BODY_TIMEOUT, HEADERS_TIMEOUT, SECRETS, Live

POST_PATHS = ("/v1/chat/completions", "/v1/messages", "/v1/responses", "/v1/messages/count_tokens",
              "/routing/v1/chat/completions", "/routing/v1/messages", "/routing/v1/responses")
CHAT = {"model": "openai/m", "messages": [{"role": "user", "content": "hi"}]}


def assert_error_in_dialect(path: str, status: int, body: bytes, expected: int | None = None) -> dict:
    assert 400 <= status < 500 if expected is None else status == expected, (status, body)
    data = json.loads(body)
    if "/messages" in path:
        assert data["type"] == "error" and data["error"]["type"] and data["error"]["message"], data
    else:
        assert data["error"]["message"] and data["error"]["type"], data
    return data


def deep(depth: int) -> bytes:
    return b'{"model": "openai/m", "messages": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("path", POST_PATHS)
def test_json_nested_10000_deep_is_a_400_in_the_dialect(live: Live, path: str) -> None:
    status, _, body = live.post(path, deep(10_000))
    assert "nested too deeply" in json.dumps(assert_error_in_dialect(path, status, body, 400))


@pytest.mark.parametrize("path", POST_PATHS)
@pytest.mark.parametrize("messages", ['[{"role": [], "content": 1}]', '[{"role": "user", "content": [{"type": {}}]}]'])
def test_unhashable_roles_and_part_types_never_make_a_500(live: Live, path: str, messages: str) -> None:
    raw = f'{{"model": "openai/m", "messages": {messages}, "input": {messages}}}'.encode()
    status, _, body = live.post(path, raw)
    assert status < 500, body


@pytest.mark.parametrize("path", POST_PATHS)
def test_lone_surrogates_never_make_a_500(live: Live, path: str) -> None:
    raw = b'{"model": "openai/m", "messages": [{"role": "user", "content": "\\ud800 and \\udfff"}], "input": "\\ud800"}'
    status, _, body = live.post(path, raw)
    assert status < 500, body
    json.loads(body)


@pytest.mark.parametrize("path", POST_PATHS)
@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd", "x-unknown"])
def test_a_body_that_does_not_match_its_content_encoding_is_a_4xx_json(live: Live, path: str, encoding: str) -> None:
    answer = live.send((f"POST {path} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
                        f"Content-Encoding: {encoding}\r\nContent-Length: 10\r\n\r\n").encode() + b"0123456789")
    assert answer is not None
    status, headers, body = answer
    assert headers["content-type"].startswith("application/json")
    json.loads(body)
    assert 400 <= status < 500, body


def test_a_gzip_body_that_is_valid_is_read(live: Live) -> None:
    status, _, body = live.post("/v1/messages/count_tokens", gzip.compress(json.dumps(CHAT).encode()),
                                {"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert status == 200 and json.loads(body)["input_tokens"] > 0


PARSER_REJECTS = {
    "too many headers": b"".join(b"X-H%d: v\r\n" % i for i in range(200)),
    "NUL in a header": b"X-Bad: a\x00b\r\n",
    "bad Content-Length": b"Content-Length: 12abc\r\n",
    "two Content-Lengths": b"Content-Length: 2\r\nContent-Length: 3\r\n",
    "header line too long": b"X-Long: " + b"a" * 20_000 + b"\r\n",
    "no colon": b"NoColonHere\r\n",
}


@pytest.mark.parametrize("name", sorted(PARSER_REJECTS))
def test_requests_the_http_parser_rejects_get_a_json_400(live: Live, name: str) -> None:
    answer = live.send(b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\n" + PARSER_REJECTS[name] + b"\r\n{}")
    assert answer is not None
    status, headers, body = answer
    assert status == 400 and headers["content-type"].startswith("application/json"), body
    assert json.loads(body)["error"]["type"] == "invalid_request_error"
    answer = live.send(b"POST /v1/messages HTTP/1.1\r\nHost: gw\r\n" + PARSER_REJECTS[name] + b"\r\n{}")
    assert answer is not None
    assert_error_in_dialect("/v1/messages", answer[0], answer[2], 400)


def test_a_get_on_a_post_path_is_a_405_and_unknown_paths_404_each_with_an_access_line(live: Live) -> None:
    answer = live.send(b"GET /v1/messages HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
    assert answer is not None
    status, headers, body = answer
    assert status == 405 and headers["allow"] == "POST"
    assert_error_in_dialect("/v1/messages", status, body, 405)
    answer = live.send(b"GET /v2/nowhere-at-all HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
    assert answer is not None and answer[0] == 404
    lines = [r for r in live.records if "plano_daemon.access" in r]
    assert any('"path":"/v1/messages"' in r and '"status":405' in r for r in lines), lines
    assert any('"path":"/v2/nowhere-at-all"' in r and '"status":404' in r for r in lines), lines


def test_routing_and_count_tokens_errors_are_json_with_their_reason_in_the_access_line(live: Live) -> None:
    status, _, body = live.post("/routing/v1/messages", b"[1, 2]")
    assert_error_in_dialect("/routing/v1/messages", status, body, 400)
    status, _, body = live.post("/v1/messages/count_tokens", b'{"model": "openai/m"}')
    assert_error_in_dialect("/v1/messages/count_tokens", status, body, 400)
    lines = [r for r in live.records if "plano_daemon.access" in r]
    assert any('"handler":"routing"' in r and "must be a JSON object" in r for r in lines), lines
    assert any('"handler":"count_tokens"' in r and "`messages` must be an array" in r for r in lines), lines


def test_a_body_sent_too_slowly_is_cut_off_with_a_408(live: Live) -> None:
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n" + b'{"model": "op')
        answer = sock.recv(65536)
        elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b'"request_timeout"' in answer and elapsed < BODY_TIMEOUT + 3


def test_forty_clients_trickling_headers_are_all_closed(live: Live) -> None:
    socks = [socket.create_connection(("127.0.0.1", live.port), timeout=10) for _ in range(40)]
    try:
        for sock in socks:
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nX-Slow: ")
        started = time.monotonic()
        while time.monotonic() - started < HEADERS_TIMEOUT + 1.0:
            for sock in socks:
                try:
                    sock.sendall(b"a")  # one more byte of a header that never ends
                except OSError:
                    pass  # already closed by the gateway
            time.sleep(0.1)
        answers = []
        for sock in socks:
            sock.settimeout(3)
            try:
                answers.append(sock.recv(65536))
            except OSError:
                answers.append(b"")
        assert all(a.startswith(b"HTTP/1.1 408 ") or a == b"" for a in answers), answers[:3]
        assert sum(a.startswith(b"HTTP/1.1 408 ") for a in answers) >= 1
    finally:
        for sock in socks:
            sock.close()


# --- hypothesis ----------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["model", "messages", "input", "role", "content", "stream", "type", "text", "tools",
                         "system", "max_tokens", "session_id", "routing_preferences", "metadata"]) | st.text(max_size=8),
        inner, max_size=5),
    max_leaves=30)
bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    json_values.map(lambda v: json.dumps({"model": "openai/m", "messages": v, "input": v}).encode()),
    st.binary(max_size=300),
    st.integers(1, 1500).map(deep),
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(POST_PATHS), body=bodies,
       encoding=st.sampled_from([None, "identity", "gzip", "deflate", "x-nope"]),
       content_type=st.sampled_from(["application/json", "text/plain", "", "application/json; charset=latin-1"]))
def test_any_body_on_any_post_endpoint_is_answered_below_500_in_json(live: Live, path: str, body: bytes,
                                                                    encoding: str | None, content_type: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    if encoding:
        headers["Content-Encoding"] = encoding
    status, resp_headers, answer = live.post(path, body, headers)
    assert status < 500, (status, answer)
    assert resp_headers["content-type"].startswith(("application/json", "text/event-stream")), resp_headers
    if status >= 400:
        assert_error_in_dialect(path, status, answer)


header_bytes = st.binary(min_size=0, max_size=40).filter(lambda b: b"\r\n" not in b)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from([b"POST", b"GET", b"PUT", b"BREW", b"P\x00ST", b""]),
       path=st.sampled_from([p.encode() for p in POST_PATHS] + [b"/v1/models", b"/%zz", b"*", b"/\xff"]),
       version=st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/9.9", b"HTTP/1.1 extra"]),
       headers=st.lists(st.tuples(header_bytes, header_bytes), max_size=6),
       length=st.sampled_from([None, b"0", b"-1", b"5", b"99999999999999999999", b"abc"]),
       chunked=st.booleans(), body=st.binary(max_size=60))
def test_any_request_bytes_are_answered_below_500_in_json_or_closed(
        live: Live, method: bytes, path: bytes, version: bytes, headers: list[tuple[bytes, bytes]],
        length: bytes | None, chunked: bool, body: bytes) -> None:
    raw = method + b" " + path + b" " + version + b"\r\nHost: gw\r\nConnection: close\r\n"
    raw += b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    if length is not None:
        raw += b"Content-Length: " + length + b"\r\n"
    if chunked:
        raw += b"Transfer-Encoding: chunked\r\n"
    answer = live.send(raw + b"\r\n" + body, timeout=BODY_TIMEOUT + HEADERS_TIMEOUT + 5)
    if answer is None:
        return  # the gateway closed the connection: allowed for bytes that are not HTTP at all
    status, resp_headers, answer_body = answer
    assert status < 500, (status, answer_body)
    assert resp_headers.get("content-type", "").startswith(("application/json", "text/plain; version=0.0.4",
                                                            "text/event-stream")), (status, resp_headers)


def test_no_answer_and_no_log_line_ever_shows_a_configured_secret(live: Live) -> None:
    """Runs last in this module: everything the tests above made the gateway write is checked."""
    live.post("/v1/chat/completions", json.dumps(CHAT).encode())
    status, _, metrics = live.get("/metrics")
    assert status == 200
    assert b'plano_requests_total{handler="none",method="OTHER",status_class="4xx"}' in metrics  # parser rejections
    assert b'plano_requests_total{handler="none",method="OTHER",status_class="4xx"} 0.0' not in metrics
    time.sleep(0.5)  # the ledger's flush interval
    state_files = [p.read_bytes() for p in live.state.rglob("*") if p.is_file()]
    assert live.records and live.bodies and state_files
    for secret in SECRETS:
        assert not [r for r in live.records if secret in r]
        assert not [b for b in live.bodies + state_files if secret.encode() in b]
    ours = [r for r in live.records if r.split(" ", 2)[1].startswith("plano_daemon")]
    assert not [r for r in ours if "Traceback" in r], [r for r in ours if "Traceback" in r][:2]
