"""The Training panel alone, offscreen: scan, train, stop, resume, previews, Use for synthesis.

Training runs for real (tiny generated folders, 32 px patches). Waits are on the
panel's own signals, emitted in the GUI thread; every test ends with the thread joined.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from tests.conftest import make_texture  # noqa: E402
from texstudio.engine.backbones import build_backbone  # noqa: E402
from texstudio.engine.models import models_dir  # noqa: E402
from texstudio.gui.training_panel import TrainingPanel  # noqa: E402

pytestmark = [pytest.mark.qt_log_level_fail("WARNING"), pytest.mark.qt_log_ignore("propagateSizeHints"),
              pytest.mark.timeout(120)]


def save_png(path, image) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8)).save(path)


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "lichen"
    for i in range(6):
        save_png(folder / f"{i}.png", make_texture(48, seed=i))
    (folder / "readme.txt").write_text("not an image")
    return folder


@pytest.fixture
def classes(tmp_path):
    folder = tmp_path / "materials"
    for label, tint in enumerate(((0.9, 0.3, 0.3), (0.3, 0.9, 0.3), (0.3, 0.3, 0.9))):
        for i in range(4):
            save_png(folder / f"class{label}" / f"{i}.png", make_texture(48, seed=10 * label + i) * np.array(tint))
    return folder


@pytest.fixture
def panel(qtbot):
    widget = TrainingPanel()
    qtbot.addWidget(widget)
    widget.patch_spin.setValue(32)
    widget.batch_spin.setValue(4)
    widget.device_combo.setCurrentText("cpu")
    widget.resize(700, 900)
    widget.show()
    yield widget
    widget.shutdown()
    assert not widget.busy  # no QThread outlives its test


def test_choosing_a_folder_shows_what_is_in_it(panel, photos, classes, tmp_path):
    panel.set_folder(photos)
    assert panel.summary_label.text().startswith("6 images, 1 file skipped")
    assert panel.start_button.isEnabled() and not panel.resume_button.isEnabled()
    assert panel.output_edit.text() == str(models_dir() / "lichen-fcn-pyramid")

    panel.objective_combo.setCurrentText("classifier")
    assert "the classifier needs at least 2 class sub-folders" in panel.summary_label.text()
    assert not panel.start_button.isEnabled()
    panel.set_folder(classes)
    assert panel.summary_label.text().startswith("12 images in 3 classes: class0 (4)")
    assert panel.start_button.isEnabled()

    for bad, message in ((tmp_path / "missing", "no such folder"), (tmp_path / "empty", "is empty")):
        if bad.name == "empty":
            bad.mkdir()
        panel.set_folder(bad)
        assert message in panel.summary_label.text() and not panel.start_button.isEnabled()


def test_train_then_use_for_synthesis(panel, photos, qtbot):
    panel.set_folder(photos)
    panel.epochs_spin.setValue(2)
    with qtbot.waitSignal(panel.training_finished, timeout=90_000) as finished:
        assert panel.start()
        assert panel.busy and panel.stop_button.isEnabled() and not panel.start_button.isEnabled()
    result = finished.args[0]
    assert not result.stopped and result.epochs_done == 2
    assert not panel.busy and panel.progress_bar.value() == panel.progress_bar.maximum()
    assert len(panel.train_curve.getData()[1]) == 2 and len(panel.val_curve.getData()[1]) == 2
    assert len(panel.batch_curve.getData()[1]) == result.step
    assert panel.preview_image.image is not None and panel.preview_image.image.shape[2] == 3
    assert panel.use_button.isEnabled()
    with qtbot.waitSignal(panel.model_ready) as ready:
        panel.use_button.click()
    assert ready.args[0] == panel.output_edit.text()
    assert build_backbone(ready.args[0]).default_layers == ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
    # Starting again over the saved model is refused with a message, not silently replaced.
    assert not panel.start()
    assert "already holds a model" in panel.status_label.text()


def test_stop_then_resume(panel, photos, qtbot, tmp_path):
    panel.set_folder(photos)
    panel.set_output(tmp_path / "model")
    panel.epochs_spin.setValue(50)
    panel.architecture_combo.setCurrentIndex(panel.architecture_combo.findData("fcn-lichen"))

    def stop_once_running(record):
        if record.phase == "batch":
            panel.stop()

    panel.progressed.connect(stop_once_running)
    with qtbot.waitSignal(panel.training_finished, timeout=90_000) as finished:
        panel.start()
    panel.progressed.disconnect(stop_once_running)
    stopped = finished.args[0]
    assert stopped.stopped and 1 <= stopped.step < 50
    assert "Resume continues" in panel.status_label.text()
    assert panel.resume_button.isEnabled() and panel.use_button.isEnabled()

    panel.epochs_spin.setValue(1)  # resume keeps the checkpoint's settings, 50 epochs included...
    records = []
    panel.progressed.connect(records.append)
    with qtbot.waitSignal(panel.progressed, timeout=60_000):
        assert panel.resume_button.isEnabled()
        panel.start(resume=True)
    qtbot.waitUntil(lambda: any(r.phase == "batch" for r in records), timeout=60_000)
    assert records[0].phase == "start" and records[0].step == stopped.step
    # Resumed, not restarted: batches continue after the checkpoint. (The panel throttles
    # records, so on a fast machine the very first resumed batch may not be shown.)
    assert min(r.step for r in records if r.phase == "batch") > stopped.step
    with qtbot.waitSignal(panel.training_finished, timeout=60_000):
        panel.stop()  # ...so stop it again
    assert not panel.busy


def test_classifier_shows_accuracy_and_confusion(panel, classes, qtbot, tmp_path):
    panel.objective_combo.setCurrentText("classifier")
    panel.set_folder(classes)
    panel.set_output(tmp_path / "clf")
    panel.epochs_spin.setValue(1)
    assert panel.result_stack.currentIndex() == 1
    with qtbot.waitSignal(panel.training_finished, timeout=90_000):
        panel.start()
    assert panel.confusion_table.rowCount() == 3 and panel.confusion_table.columnCount() == 3
    total = sum(int(panel.confusion_table.item(i, j).text()) for i in range(3) for j in range(3))
    assert total == 3  # one held-out photo per class
    assert panel.accuracy_label.text().startswith("Accuracy: train ")


def test_shutdown_mid_run_joins_the_thread(panel, photos, qtbot, tmp_path):
    panel.set_folder(photos)
    panel.set_output(tmp_path / "model")
    panel.epochs_spin.setValue(50)
    with qtbot.waitSignal(panel.progressed, timeout=60_000):
        panel.start()
    panel.shutdown()
    assert not panel.busy and not panel.stop_button.isEnabled()
