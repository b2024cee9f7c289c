"""The whole window offscreen: first start, opening files, shortcuts, export, closing mid-run."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from tests.conftest import make_texture
from tests.gui.conftest import QT_MARKS, TINY
from texstudio.gui.model import RunState
from texstudio.gui.settings import load_settings, settings_path
from texstudio.gui.worker import running_threads

pytestmark = QT_MARKS
WAIT = 60_000


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray((make_texture(40, seed=5) * 255).astype(np.uint8)).save(path)
    return path


def test_first_start_shows_the_sample_exemplar(window):
    assert window.windowTitle().startswith("texstudio")
    assert window.model.photo_path.name == "sample_exemplar.png"
    assert window.model.photo.shape[2] == 3
    assert window.start_action.isEnabled() and not window.stop_action.isEnabled()
    assert set(window.docks) >= {"preview", "loss", "gram", "features"}


def test_open_remembers_the_file_and_restores_it_next_time(qtbot, window, photo):
    assert window.open_exemplar(photo)
    assert window.windowTitle() == "texstudio — photo.png"
    assert window.model.recent_files[0] == photo.resolve()
    assert [a.text() for a in window.recent_menu.actions()] == [str(photo.resolve())]
    window.model.set_region((2, 3, 20, 20))
    window.close()
    settings, notice = load_settings()
    assert notice is None and settings.exemplar_path == str(photo) and settings.exemplar_region == [2, 3, 20, 20]

    from texstudio.gui.main_window import MainWindow

    again = MainWindow(settings)
    qtbot.addWidget(again)
    assert again.model.photo_path == photo and again.model.region == (2, 3, 20, 20)
    assert again.model.config == TINY
    again.close()


def test_unreadable_file_gives_a_message_not_a_crash(window, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    assert not window.open_exemplar(bad)
    assert "bad.png is not an image" in window.last_error
    assert window.model.photo_path.name == "sample_exemplar.png"


def test_dropping_a_file_opens_it(window, photo):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(photo))])
    # Qt delivers a drop to the widget that accepted the drag's enter event, so enter first.
    enter = QDragEnterEvent(QPoint(50, 50), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(50, 50), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(window, drop)
    assert window.model.photo_path == photo


def test_shortcuts_start_and_stop(qtbot, window):
    window.model.set_config(TINY.replace(steps=10_000))
    shortcuts = {a.text(): [k.toString() for k in a.shortcuts()] for a in
                 (window.open_action, window.export_action, window.start_action, window.stop_action)}
    assert shortcuts["&Start"] == ["F5", "Ctrl+Return"] and shortcuts["S&top"] == ["Esc"]
    assert shortcuts["&Open exemplar…"] == ["Ctrl+O"] and shortcuts["&Export…"] == ["Ctrl+E"]
    assert [k.toString() for k in window.pause_action.shortcuts()] == ["Space"]
    window.start_action.trigger()  # what F5 does; the e2e test presses the real key
    assert window.model.run_state is RunState.RUNNING
    assert not window.start_action.isEnabled() and window.stop_action.isEnabled()
    qtbot.waitUntil(lambda: window.model.progress.iteration >= 1, timeout=WAIT)
    with qtbot.waitSignal(window.controller.run_finished, timeout=WAIT):
        window.stop_action.trigger()
    assert window.model.result.stopped and window.continue_action.isEnabled()
    # A stopped run is still scored, and the report beside the preview shows it.
    assert set(window.model.result.quality) >= {"color_distance", "patch_distance", "copy_fraction"}
    assert window.quality_view.values["patch_distance"].text() not in ("", "–")
    window._update_status()
    assert window.status_labels["iteration"].text().startswith("iteration ")
    assert window.status_labels["device"].text() == "cpu"


def test_a_repeating_exemplar_is_laid_out_and_the_status_bar_says_so(qtbot, window, tmp_path):
    from tests.engine.test_periodicity import bricks

    path = tmp_path / "bricks.png"
    Image.fromarray((bricks(64) * 255).astype(np.uint8)).save(path)
    assert window.open_exemplar(path)
    window.model.set_config(TINY.replace(width=64, height=64, steps=9, pyramid_levels=3, auto_layout=True,
                                         preview_every=0, layout_grow_steps=3))
    states = []

    def read_status() -> None:
        window._update_status()  # unthrottled: every record's line, not one per 200 ms
        states.append((window.status_labels["state"].text(), window.model.progress.rate))

    window.model.progress_changed.connect(read_status)
    with qtbot.waitSignal(window.controller.run_finished, timeout=WAIT):
        window.start_action.trigger()
    window.model.progress_changed.disconnect(read_status)
    # The first level is grown first, and the status bar says so; no step rate is made up from it.
    growing = [(text, rate) for text, rate in states if "growing the layout from the middle" in text]
    assert growing and growing[0][0].startswith("running · growing the layout from the middle, step 1 of")
    assert all(rate is None for _, rate in growing) and "growing" not in window.status_labels["state"].text()
    # The split asks for 5 levels; a 64 px canvas keeps 3 (none under 16 px), and the note says what runs.
    assert window.notice.startswith("The exemplar repeats (periodicity") and "3 pyramid levels" in window.notice
    result = window.model.result
    assert result.config.layout_steps == 6 and result.iterations == 6 + 6 + 2 and result.periodicity >= 0.4
    assert window.model.config.auto_layout  # the setting stays; only the run resolved it


def test_closing_mid_run_stops_the_worker_and_saves(qtbot, window):
    window.model.set_config(TINY.replace(steps=10_000))
    window.start()
    qtbot.waitUntil(lambda: window.model.progress.iteration >= 1, timeout=WAIT)
    window.close()
    assert not running_threads()
    assert settings_path().exists()


def test_export_asks_before_overwriting(qtbot, window, tmp_path):
    with qtbot.waitSignal(window.controller.run_finished, timeout=WAIT):
        window.start()
    from texstudio.gui.exporting import ExportRequest

    request = ExportRequest(path=tmp_path / "out.png")
    with qtbot.waitSignal(window.controller.exported, timeout=WAIT):
        assert window.export(request)
    before = (tmp_path / "out.png").stat().st_mtime_ns

    def answer(button):
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox) and "already exist" in box.text()
        box.button(button).click()

    QTimer.singleShot(100, lambda: answer(QMessageBox.No))
    assert not window.export(request)
    assert (tmp_path / "out.png").stat().st_mtime_ns == before
    QTimer.singleShot(100, lambda: answer(QMessageBox.Yes))
    with qtbot.waitSignal(window.controller.exported, timeout=WAIT):
        assert window.export(request)
    assert (tmp_path / "out.png").stat().st_mtime_ns != before


def test_worker_failure_is_shown_in_a_message_box(qtbot, window):
    window.model.set_config(TINY.replace(backbone="/no/such/file.pth"))
    with qtbot.waitSignal(window.controller.run_failed, timeout=WAIT):
        window.start()
    assert "unknown backbone" in window.last_error
    assert window._message_box.isVisible() and window.model.run_state is RunState.IDLE


def test_corrupt_settings_start_with_defaults_and_a_notice(qtbot):
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{oops")
    from texstudio.gui.app import build_main_window

    window = build_main_window()
    qtbot.addWidget(window)
    assert "could not be used" in window.notice and "Using defaults" in window.notice
    window.close()


def test_run_app_starts_and_returns_the_exit_code(tmp_path):
    """What `texstudio` with no arguments does, in its own process (one QApplication each)."""
    code = ("from PySide6.QtCore import QTimer; from PySide6.QtWidgets import QApplication; "
            "app = QApplication(['texstudio']); "
            "QTimer.singleShot(1500, lambda: [w.close() for w in app.topLevelWidgets()]); "
            "from texstudio.gui.app import run_app; raise SystemExit(run_app(['texstudio']))")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "TEXSTUDIO_CONFIG_DIR": str(tmp_path)}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert (tmp_path / "gui-settings.json").exists()
