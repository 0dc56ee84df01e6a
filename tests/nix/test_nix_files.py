"""Every .nix file parses; flake.lock and flake.nix's inputs match the pinned inputs; the module defaults
are exactly the host documentation's; the literal-secret detector behind the module's assertion works."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from nix_offline import REPO, nix_eval, require_tool

PINS = Path(__file__).parent / "data" / "nix-pins.json"  # copy of shared/nix-pins.json
SKIP_DIRS = {".git", ".venv", "node_modules", "result"}


def nix_files() -> list[Path]:
    return sorted(
        p for p in REPO.rglob("*.nix") if not SKIP_DIRS.intersection(p.relative_to(REPO).parts)
    )


def test_repo_has_the_nix_layout() -> None:
    names = {str(p.relative_to(REPO)) for p in nix_files()}
    assert {
        "flake.nix",
        "nix/package.nix",
        "nix/overlay.nix",
        "nix/tests/plano.nix",
        "modules/nixos/default.nix",
        "modules/nixos/plano.nix",
        "modules/nixos/plano-unit.nix",
        "modules/nixos/modes.nix",
        "modules/home/default.nix",
        "modules/home/plano-clients.nix",
        "hosts/workstation/default.nix",
    } <= names


@pytest.mark.parametrize("path", nix_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_nix_file_parses(path: Path) -> None:
    nix = require_tool("nix-instantiate")
    proc = subprocess.run([nix, "--parse", str(path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("path", nix_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_with_lib(path: Path) -> None:
    assert "with lib;" not in path.read_text()


def test_flake_lock_matches_pins() -> None:
    pins = json.loads(PINS.read_text())
    lock = json.loads((REPO / "flake.lock").read_text())
    assert lock["version"] == 7 and lock["root"] == "root"
    assert lock["nodes"]["root"]["inputs"] == {n: n for n in ("nixpkgs", "home-manager", "sops-nix")}
    for name in ("nixpkgs", "home-manager", "sops-nix"):
        node = lock["nodes"][name]
        assert node["locked"] == pins[name]["locked"], name
        assert node["original"] == pins[name]["original"], name
    assert "inputs" not in lock["nodes"]["nixpkgs"]
    assert lock["nodes"]["home-manager"]["inputs"] == {"nixpkgs": ["nixpkgs"]}
    assert lock["nodes"]["sops-nix"]["inputs"] == {"nixpkgs": ["nixpkgs"]}
    assert set(lock["nodes"]) == {"root", "nixpkgs", "home-manager", "sops-nix"}


def test_shared_pins_copy_is_current() -> None:
    shared = REPO.parent / "shared" / "nix-pins.json"
    if not shared.exists():
        pytest.skip("no ../shared checkout next to the repo")
    assert json.loads(shared.read_text()) == json.loads(PINS.read_text())


def test_flake_inputs_match_lock() -> None:
    inputs = nix_eval("(import <repo/flake.nix>).inputs")
    assert inputs["nixpkgs"] == {"url": "github:NixOS/nixpkgs/nixos-26.05"}
    assert inputs["home-manager"] == {
        "url": "github:nix-community/home-manager/release-26.05",
        "inputs": {"nixpkgs": {"follows": "nixpkgs"}},
    }
    assert inputs["sops-nix"] == {
        "url": "github:Mic92/sops-nix",
        "inputs": {"nixpkgs": {"follows": "nixpkgs"}},
    }


def test_module_defaults_are_the_host_documentation() -> None:
    assert nix_eval("import <repo/modules/nixos/plano-defaults.nix>") == {
        "enable": False,
        "runtime": "external",
        "externalExecutable": "/var/lib/plano/venv/bin/planoai",
        "host": "127.0.0.1",
        "port": 12000,
        "localBaseUrl": "http://127.0.0.1:8000/v1",
        "exposeOnTailscale": False,
    }


def literal_secrets(settings_nix: str) -> list[str]:
    return nix_eval(f"(import <repo/modules/nixos/plano-settings.nix>).literalSecrets ({settings_nix})")


def test_literal_secret_detector_names_each_offending_key() -> None:
    settings = """{
      model_providers = [
        { model = "openai/local"; access_key = "EMPTY"; }
        { model = "openrouter/x"; access_key = "sk-or-v1-abc"; }
        { model = "kimi/y"; access_key = "$KIMI_API_KEY"; }
        { model = "nous/z"; access_key = "\\${NOUS_API_KEY}"; }
      ];
      routing.llm_provider.access_key = "hunter2";
    }"""
    assert literal_secrets(settings) == ["model_providers[1].access_key", "routing.llm_provider.access_key"]


def test_default_settings_have_no_literal_secrets() -> None:
    expr = """(import <repo/modules/nixos/plano-settings.nix>).defaultSettings {
      address = "127.0.0.1"; port = 12000; localBaseUrl = "http://127.0.0.1:8000/v1"; }"""
    assert literal_secrets(expr) == []
    assert literal_secrets("import <repo/modules/home/dubnium-plano.nix> { }") == []
