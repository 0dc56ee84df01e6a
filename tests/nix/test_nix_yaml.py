"""The YAML the Nix code generates, evaluated without nixpkgs and checked like the user will check it.

- NixOS default settings (modules/nixos/plano-settings.nix with the documented defaults, as plano.nix
  calls it) and the Home Manager dubnium.yaml: accepted by `python -m plano_daemon validate`.
- The Home Manager files equal the user's fixtures in content (Home Manager aichat-style golden files).
- A config naming the generated profile as `dubnium.policy_profile` validates (today `validate` does not
  open the profile); the profile itself is loaded with the daemon's policy profile loader.

pkgs.formats.yaml renders the same data; JSON is written through PyYAML here, as YAML.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from nix_offline import REPO, nix_eval

FIXTURES = REPO / "tests" / "fixtures"
CLOUD_KEYS = ("OPENROUTER_API_KEY", "NOUS_API_KEY", "OPENCODE_API_KEY", "NVIDIA_API_KEY", "KIMI_API_KEY")

NIXOS_DEFAULT_SETTINGS = """
  let
    defaults = import <repo/modules/nixos/plano-defaults.nix>;
  in
  (import <repo/modules/nixos/plano-settings.nix>).defaultSettings {
    address = defaults.host;
    inherit (defaults) port localBaseUrl;
  }
"""


def write_yaml(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def validate(config: Path, *env_files: Path) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "plano_daemon", "validate", "--config", str(config)]
    for env_file in env_files:
        args += ["--env-file", str(env_file)]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(config.parent)}  # no stray keys from the caller
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, check=False)


def keys_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys.env"
    path.write_text("".join(f"{key}=test-{key.lower()}\n" for key in CLOUD_KEYS))
    return path


def load_fixture(name: str) -> object:
    return yaml.safe_load((FIXTURES / name).read_text())


def test_nixos_default_settings_validate(tmp_path: Path) -> None:
    settings = nix_eval(NIXOS_DEFAULT_SETTINGS)
    assert settings["listeners"][0]["address"] == "127.0.0.1" and settings["listeners"][0]["port"] == 12000
    assert settings["model_providers"] == [
        {
            "model": "openai/qwen2.5-coder-14b-instruct",
            "access_key": "EMPTY",
            "base_url": "http://127.0.0.1:8000/v1",
            "default": True,
        }
    ]
    proc = validate(write_yaml(tmp_path / "plano.yaml", settings))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_local_base_url_feeds_the_default_provider() -> None:
    settings = nix_eval(
        """(import <repo/modules/nixos/plano-settings.nix>).defaultSettings {
          address = "0.0.0.0"; port = 12001; localBaseUrl = "http://127.0.0.1:11434/v1"; }"""
    )
    assert settings["model_providers"][0]["base_url"] == "http://127.0.0.1:11434/v1"
    assert settings["listeners"][0]["address"] == "0.0.0.0" and settings["listeners"][0]["port"] == 12001


def test_home_manager_plano_config_equals_fixture_and_validates(tmp_path: Path) -> None:
    settings = nix_eval("import <repo/modules/home/dubnium-plano.nix> { }")
    assert settings == load_fixture("dubnium-vllm.yaml")
    config = write_yaml(tmp_path / "dubnium.yaml", settings)
    proc = validate(config, keys_file(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_home_manager_plano_config_without_keys_fails_naming_the_variable(tmp_path: Path) -> None:
    config = write_yaml(tmp_path / "dubnium.yaml", nix_eval("import <repo/modules/home/dubnium-plano.nix> { }"))
    proc = validate(config)
    assert proc.returncode == 2
    assert "OPENROUTER_API_KEY" in proc.stdout + proc.stderr


def test_home_manager_profile_equals_fixture(tmp_path: Path) -> None:
    profile = nix_eval("import <repo/modules/home/local-first-dev.nix> { }")
    assert profile == load_fixture("local-first-dev.yaml")


def test_home_manager_profile_follows_base_url() -> None:
    profile = nix_eval(
        'import <repo/modules/home/local-first-dev.nix> { planoBaseUrl = "http://dubnium:12000"; }'
    )
    assert profile["runtime"]["openai_base_url"] == "http://dubnium:12000/v1"


def test_config_with_the_generated_profile_validates(tmp_path: Path) -> None:
    profile = write_yaml(tmp_path / "local-first-dev.yaml", nix_eval("import <repo/modules/home/local-first-dev.nix> { }"))
    settings = nix_eval("import <repo/modules/home/dubnium-plano.nix> { }")
    settings["dubnium"] = {"policy_profile": str(profile), "ledger": {"path": str(tmp_path / "ledger.jsonl")}}
    proc = validate(write_yaml(tmp_path / "dubnium.yaml", settings), keys_file(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_home_manager_profile_loads_as_a_policy_profile(tmp_path: Path) -> None:
    profile = write_yaml(tmp_path / "local-first-dev.yaml", nix_eval("import <repo/modules/home/local-first-dev.nix> { }"))
    code = "import sys; from pathlib import Path; from plano_daemon.config.profile import load_profile; load_profile(Path(sys.argv[1]))"
    proc = subprocess.run([sys.executable, "-c", code, str(profile)], cwd=REPO, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
