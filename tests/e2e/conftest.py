"""A private Xvfb display for the real-window test; skipped when Xvfb is not installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ARTIFACTS_ENV = "TEXSTUDIO_ARTIFACTS"


def artifacts_dir() -> Path:
    """$TEXSTUDIO_ARTIFACTS, else tests/e2e/artifacts/ (git-ignored)."""
    folder = Path(os.environ.get(ARTIFACTS_ENV) or Path(__file__).resolve().parent / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def xvfb_display():
    """Start ``Xvfb :N`` on a free display number; yields ":N" and stops it afterwards."""
    binary = shutil.which("Xvfb")
    if binary is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb and the libxcb packages listed in .ci/run)")
    for number in range(90, 140):
        if Path(f"/tmp/.X{number}-lock").exists() or Path(f"/tmp/.X11-unix/X{number}").exists():
            continue
        process = subprocess.Popen([binary, f":{number}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and process.poll() is None:
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                break
            time.sleep(0.05)
        if process.poll() is None:
            try:
                yield f":{number}"
            finally:
                process.terminate()
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            return
    pytest.skip("no free X display number for Xvfb")
