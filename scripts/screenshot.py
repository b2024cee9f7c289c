"""Regenerate docs/screenshot.png: the main window after a short run on the sample exemplar.

    QT_QPA_PLATFORM=offscreen python scripts/screenshot.py [--out docs/screenshot.png]

Also works on a real display (or under ``xvfb-run``), where it grabs the window as the
screen shows it. Settings go to a temporary folder: the user's own are never touched.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--size", type=int, default=128, help="canvas side in pixels")
    parser.add_argument("--steps", type=int, default=80)
    args = parser.parse_args()
    os.environ["TEXSTUDIO_CONFIG_DIR"] = tempfile.mkdtemp(prefix="texstudio-shot-")

    from texstudio.gui.app import build_main_window, create_application
    from texstudio.gui.model import RunState

    app = create_application(["texstudio"])
    window = build_main_window()  # a fresh settings folder: the built-in sample exemplar
    window.resize(1280, 800)
    window.show()
    config = window.model.config
    # The engine's fast preset plus a little Gram matching, so the Gram view has something to show.
    window.model.apply_preset("fast preview")
    window.model.set_config(window.model.config.replace(
        width=args.size, height=args.size, steps=args.steps, gram_weight=0.5, tileable=True,
        preview_every=5, seed=config.seed))

    def pump(condition, timeout):
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)

    window.start()
    pump(lambda: window.model.run_state is RunState.IDLE, 900)
    if window.model.result is None:
        print(f"the run did not finish: {window.last_error}", file=sys.stderr)
        return 1
    pump(lambda: window.model.feature_maps is not None, 120)
    window.feature_view.select_channel(5)
    window.feature_view.visualize.click()
    pump(lambda: window.model.visualization is not None and window.model.visualization.done, 300)
    window.preview_view.tile.setChecked(True)
    window.loss_view.readout.setText(window.loss_view.readout_at(args.steps // 2))
    for throttle in (window.preview_view._redraw, window.loss_view._redraw, window.gram_view._redraw,
                     window._status_refresh):
        throttle.flush()
    pump(lambda: False, 0.5)
    if app.platformName() == "offscreen":
        image = window.grab()
    else:
        frame = window.frameGeometry()
        image = window.screen().grabWindow(0, frame.x(), frame.y(), frame.width(), frame.height())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    image.save(str(args.out))
    window.close()
    print(f"wrote {args.out} ({image.width()}x{image.height()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
