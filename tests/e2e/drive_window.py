"""Drive the real texstudio window (run by test_real_window.py under Xvfb, or by hand).

    QT_QPA_PLATFORM=xcb DISPLAY=:99 python tests/e2e/drive_window.py PHOTO OUT_DIR

Opens PHOTO, sets a tiny run in the settings panel, starts it with F5, waits, computes
feature maps and a channel visualisation, exports a tileable result and a 3x2 sheet
through the real Export dialog, and saves a screenshot of the whole window as X shows
it. Exit status 0 means every step worked; a summary goes to OUT_DIR/e2e_summary.json.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def wait_for(app, condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.01)


def main(photo: Path, out: Path) -> int:
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtTest import QTest

    from texstudio.gui.app import build_main_window, create_application
    from texstudio.gui.model import RunState

    app = create_application(["texstudio"])
    window = build_main_window()
    window.resize(1280, 770)
    window.show()
    assert QTest.qWaitForWindowExposed(window, 10_000), "window never exposed"
    assert app.platformName() == "xcb", app.platformName()
    summary: dict = {"platform": app.platformName()}

    assert window.open_exemplar(photo), window.last_error
    panel = window.settings_panel
    for box, value in ((panel.width_box, 64), (panel.height_box, 64), (panel.steps, 12),
                       (panel.preview_every, 1)):
        box.setValue(value)
    panel.tileable.setChecked(True)
    # Gram matching with the default network on a small canvas: a quick run that fills every view.
    window.model.set_config(window.model.config.replace(
        layers=(), layer_weights=(), gram_weight=1.0, sw_weight=0.0,
        spectrum_weight=0.0, pyramid_levels=1, auto_layout=False, exemplar_size=0, device="cpu"))

    # Window shortcuts only fire in the active window; with no window manager, ask for it.
    window.activateWindow()
    assert QTest.qWaitForWindowActive(window, 10_000), "window never became active"
    QTest.keyClick(window, Qt.Key_F5)
    wait_for(app, lambda: window.model.run_state is RunState.RUNNING, 5, "F5 to start the run")
    wait_for(app, lambda: window.model.run_state is RunState.IDLE, 120, "the run to finish")
    result = window.model.result
    assert result is not None and result.iterations == 12 and not result.stopped, window.last_error
    summary["iterations"] = result.iterations

    # The finished run asks for feature maps itself (the dock is visible).
    wait_for(app, lambda: window.model.feature_maps is not None, 60, "feature maps")
    window.feature_view.select_channel(1)
    window.feature_view.visualize.click()
    wait_for(app, lambda: window.model.visualization is not None and window.model.visualization.done,
             90, "the channel visualisation")

    def fill_export_dialog() -> None:
        dialog = window._export_dialog
        dialog.path.setText(str(out / "tile.png"))
        dialog.sheet.setChecked(True)
        dialog.columns.setValue(3)
        dialog.rows.setValue(2)
        dialog.accept()

    exported: list = []
    window.controller.exported.connect(exported.extend)
    QTimer.singleShot(300, fill_export_dialog)
    window.activateWindow()
    QTest.qWaitForWindowActive(window, 10_000)
    QTest.keyClick(window, Qt.Key_E, Qt.ControlModifier)
    wait_for(app, lambda: bool(exported), 30, "the export")
    summary["exported"] = sorted(Path(p).name for p in exported)

    for throttle in (window.preview_view._redraw, window.loss_view._redraw, window.gram_view._redraw,
                     window._status_refresh):
        throttle.flush()
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:  # let X paint the last frames
        app.processEvents()
        time.sleep(0.02)
    frame = window.frameGeometry()
    shot = window.screen().grabWindow(0, frame.x(), frame.y(), frame.width(), frame.height())
    shot_path = out / "e2e_window.png"
    assert shot.save(str(shot_path)), "screenshot not saved"
    summary["screenshot"] = str(shot_path)
    summary["screenshot_size"] = [shot.width(), shot.height()]
    window.close()
    (out / "e2e_summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
