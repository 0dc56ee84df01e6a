"""`./dev systemd-vm`: plano.service under a real systemd as PID 1, in a Debian 12 guest booted with QEMU.

Build (cached under ~/.cache/plano-daemon/systemd-vm/, keyed by a hash of the inputs):
  base   mmdebstrap: Debian 12 with systemd from bookworm-backports (>= 254: Type=notify-reload,
         RestartSteps=), python3, Debian's kernel; rebuilt only when the package list changes.
  image  base + the project's wheel and its dependencies (built here: the guest has no network) in
         /opt/plano-daemon/venv, the units rendered from modules/nixos/plano-unit.nix with only store paths
         swapped for guest paths, a fake vllm.service on 127.0.0.1:8000, a root-only 0400 environment
         file, the seed's default external executable /var/lib/plano/venv/bin/planoai (root's), and
         guest/check.py as a oneshot unit that prints one JSON line per check and powers off.
Boot: no network device, serial console, KVM when it works (not on kvm_pvm, where a stock kernel hangs)
else TCG, the disk as a throwaway snapshot, a hard timeout. Exit 0 only if every planned check passed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "nix"))
from nix_offline import nix_eval, render_unit  # type: ignore[import-not-found]  # noqa: E402  (tests/nix is on sys.path, not a package)

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "plano-daemon" / "systemd-vm"
SUITE = "bookworm"
MIRRORS = [f"deb http://deb.debian.org/debian {SUITE} main",
           f"deb http://deb.debian.org/debian {SUITE}-backports main"]
PACKAGES = ["systemd-sysv", "udev", "python3", "python3-venv", "linux-image-amd64", "iproute2", "procps"]
BACKPORTS_PIN = """Package: systemd systemd-* libsystemd* libnss-systemd libpam-systemd libudev1 udev
Pin: release n=bookworm-backports
Pin-Priority: 990
"""
GUEST_KEY = "sk-vm-0400-only-root-reads-this"  # test data: the fake vLLM accepts only this key
BOOT_TIMEOUT = 300  # seconds from QEMU start to the check plan
RUN_TIMEOUT = 900  # seconds from the plan to the last check
KVM_PROBE = 20  # seconds for a KVM guest to print its first kernel line

TOOLS = {"mmdebstrap": "mmdebstrap", "qemu-system-x86_64": "qemu-system-x86", "mke2fs": "e2fsprogs",
         "nix-instantiate": "nix-bin"}


def log(message: str) -> None:
    print(f"systemd-vm: {message}", file=sys.stderr, flush=True)


def digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:16]


def tree_bytes(*paths: Path) -> bytes:
    """Names and contents of the files under `paths` (sorted), for the cache key."""
    out = []
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()
                                                     and "__pycache__" not in p.parts)
        for f in files:
            out.append(str(f.relative_to(REPO)).encode() + b"\0" + f.read_bytes())
    return b"\0\0".join(out)


def missing_tools() -> list[str]:
    return [f"{tool} (apt: {pkg})" for tool, pkg in TOOLS.items() if shutil.which(tool) is None]


# ---------------------------------------------------------------- base: Debian from Debian's packages

def build_base() -> Path:
    key = digest(json.dumps([SUITE, MIRRORS, PACKAGES, BACKPORTS_PIN]).encode())
    base = CACHE / f"base-{key}"
    if (base / "done").exists():
        return base
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    pin = base / "backports.pref"
    pin.write_text(BACKPORTS_PIN)
    log(f"building the Debian base with mmdebstrap into {base} (a few minutes)")
    start = time.monotonic()
    subprocess.run(
        ["mmdebstrap", "--mode=root", "--variant=apt", "--format=directory", "--quiet",
         "--include=" + ",".join(PACKAGES),
         f'--setup-hook=mkdir -p "$1/etc/apt/preferences.d" && cp {pin} "$1/etc/apt/preferences.d/backports"',
         "--customize-hook=rm -rf \"$1\"/usr/share/doc/* \"$1\"/usr/share/man/* \"$1\"/var/cache/apt/*",
         SUITE, str(base / "root"), *MIRRORS],
        check=True,
    )
    (base / "done").write_text(f"{time.monotonic() - start:.0f}\n")
    log(f"base built in {time.monotonic() - start:.0f}s")
    return base


# ---------------------------------------------------------------- the project layer

GUEST_PKG_EXE = "/opt/plano-daemon/venv/bin/plano-daemon"
GUEST_EXT_EXE = "/var/lib/plano/venv/bin/planoai"
GUEST_CHECK_EXE = "/usr/local/libexec/plano-check-executable"
GUEST_ENV_FILE = "/etc/plano/plano.env"


def rendered_units() -> dict[str, str]:
    """The module's pure unit data, with only its store paths swapped for guest paths."""
    def data(runtime: str, executable: str) -> dict[str, Any]:
        unit: dict[str, Any] = nix_eval(
            f"""import <repo/modules/nixos/plano-unit.nix> {{
              runtime = "{runtime}";
              executable = "{executable}";
              environmentFiles = [ "{GUEST_ENV_FILE}" ];
              checkExecutableBin = "{GUEST_CHECK_EXE}";
            }}"""
        )
        return unit

    package, external = data("package", GUEST_PKG_EXE), data("external", GUEST_EXT_EXE)
    return {
        "plano-package.service": render_unit(package["plano"]),
        "plano-external.service": render_unit(external["plano"]),
        "ai.slice": render_unit(package["aiSlice"]),
        "compute.target": render_unit(package["computeTarget"]),
        "expected.json": json.dumps({"key": GUEST_KEY, "show": expected_show(package["plano"]["Service"])}),
    }


def expected_show(service: dict[str, Any]) -> dict[str, str]:
    """`systemctl show` values of the unit's scalar sandbox settings (lists are checked other ways)."""
    keys = ["DynamicUser", "StateDirectoryMode", "CacheDirectoryMode", "UMask", "NoNewPrivileges",
            "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "PrivateUsers", "ProtectClock",
            "ProtectControlGroups", "ProtectHostname", "ProtectKernelLogs", "ProtectKernelModules",
            "ProtectKernelTunables", "ProtectProc", "ProcSubset", "RestrictRealtime", "RestrictSUIDSGID",
            "RemoveIPC", "LockPersonality", "MemoryDenyWriteExecute", "DevicePolicy", "Slice", "Restart"]
    return {k: ("yes" if service[k] is True else "no" if service[k] is False else str(service[k])) for k in keys}


def guest_config() -> str:
    """The module's default settings, the local provider keyed from the environment file (as with sops)."""
    config = nix_eval(
        """(import <repo/modules/nixos/plano-settings.nix>).defaultSettings {
          address = "127.0.0.1"; port = 12000; localBaseUrl = "http://127.0.0.1:8000/v1"; }"""
    )
    config["model_providers"][0]["access_key"] = "$VLLM_API_KEY"
    return json.dumps(config, indent=2) + "\n"


GUEST_UNITS = {
    "vllm.service": """[Unit]
Description=Fake vLLM (OpenAI-compatible test double on 127.0.0.1:8000)
PartOf=compute.target

[Service]
ExecStart=/usr/bin/python3 /usr/local/share/plano-vm/fake_vllm.py
Environment=EXPECTED_KEY={key}
DynamicUser=yes
StateDirectory=fake-vllm
Slice=ai.slice

[Install]
WantedBy=compute.target
""",
    "plano-vm-checks.service": """[Unit]
Description=plano systemd-vm checks (results on the serial console, then power off)
After=multi-user.target
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Service]
Type=oneshot
ExecStart=/usr/bin/python3 /usr/local/share/plano-vm/check.py
StandardOutput=tty
StandardError=journal+console
TTYPath=/dev/ttyS0
TimeoutStartSec={timeout}

[Install]
WantedBy=multi-user.target
""",
}

PLANOAI_STANDIN = """#!/bin/sh
# Stand-in for the Plano CLI at the seed's default path: `planoai up CONFIG --foreground` runs this
# repository's gateway in the foreground (Type=simple).
exec /opt/plano-daemon/venv/bin/plano-daemon serve --config "$2"
"""


def project_inputs() -> bytes:
    return tree_bytes(REPO / "pyproject.toml", REPO / "plano_daemon", REPO / "modules" / "nixos",
                      HERE / "guest", Path(__file__))


def build_image(base: Path) -> Path:
    key = digest(base.name.encode(), project_inputs())
    image = CACHE / f"image-{key}"
    if (image / "done").exists():
        return image
    shutil.rmtree(image, ignore_errors=True)
    image.mkdir(parents=True)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        root = Path(tmp) / "root"
        log("copying the base tree")
        subprocess.run(["cp", "-a", "--reflink=auto", str(base / "root"), str(root)], check=True)
        wheels = root / "tmp" / "wheels"
        log("building the project's wheel")
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir",
                        str(wheels), str(REPO)], check=True)
        install_project(root, next(wheels.glob("plano_daemon-*.whl")).name)
        shutil.rmtree(wheels)
        shutil.copy(next((root / "boot").glob("vmlinuz-*")), image / "vmlinuz")
        shutil.copy(next((root / "boot").glob("initrd.img-*")), image / "initrd.img")
        size_mb = int(subprocess.run(["du", "-sm", str(root)], capture_output=True, text=True,
                                     check=True).stdout.split()[0]) + 400
        log(f"writing an ext4 image ({size_mb} MB) with mke2fs -d")
        subprocess.run(["mke2fs", "-q", "-t", "ext4", "-L", "planovm", "-d", str(root),
                        str(image / "root.img"), f"{size_mb}M"], check=True)
    (image / "done").write_text(f"{time.monotonic() - start:.0f}\n")
    log(f"image built in {time.monotonic() - start:.0f}s")
    for old in CACHE.glob("image-*"):  # ~1 GB each: keep only the current one
        if old != image:
            shutil.rmtree(old, ignore_errors=True)
    return image


def chroot(root: Path, *args: str) -> None:
    subprocess.run(["chroot", str(root), *args], check=True, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})


def install_project(root: Path, wheel: str) -> None:
    """The wheel and its dependencies, resolved by the guest's own pip (its python's markers) from PyPI
    over the host's network while building; the booted guest has no network."""
    chroot(root, "python3", "-m", "venv", "/opt/plano-daemon/venv")
    resolv = root / "etc/resolv.conf"
    saved = resolv.read_bytes() if resolv.exists() else None
    resolv.unlink(missing_ok=True)
    shutil.copy("/etc/resolv.conf", resolv)
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", root / "tmp/ca.crt")
    try:
        chroot(root, "/opt/plano-daemon/venv/bin/pip", "install", "--quiet", "--disable-pip-version-check",
               "--cert", "/tmp/ca.crt", f"/tmp/wheels/{wheel}[fast]")
    finally:
        resolv.unlink()
        if saved is not None:
            resolv.write_bytes(saved)
        (root / "tmp/ca.crt").unlink()

    share = root / "usr/local/share/plano-vm"
    share.mkdir(parents=True)
    for name, text in rendered_units().items():
        (share / name).write_text(text)
    (share / "config.json").write_text(guest_config())
    for name in ("check.py", "fake_vllm.py"):
        shutil.copy(HERE / "guest" / name, share / name)

    units = root / "etc/systemd/system"
    shutil.copy(share / "plano-package.service", units / "plano.service")
    shutil.copy(share / "ai.slice", units / "ai.slice")
    shutil.copy(share / "compute.target", units / "compute.target")
    (units / "vllm.service").write_text(GUEST_UNITS["vllm.service"].format(key=GUEST_KEY))
    (units / "plano-vm-checks.service").write_text(
        GUEST_UNITS["plano-vm-checks.service"].format(timeout=RUN_TIMEOUT))

    # What `systemctl enable` (NixOS: wantedBy) does: compute.target pulls both in.
    compute_wants = units / "compute.target.wants"
    compute_wants.mkdir()
    for unit in ("plano.service", "vllm.service"):
        (compute_wants / unit).symlink_to(f"/etc/systemd/system/{unit}")

    check_exe = root / GUEST_CHECK_EXE.lstrip("/")
    check_exe.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "modules/nixos/check-executable.sh", check_exe)
    check_exe.chmod(0o755)

    etc = root / "etc/plano"
    etc.mkdir(mode=0o755)
    (etc / "config.yaml").write_text(guest_config())
    env_file = etc / "plano.env"
    env_file.write_text(f"VLLM_API_KEY={GUEST_KEY}\n")
    env_file.chmod(0o400)

    venv = root / GUEST_EXT_EXE.lstrip("/").rsplit("/bin/", 1)[0]
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    planoai = venv / "bin" / "planoai"
    planoai.write_text(PLANOAI_STANDIN)
    planoai.chmod(0o755)
    for path in (root / "var/lib/plano", venv, venv / "bin"):
        path.chmod(0o755)

    # A small initrd (just what mounts a virtio ext4 root) unpacks in seconds under TCG, not tens.
    (root / "etc/initramfs-tools/conf.d/plano-vm.conf").write_text("MODULES=list\n")
    (root / "etc/initramfs-tools/modules").write_text("virtio_pci\nvirtio_blk\next4\n")
    chroot(root, "update-initramfs", "-u", "-k", "all")
    (root / "etc/hostname").write_text("planovm\n")
    wants = units / "multi-user.target.wants"
    wants.mkdir(exist_ok=True)
    (wants / "plano-vm-checks.service").symlink_to("/etc/systemd/system/plano-vm-checks.service")
    # No prompts and no login on the console that carries the results.
    for unit in ("systemd-firstboot.service", "serial-getty@ttyS0.service", "getty@tty1.service",
                 "apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_all.timer", "fstrim.timer"):
        (units / unit).unlink(missing_ok=True)
        (units / unit).symlink_to("/dev/null")


# ---------------------------------------------------------------- boot and parse

def kvm_usable() -> tuple[bool, str]:
    forced = os.environ.get("PLANO_VM_ACCEL")
    if forced in ("kvm", "tcg"):
        return forced == "kvm", f"PLANO_VM_ACCEL={forced}"
    if Path("/sys/module/kvm_pvm").exists():
        return False, "kvm_pvm (nested PVM) hangs stock kernels"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False, "no usable /dev/kvm"
    return True, "/dev/kvm"


def qemu_command(image: Path, kvm: bool) -> list[str]:
    accel = ["-accel", "kvm", "-cpu", "host"] if kvm else ["-accel", "tcg", "-cpu", "max"]
    return ["qemu-system-x86_64", *accel, "-m", "1536", "-smp", "2", "-nodefaults", "-no-user-config",
            "-display", "none", "-nic", "none", "-serial", "stdio", "-no-reboot",
            "-kernel", str(image / "vmlinuz"), "-initrd", str(image / "initrd.img"),
            "-append", "root=/dev/vda rw console=ttyS0 panic=-1 systemd.show_status=false",
            "-drive", f"file={image / 'root.img'},if=virtio,format=raw,snapshot=on"]


class Console:
    """QEMU's serial console, line by line, copied to a log file, with deadlines."""

    def __init__(self, command: list[str], log_path: Path) -> None:
        self.log = log_path.open("w", encoding="utf-8", errors="replace")
        self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        os.set_blocking(self.proc.stdout.fileno(), False)  # type: ignore[union-attr]
        self.buffer = b""
        self.started = time.monotonic()
        self.deadline = self.started

    def lines(self) -> Any:
        """Yield console lines until QEMU exits or self.deadline (movable by the reader) passes."""
        stdout = self.proc.stdout
        assert stdout is not None
        while time.monotonic() < self.deadline:
            ready, _, _ = select.select([stdout], [], [], 0.5)
            chunk = stdout.read() if ready else b""
            if chunk:
                self.buffer += chunk
                *complete, self.buffer = self.buffer.split(b"\n")
                for raw in complete:
                    line = raw.decode("utf-8", "replace").rstrip("\r")
                    self.log.write(line + "\n")
                    yield line
                self.log.flush()
            elif self.proc.poll() is not None:
                return

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.log.close()


MARKER = re.compile(r"(PLANO-VM-(?:PLAN|CHECK|DONE)) (\{.*\})")


def boot(image: Path, kvm: bool, log_path: Path) -> dict[str, Any]:
    """Boot once; returns {plan, checks, done, boot_s, run_s, kvm_hung}."""
    console = Console(qemu_command(image, kvm), log_path)
    out: dict[str, Any] = {"plan": None, "checks": [], "done": None, "kvm_hung": False}
    try:
        console.deadline = console.started + (KVM_PROBE if kvm else BOOT_TIMEOUT)
        kernel_seen = False
        run_start = 0.0
        for line in console.lines():
            if not kernel_seen and "Linux version" in line:
                kernel_seen = True
                console.deadline = console.started + BOOT_TIMEOUT
            match = MARKER.search(line)
            if not match:
                continue
            kind, data = match.group(1), json.loads(match.group(2))
            if kind == "PLANO-VM-PLAN":
                out["plan"], out["boot_s"] = data, time.monotonic() - console.started
                console.deadline = time.monotonic() + RUN_TIMEOUT
                run_start = time.monotonic()
            elif kind == "PLANO-VM-CHECK":
                out["checks"].append(data)
            else:
                out["done"], out["run_s"] = data, time.monotonic() - run_start
                console.deadline = time.monotonic() + 60  # let it power off
        out["kvm_hung"] = kvm and not kernel_seen
        out["exit"] = console.proc.poll()
    finally:
        console.stop()
    out["total_s"] = time.monotonic() - console.started
    return out


def report(result: dict[str, Any], accel: str) -> int:
    checks, plan = result["checks"], result["plan"]
    width = max((len(c["name"]) for c in checks), default=20)
    print(f"{'check':<{width}}  result  time   detail")
    for c in checks:
        print(f"{c['name']:<{width}}  {'PASS' if c['ok'] else 'FAIL':<6}  {c['seconds']:>5.1f}s {c['detail']}")
    failed = [c for c in checks if not c["ok"]]
    planned = plan["checks"] if plan else None
    print(f"accel: {accel}; boot to checks: {result.get('boot_s', float('nan')):.1f}s "
          f"(guest uptime {plan['uptime'] if plan else '?'}s); checks: {result.get('run_s', float('nan')):.1f}s; "
          f"QEMU total: {result['total_s']:.1f}s")
    if planned is None:
        print("FAILED: the guest never started its checks (see the console log)")
        return 1
    if result["done"] is None or len(checks) != planned:
        print(f"FAILED: {len(checks)} of {planned} checks reported before the timeout")
        return 1
    print(f"{len(checks) - len(failed)}/{planned} checks passed")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build-only", action="store_true", help="build (or find cached) image, do not boot")
    args = parser.parse_args()
    if os.geteuid() != 0:
        log("needs root (mmdebstrap --mode=root, chroot)")
        return 2
    if missing := missing_tools():
        log("missing: " + ", ".join(missing))
        return 2
    CACHE.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    image = build_image(build_base())
    log(f"image ready in {time.monotonic() - start:.0f}s: {image}")
    if args.build_only:
        return 0
    kvm, why = kvm_usable()
    console_log = CACHE / "last-console.log"
    log(f"booting with {'KVM' if kvm else 'TCG'} ({why}); console: {console_log}")
    result = boot(image, kvm, console_log)
    accel = "kvm" if kvm else f"tcg ({why})"
    if result["kvm_hung"]:
        log(f"no kernel output within {KVM_PROBE}s under KVM: falling back to TCG")
        result, accel = boot(image, False, console_log), "tcg (KVM hung)"
    return report(result, accel)


if __name__ == "__main__":
    sys.exit(main())
