"""Any config or env-file content: a located error and exit 2 (never a traceback, never a secret)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plano_daemon import cli
from plano_daemon.catalog import Catalog
from plano_daemon.config.load import MAX_FILE_BYTES, MAX_PROBLEMS, load_config
from plano_daemon.errors import ConfigError
from tests.conftest import child_env

KEY = "sk-live-hostile-0123456789abcdef"
GOOD = ("version: v0.4.0\nlisteners: [{type: model, address: 127.0.0.1, port: 0}]\n"
        "model_providers:\n  - {model: openai/m, base_url: 'http://127.0.0.1:9/v1', access_key: $KEY}\n")


def problems(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(None, text=text, environ={"KEY": KEY, **(env or {})})
    assert KEY not in "\n".join(info.value.problems)
    return info.value.problems


def test_a_key_with_a_trailing_newline_is_stripped_and_its_repr_is_redacted() -> None:
    loaded = load_config(None, text=GOOD, environ={"KEY": KEY + "\n"})
    channel = Catalog(loaded.config).resolve("openai/m")
    assert channel is not None and channel.auth_headers == (("Authorization", f"Bearer {KEY}"),)
    for shown in (repr(loaded), repr(loaded.config), repr(channel), str(loaded.config.model_dump())):
        assert KEY not in shown


@pytest.mark.parametrize(("url", "said"), [
    ("http://user:${KEY}@127.0.0.1:9/v1", "must not carry credentials"),
    ("http://${KEY}@127.0.0.1:9/v1", "must not carry credentials"),
    ("http://127.0.0.1:99999/v1", "invalid port"),
    ("http://127.0.0.1:9/v1\x00", "control character"),
])
def test_a_base_url_aiohttp_would_refuse_is_a_validation_error_with_its_path(url: str, said: str) -> None:
    text = GOOD.replace("'http://127.0.0.1:9/v1'", f'"{url}"'.replace("\x00", "\\0"))
    found = problems(text)
    assert any(p.startswith("model_providers[0].base_url:") and said in p for p in found), found


@pytest.mark.parametrize("value", ["sk-a\x01b", "sk-a\nb", "sk\x7f"])
def test_control_characters_in_a_key_or_header_are_rejected_with_the_option_path(value: str) -> None:
    found = problems(GOOD, {"KEY": value})
    assert any(p.startswith("model_providers[0].access_key:") and "control character" in p for p in found)
    headers = GOOD.replace("access_key: $KEY}", "headers: {X-Token: $KEY}}")
    found = problems(headers, {"KEY": value})
    assert any(p.startswith("model_providers[0].headers.X-Token:") for p in found), found


def test_a_config_that_is_not_utf8_has_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(GOOD.encode() + b"# caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_config(str(path), environ={"KEY": KEY})
    assert info.value.problems == [f"{path}: line 5, column 6: not UTF-8 text (byte 0xe9)"]


def test_yaml_nested_deeper_than_the_interpreter_allows_is_a_config_error() -> None:
    problem = problems("a: " + "[" * 5000 + "]" * 5000 + "\n")[0]
    assert "nested too deeply" in problem or "line 1, column 1003: exceeded maximum nesting depth" in problem


def test_a_file_over_the_size_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(GOOD.encode() + b"#" * MAX_FILE_BYTES)
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        load_config(str(path), environ={"KEY": KEY})
    assert info.value.problems == [f"{path}: larger than 4 MiB, the most a config or env file may be"]
    assert time.monotonic() - started < 5


def test_validation_output_is_capped_with_a_count_of_the_rest() -> None:
    entries = "".join(f"  - {{model: openai/m{i}, typo{i}: 1}}\n" for i in range(400))
    found = problems("version: v0.4.0\nmodel_providers:\n" + entries)
    assert len(found) == MAX_PROBLEMS + 1
    assert found[-1].startswith("... and ") and found[-1].endswith(" more problems")


def test_an_env_file_line_without_equals_is_an_error_with_its_line_number(tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text(f"# keys\nOTHER=1\n{KEY}\n")
    with pytest.raises(ConfigError) as info:
        load_config(None, text=GOOD, env_files=[str(env_file)], environ={"KEY": KEY})
    assert info.value.problems == [f"--env-file {env_file}: line 3: not a NAME=value assignment (no `=`)"]


def test_an_env_file_that_is_not_utf8_has_a_located_error(tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_bytes(b"A=1\nB=\xff\n")
    with pytest.raises(ConfigError) as info:
        load_config(None, text=GOOD, env_files=[str(env_file)], environ={"KEY": KEY})
    assert info.value.problems == [f"--env-file {env_file}: line 2, column 3: not UTF-8 text (byte 0xff)"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(
    st.binary(max_size=400),
    st.text(max_size=400).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
                 lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                     st.sampled_from(["model_providers", "listeners", "model", "base_url", "access_key",
                                      "dubnium", "timeouts", "version", "routing_preferences", "headers",
                                      "model_aliases", "target", "port", "models", "ledger"]), inner, max_size=4),
                 max_leaves=25).map(lambda v: repr(v).encode()),
), st.binary(max_size=120))
def test_any_file_content_validates_and_routes_to_ok_or_exit_2_never_a_traceback(
        tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str],
        config_bytes: bytes, env_bytes: bytes) -> None:
    where = tmp_path_factory.mktemp("fuzz")
    (where / "c.yaml").write_bytes(config_bytes)
    (where / "env").write_bytes(env_bytes)
    code = cli.main(["validate", "--config", str(where / "c.yaml"), "--env-file", str(where / "env")])
    out, err = capsys.readouterr()
    assert code in (0, 2)
    assert "Traceback" not in out + err
    if code == 2:
        assert err.startswith("invalid config:") and err.count("\n") <= MAX_PROBLEMS + 2
    code = cli.main(["route", "--config", str(where / "c.yaml"), "--env-file", str(where / "env"), "hi"])
    out, err = capsys.readouterr()
    assert code in (0, 2) and "Traceback" not in out + err


DEEP = b"a: " + b"[" * 3000 + b"]" * 3000 + b"\n"


@pytest.mark.parametrize("content", [GOOD.encode() + b"\xff\xfe\n", DEEP], ids=["not-utf8", "deep"])
@pytest.mark.parametrize("command", ["validate", "serve", "route"])
def test_validate_serve_and_route_exit_2_with_a_located_error(tmp_path: Path, command: str, content: bytes) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(content)
    argv = [sys.executable, "-m", "plano_daemon", command, "--config", str(path)]
    if command == "route":
        argv.append("hello")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=child_env(KEY=KEY))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and KEY not in done.stderr + done.stdout
    assert f"{path}: " in done.stderr
