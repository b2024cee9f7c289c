"""The Batch panel alone, offscreen: the current settings over a folder, in the worker thread.

Jobs run for real (tiny generated photos, 32 px, a few steps). Waits are on the panel's
own signals, emitted in the GUI thread; the conftest fails a test that leaves a thread.
"""

from __future__ import annotations

import os
import re

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from tests.conftest import make_texture  # noqa: E402
from tests.gui.conftest import QT_MARKS, TINY  # noqa: E402
from texstudio.gui.batch_panel import BatchPanel  # noqa: E402

pytestmark = QT_MARKS


def steps_shown(status: str) -> int:
    """12 for "running 12/400", else 0."""
    match = re.match(r"running (\d+)/", status)
    return int(match.group(1)) if match else 0


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(2):
        Image.fromarray((make_texture(48, seed=i) * 255).astype(np.uint8)).save(folder / f"photo{i}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    return folder


@pytest.fixture
def panel(qtbot, model):
    widget = BatchPanel(model)
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    widget.shutdown()
    assert not widget.busy


def test_a_batch_runs_the_current_settings_and_shows_each_job(qtbot, panel, model, photos):
    model.set_config(TINY.replace(seed=4))
    assert "32×32" in panel.settings_label.text() and "seed 4" in panel.settings_label.text()
    panel.set_folder(photos)
    assert panel.output_edit.text().endswith("texstudio-batch")
    panel.variations_spin.setValue(2)
    with qtbot.waitSignal(panel.batch_finished, timeout=60_000) as finished:
        assert panel.start()
        assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
    summary = finished.args[0]
    assert summary.counts == {"done": 4, "skipped": 0, "failed": 2, "cancelled": 0}
    statuses = [panel.status_of(row) for row in range(panel.table.rowCount())]
    assert statuses.count("done") == 4
    assert all(s.startswith("failed: broken.png") for s in statuses if s.startswith("failed"))
    assert [j.config.seed for j in panel.plan.jobs if j.exemplar.name == "photo0.png"] == [4, 5]
    assert panel.progress_bar.value() == panel.progress_bar.maximum()
    out = photos / "texstudio-batch"
    assert len(list(out.glob("photo*.png"))) == 4 and (out / "summary.csv").exists()
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()

    # Again: the finished jobs are skipped, only the broken photo is tried again.
    with qtbot.waitSignal(panel.batch_finished, timeout=60_000) as finished:
        panel.start()
    assert finished.args[0].counts["skipped"] == 4


def test_stop_ends_the_batch_and_marks_the_rest_cancelled(qtbot, panel, model, photos):
    model.set_config(TINY.replace(steps=400))
    panel.set_folder(photos)
    with qtbot.waitSignal(panel.batch_started):
        panel.start()
    # Row 0 is broken.png (names sort first), which fails at once; photo0 then runs.
    qtbot.waitUntil(lambda: steps_shown(panel.status_of(1)) >= 2, timeout=30_000)
    with qtbot.waitSignal(panel.batch_finished, timeout=30_000) as finished:
        panel.stop()
    assert finished.args[0].counts == {"done": 0, "skipped": 0, "failed": 1, "cancelled": 2}
    assert [panel.status_of(row) for row in (1, 2)] == ["cancelled"] * 2
    assert not list((photos / "texstudio-batch").glob("*.png"))


def test_a_folder_with_no_photos_is_a_message_not_a_run(qtbot, panel, tmp_path):
    panel.set_folder(tmp_path)
    with qtbot.waitSignal(panel.batch_failed) as failed:
        assert not panel.start()
    assert "no image files" in failed.args[0] and "no image files" in panel.status_label.text()
    assert panel.task is None


def test_run_batch_opens_the_panel_and_closing_the_window_stops_the_batch(qtbot, photos):
    from texstudio.gui.main_window import MainWindow
    from texstudio.gui.settings import GuiSettings
    from texstudio.gui.worker import running_threads

    window = MainWindow(GuiSettings(config=TINY.replace(steps=400)))
    qtbot.addWidget(window)
    window.show()
    window.batch_action.trigger()
    dialog = window._batch_dialog
    assert dialog.isVisible() and dialog.panel.model is window.model
    dialog.panel.set_folder(photos)
    dialog.panel.start()
    qtbot.waitUntil(lambda: steps_shown(dialog.panel.status_of(1)) >= 1, timeout=30_000)
    dialog.close()  # hidden: the batch runs on
    assert dialog.panel.busy
    window.close()
    assert not dialog.panel.busy and not running_threads()
