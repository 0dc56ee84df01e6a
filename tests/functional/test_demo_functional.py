"""The README's first command: `./dev demo` runs the real gateway before simulated upstreams, and every step
checks what it shows."""

from __future__ import annotations

import subprocess
import sys


def test_the_demo_runs_every_step_and_shows_this_requests_ledger_record(tmp_path) -> None:
    done = subprocess.run([sys.executable, "-m", "plano_daemon", "demo"], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "13/13 steps behaved as expected" in done.stdout
    assert "ledger: task=code_generation router=embedded requested=local-code" in done.stdout
