"""One end-to-end run in a real X window (Xvfb): open a photo, synthesise, export, screenshot.

pytest-qt's QApplication in this process is offscreen and there can be only one, so the
window runs in a subprocess on the xcb platform of an Xvfb started for this test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import make_texture
from tests.e2e.conftest import artifacts_dir

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
SCRIPT = Path(__file__).with_name("drive_window.py")


def test_real_window_synthesises_exports_and_screenshots(xvfb_display, tmp_path):
    photo = tmp_path / "photo.png"
    Image.fromarray((make_texture(96, seed=11) * 255).astype(np.uint8)).save(photo)
    out = artifacts_dir()
    for stale in ("tile.png", "tile.json", "tile_sheet3x2.png", "e2e_window.png", "e2e_summary.json"):
        (out / stale).unlink(missing_ok=True)
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "DISPLAY": xvfb_display,
           "TEXSTUDIO_CONFIG_DIR": str(tmp_path / "config")}
    run = subprocess.run([sys.executable, str(SCRIPT), str(photo), str(out)], env=env,
                         capture_output=True, text=True, timeout=280)
    assert run.returncode == 0, f"stdout:\n{run.stdout[-3000:]}\nstderr:\n{run.stderr[-3000:]}"

    summary = json.loads((out / "e2e_summary.json").read_text())
    assert summary["platform"] == "xcb" and summary["iterations"] == 12
    assert summary["exported"] == ["tile.json", "tile.png", "tile_sheet3x2.png"]
    with Image.open(out / "tile.png") as tile, Image.open(out / "tile_sheet3x2.png") as sheet:
        assert tile.size == (64, 64) and sheet.size == (192, 128)
    sidecar = json.loads((out / "tile.json").read_text())
    assert sidecar["config"]["tileable"] and sidecar["iterations"] == 12

    with Image.open(out / "e2e_window.png") as shot:
        pixels = np.asarray(shot.convert("RGB"), dtype=np.float32)
    assert shot.size[0] >= 1000 and shot.size[1] >= 600
    assert pixels.std() > 20  # a real, drawn window, not a blank frame
