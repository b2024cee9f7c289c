"""Faults in the window: NaN mid-run, closing at awkward moments, exports that cannot be written.

Each fault is real (a torch forward hook, a read-only mount, a 64 KiB filesystem); the
window must say why in a message box, keep the user's canvas, and keep working.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.gui.conftest import QT_MARKS, TINY
from tests.reliability.faults import full_disk, leftovers, read_only_dir
from tests.reliability.poison import nan_features_after
from texstudio.gui.exporting import ExportRequest
from texstudio.gui.model import RunState
from texstudio.gui.settings import settings_path
from texstudio.gui.worker import running_threads

pytestmark = QT_MARKS
WAIT = 60_000


def finished_run(qtbot, window, **changes):
    window.model.set_config(TINY.replace(**changes))
    with qtbot.waitSignal(window.controller.run_finished, timeout=WAIT):
        window.start()
    return window.model.result


def test_a_nan_mid_run_is_a_message_and_the_canvas_rolls_back(qtbot, window):
    window.model.set_config(TINY.replace(steps=10))
    with nan_features_after(3), qtbot.waitSignal(window.controller.run_failed, timeout=WAIT):
        window.start()
    assert "rolled back to iteration 2" in window.last_error and window._message_box.isVisible()
    assert window.model.run_state is RunState.IDLE
    result = window.model.result
    assert result.stopped and result.iterations == 2
    assert np.isfinite(window.model.canvas).all() and np.array_equal(window.model.canvas, result.image)
    assert all(np.isfinite(window.model.losses.total))
    # The rolled-back canvas is the user's to continue from, or to export.
    assert window.continue_action.isEnabled()
    with qtbot.waitSignal(window.controller.run_finished, timeout=WAIT):
        window.continue_run()
    assert not window.model.result.stopped and np.isfinite(window.model.canvas).all()


def test_closing_while_paused_joins_the_worker(qtbot, window):
    window.model.set_config(TINY.replace(steps=10_000))
    window.start()
    qtbot.waitUntil(lambda: window.model.progress.iteration >= 1, timeout=WAIT)
    with qtbot.waitSignal(window.controller.task.paused, timeout=WAIT):
        window.toggle_pause()
    window.close()
    assert not running_threads() and settings_path().exists()


def test_closing_during_an_export_of_variations_leaves_only_whole_files(qtbot, window, tmp_path):
    window.model.set_config(TINY.replace(steps=40))
    window.export(ExportRequest(path=tmp_path / "v.png", variations=4))
    qtbot.waitUntil(lambda: window.model.progress.label == "variation 2/4" and window.model.progress.iteration >= 5,
                    timeout=WAIT)
    window.close()  # half-way through the second seed
    assert not running_threads()
    # The first seed has its image and its sidecar; the seed being made has neither.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v_seed0.json", "v_seed0.png"]
    assert leftovers(tmp_path) == []


def test_export_to_a_read_only_folder_says_why_and_writes_nothing(qtbot, window, tmp_path):
    finished_run(qtbot, window)
    with read_only_dir(tmp_path) as folder:
        with qtbot.waitSignal(window.controller.run_failed, timeout=WAIT):
            window.export(ExportRequest(path=folder / "out.png"))
        assert "read-only" in window.last_error and window._message_box.isVisible()
        assert list(folder.iterdir()) == []
    assert window.model.run_state is RunState.IDLE and window.export_action.isEnabled()


def test_export_to_a_full_disk_takes_back_the_files_it_made(qtbot, window, tmp_path):
    """The image fits, its 16x16 tiled sheet does not: the image is taken back, the message says why."""
    finished_run(qtbot, window, tileable=True)
    with full_disk(tmp_path, size_kib=32) as disk:
        with qtbot.waitSignal(window.controller.run_failed, timeout=WAIT):
            window.export(ExportRequest(path=disk / "tile.png", bit_depth=16, sheet=(16, 16)))
        assert "No space left on device" in window.last_error and "tile_sheet16x16.png" in window.last_error
        assert list(disk.iterdir()) == []
        # With room for it, the same export goes through.
        with qtbot.waitSignal(window.controller.exported, timeout=WAIT):
            window.export(ExportRequest(path=disk / "tile.png", bit_depth=16))
        assert sorted(p.name for p in disk.iterdir()) == ["tile.json", "tile.png"]
