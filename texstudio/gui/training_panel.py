"""The Training panel: train a feature network on a folder of photos, watch it learn, use it.

The engine's ``train`` generator runs in a worker QThread; the Stop button sets a
``StopToken`` by direct call (a queued signal would never reach the busy worker), and
the run then checkpoints and ends by itself. Every signal the panel emits is emitted in
the GUI thread, so the main window and tests can connect to and wait on them safely.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from texstudio.engine.cancel import StopToken
from texstudio.engine.dataset import FolderSummary, scan_folder
from texstudio.engine.devices import DEVICE_CHOICES
from texstudio.engine.errors import TexstudioError
from texstudio.engine.models import is_model_dir, models_dir
from texstudio.engine.trainable import AUTOENCODER_ARCHITECTURES, CLASSIFIER_ARCHITECTURES, DEFAULT_ARCHITECTURE
from texstudio.engine.training import TrainConfig, check_out_dir, has_checkpoint, train

# Batch reports are forwarded at most this often; the losses in between travel with the next one.
REPORT_INTERVAL_S = 0.1
# Reconstructions every this many batches: a few eval-mode patches, cheap beside a training step.
PREVIEW_EVERY = 5
ARCHITECTURE_LABELS = {
    "fcn-pyramid": "fcn-pyramid (autoencoder with downsampling)",
    "fcn-lichen": "fcn-lichen (reference FCN, as published)",
    "vgg-small": "vgg-small (VGG-style classifier)",
}


class TrainingWorker(QObject):
    """Drives one ``train`` generator to its end in a worker thread."""

    # The record, plus (step, loss) pairs of the batch reports skipped by throttling.
    progressed = Signal(object, object)
    finished = Signal(object)  # TrainResult
    failed = Signal(str)

    def __init__(self, steps) -> None:
        super().__init__()
        self._steps = steps

    @Slot()
    def run(self) -> None:
        import torch

        # Grad mode is per thread (NOTES.md): say what training needs.
        torch.set_grad_enabled(True)
        last = 0.0
        skipped: list[tuple[int, float]] = []
        try:
            while True:
                try:
                    record = next(self._steps)
                except StopIteration as end:
                    self.finished.emit(end.value)
                    return
                now = time.monotonic()
                urgent = record.phase != "batch" or record.inputs is not None
                if urgent or now - last >= REPORT_INTERVAL_S:
                    last = now
                    self.progressed.emit(record, skipped)
                    skipped = []
                else:
                    skipped.append((record.step, record.train_loss))
        except TexstudioError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # a bug must reach the user, not die silently in a thread
            self.failed.emit(f"unexpected error: {type(exc).__name__}: {exc}")
        finally:
            self._steps.close()


def _format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "ETA: measuring..."
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"ETA: {hours}:{minutes:02d}:{secs:02d}" if hours else f"ETA: {minutes}:{secs:02d}"


def _preview_grid(inputs: np.ndarray, outputs: np.ndarray, gap: int = 2, pair_gap: int = 8) -> np.ndarray:
    """Each input with its reconstruction just right of it, pairs in a row on white: (H, W, 3)."""
    count, size = inputs.shape[0], inputs.shape[1]
    pair = 2 * size + gap
    grid = np.ones((size, count * pair + (count - 1) * pair_gap, 3), np.float32)
    for i in range(count):
        left = i * (pair + pair_gap)
        grid[:, left:left + size] = inputs[i]
        grid[:, left + size + gap:left + pair] = np.clip(outputs[i], 0, 1)
    return grid


class TrainingPanel(QWidget):
    """Folder, objective and settings; Start / Stop / Resume; curves, previews; Use for synthesis."""

    training_started = Signal()
    progressed = Signal(object)  # the latest TrainProgress
    training_finished = Signal(object)  # TrainResult (also when stopped: result.stopped is True)
    training_failed = Signal(str)
    model_ready = Signal(str)  # "Use for synthesis": the model folder to use as a backbone

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self._stop = StopToken()
        self._summary: FolderSummary | None = None
        self._output_edited = False
        self._batch_steps: list[int] = []
        self._batch_losses: list[float] = []
        self._build()
        self._on_objective_changed()
        self._update_buttons()

    # --- layout ------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)

        data = QGroupBox("Photos")
        data_layout = QVBoxLayout(data)
        row = QHBoxLayout()
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("folder of photos (sub-folders are classes for the classifier)")
        self.folder_edit.editingFinished.connect(self._on_folder_changed)
        self.folder_button = QPushButton("Choose...")
        self.folder_button.clicked.connect(self._on_choose_folder)
        row.addWidget(self.folder_edit, 1)
        row.addWidget(self.folder_button)
        data_layout.addLayout(row)
        self.summary_label = QLabel("No folder chosen.")
        self.summary_label.setWordWrap(True)
        data_layout.addWidget(self.summary_label)
        layout.addWidget(data)

        settings = QGroupBox("Training")
        form = QFormLayout(settings)
        self.objective_combo = QComboBox()
        self.objective_combo.addItems(["autoencoder", "classifier"])
        self.objective_combo.currentIndexChanged.connect(self._on_objective_changed)
        form.addRow("Objective", self.objective_combo)
        self.architecture_combo = QComboBox()
        self.architecture_combo.currentIndexChanged.connect(self._on_architecture_changed)
        form.addRow("Network", self.architecture_combo)
        defaults = TrainConfig()
        self.patch_spin = QSpinBox()
        self.patch_spin.setRange(16, 2048)
        self.patch_spin.setSingleStep(16)
        self.patch_spin.setValue(defaults.patch_size)
        self.patch_spin.setSuffix(" px")
        self.patch_spin.setToolTip("Side of the training patches. The reference FCN used 512; 128 suits a CPU.")
        form.addRow("Patch size", self.patch_spin)
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 100_000)
        self.epochs_spin.setValue(defaults.epochs)
        form.addRow("Epochs", self.epochs_spin)
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 4096)
        self.batch_spin.setValue(defaults.batch_size)
        form.addRow("Batch size", self.batch_spin)
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(5)
        self.lr_spin.setRange(0.00001, 1.0)
        self.lr_spin.setSingleStep(0.0001)
        self.lr_spin.setValue(defaults.learning_rate)
        form.addRow("Learning rate", self.lr_spin)
        self.device_combo = QComboBox()
        self.device_combo.addItems(list(DEVICE_CHOICES))
        form.addRow("Device", self.device_combo)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        form.addRow("Seed", self.seed_spin)
        out_row = QHBoxLayout()
        self.output_edit = QLineEdit()
        self.output_edit.textEdited.connect(self._on_output_edited)
        self.output_edit.editingFinished.connect(self._update_buttons)
        self.output_button = QPushButton("Choose...")
        self.output_button.clicked.connect(self._on_choose_output)
        out_row.addWidget(self.output_edit, 1)
        out_row.addWidget(self.output_button)
        form.addRow("Model folder", out_row)
        self.overwrite_check = QCheckBox("Replace a model already in that folder")
        self.overwrite_check.toggled.connect(self._update_buttons)
        form.addRow("", self.overwrite_check)
        layout.addWidget(settings)

        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(lambda: self.start(resume=False))
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.resume_button = QPushButton("Resume")
        self.resume_button.clicked.connect(lambda: self.start(resume=True))
        self.use_button = QPushButton("Use for synthesis")
        self.use_button.clicked.connect(self._on_use_clicked)
        for button in (self.start_button, self.stop_button, self.resume_button, self.use_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)

        progress_row = QHBoxLayout()
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.eta_label = QLabel("")
        progress_row.addWidget(self.progress_bar, 1)
        progress_row.addWidget(self.eta_label)
        layout.addLayout(progress_row)
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)

        self.loss_plot = pg.PlotWidget()
        self.loss_plot.setLabel("bottom", "step")
        self.loss_plot.setLabel("left", "loss")
        self.loss_plot.addLegend(offset=(-10, 10))
        self.loss_plot.setMinimumHeight(160)
        self.batch_curve = self.loss_plot.plot(name="train (batch)", pen=pg.mkPen((150, 150, 150), width=1))
        self.train_curve = self.loss_plot.plot(name="train (epoch)", pen=pg.mkPen((31, 119, 180), width=2),
                                               symbol="o", symbolSize=6)
        self.val_curve = self.loss_plot.plot(name="validation", pen=pg.mkPen((255, 127, 14), width=2),
                                             symbol="s", symbolSize=6)
        layout.addWidget(self.loss_plot, 1)

        self.result_stack = QStackedWidget()
        preview_page = QWidget()
        preview_layout = QVBoxLayout(preview_page)
        preview_layout.setContentsMargins(0, 0, 0, 0)
        preview_layout.addWidget(QLabel("Held-out patches, each beside its reconstruction"))
        self.preview_view = pg.GraphicsLayoutWidget()
        self.preview_view.setMinimumHeight(120)
        view = self.preview_view.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self.preview_image = pg.ImageItem(axisOrder="row-major")
        view.addItem(self.preview_image)
        preview_layout.addWidget(self.preview_view, 1)
        self.result_stack.addWidget(preview_page)
        classifier_page = QWidget()
        classifier_layout = QVBoxLayout(classifier_page)
        classifier_layout.setContentsMargins(0, 0, 0, 0)
        self.accuracy_label = QLabel("Accuracy: -")
        classifier_layout.addWidget(self.accuracy_label)
        self.confusion_table = QTableWidget()
        self.confusion_table.setToolTip("Validation confusion matrix: rows are true classes, columns predictions")
        classifier_layout.addWidget(self.confusion_table, 1)
        self.result_stack.addWidget(classifier_page)
        layout.addWidget(self.result_stack, 1)

    # --- settings ----------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._thread is not None

    def set_folder(self, folder: str | Path) -> None:
        """Point the panel at a folder of photos and scan it (as choosing it in the dialog does)."""
        self.folder_edit.setText(str(folder))
        self._on_folder_changed()

    def set_output(self, folder: str | Path) -> None:
        self.output_edit.setText(str(folder))
        self._output_edited = True
        self._update_buttons()

    def output_dir(self) -> Path | None:
        text = self.output_edit.text().strip()
        return Path(text).expanduser() if text else None

    def config(self) -> TrainConfig:
        """The settings shown, as the engine's config (raises ConfigError if out of range)."""
        return TrainConfig(
            objective=self.objective_combo.currentText(),
            architecture=self.architecture_combo.currentData() or "",
            patch_size=self.patch_spin.value(), epochs=self.epochs_spin.value(),
            batch_size=self.batch_spin.value(), learning_rate=self.lr_spin.value(),
            seed=self.seed_spin.value(), device=self.device_combo.currentText(),
            preview_every=PREVIEW_EVERY,
        )

    @Slot()
    def _on_choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of photos", self.folder_edit.text())
        if folder:
            self.set_folder(folder)

    @Slot()
    def _on_choose_output(self) -> None:
        start = self.output_edit.text() or str(models_dir())
        folder = QFileDialog.getExistingDirectory(self, "Model folder", start)
        if folder:
            self.set_output(folder)

    @Slot(str)
    def _on_output_edited(self, _text: str) -> None:
        self._output_edited = True

    @Slot()
    def _on_folder_changed(self) -> None:
        self._summary = None
        text = self.folder_edit.text().strip()
        if not text:
            self.summary_label.setText("No folder chosen.")
        else:
            try:
                # Header-only scan: quick, so it runs here; decoding happens in the worker.
                self._summary = scan_folder(text, self.objective_combo.currentText())
            except TexstudioError as exc:
                self.summary_label.setText(str(exc))
            else:
                self.summary_label.setText(self._describe(self._summary))
        self._suggest_output()
        self._update_buttons()

    @staticmethod
    def _describe(summary: FolderSummary) -> str:
        text = summary.describe()
        if summary.classes:
            text += ": " + ", ".join(f"{name} ({count})" for name, count in summary.class_counts().items())
        if summary.skipped:
            shown = "; ".join(summary.skipped[:3])
            text += f". Skipped: {shown}{'; ...' if len(summary.skipped) > 3 else ''}"
        return text

    @Slot()
    def _on_objective_changed(self) -> None:
        objective = self.objective_combo.currentText()
        choices = AUTOENCODER_ARCHITECTURES if objective == "autoencoder" else CLASSIFIER_ARCHITECTURES
        default = DEFAULT_ARCHITECTURE[objective]
        self.architecture_combo.blockSignals(True)
        self.architecture_combo.clear()
        for name in sorted(choices, key=lambda n: n != default):
            self.architecture_combo.addItem(ARCHITECTURE_LABELS.get(name, name), name)
        self.architecture_combo.blockSignals(False)
        self.result_stack.setCurrentIndex(0 if objective == "autoencoder" else 1)
        if self.folder_edit.text().strip():
            self._on_folder_changed()  # the classifier reads the folder differently
        else:
            self._suggest_output()

    @Slot()
    def _on_architecture_changed(self) -> None:
        self._suggest_output()
        self._update_buttons()

    def _suggest_output(self) -> None:
        """Until the user types a model folder, offer <models>/<photo folder>-<network>."""
        if self._output_edited:
            return
        text = self.folder_edit.text().strip()
        if not text:
            return
        name = Path(text).expanduser().name or "model"
        architecture = self.architecture_combo.currentData() or ""
        self.output_edit.setText(str(models_dir() / f"{name}-{architecture}"))

    def _update_buttons(self) -> None:
        busy = self.busy
        out = self.output_dir()
        for widget in (self.folder_edit, self.folder_button, self.objective_combo, self.architecture_combo,
                       self.patch_spin, self.batch_spin, self.lr_spin, self.seed_spin,
                       self.device_combo, self.output_edit, self.output_button, self.overwrite_check,
                       self.epochs_spin):
            widget.setEnabled(not busy)
        self.start_button.setEnabled(not busy and self._summary is not None and out is not None)
        self.resume_button.setEnabled(not busy and self._summary is not None and out is not None
                                      and has_checkpoint(out))
        self.stop_button.setEnabled(busy)
        self.use_button.setEnabled(not busy and out is not None and is_model_dir(out))

    # --- running -----------------------------------------------------------------------

    def start(self, resume: bool = False) -> bool:
        """Start (or resume) training in the worker thread; False, with a message, if it cannot."""
        if self.busy or self._summary is None or self.output_dir() is None:
            return False
        try:
            config = self.config()
            # Checked here, not in the worker, so a refusal shows at once and nothing starts.
            check_out_dir(self.output_dir(), resume, self.overwrite_check.isChecked() and not resume)
            steps = train(config, self._summary.folder, self.output_dir(), self._stop, resume=resume,
                          overwrite=self.overwrite_check.isChecked() and not resume)
        except TexstudioError as exc:
            self.status_label.setText(str(exc))
            return False
        self._stop.clear()
        self._batch_steps, self._batch_losses = [], []
        for curve in (self.batch_curve, self.train_curve, self.val_curve):
            curve.setData([], [])
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.eta_label.setText(_format_seconds(None))
        self.status_label.setText("Resuming..." if resume else "Loading photos...")
        self._thread = QThread()
        self._worker = TrainingWorker(steps)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.progressed.connect(self._on_worker_progressed)
        self._worker.finished.connect(self._on_worker_finished)
        self._worker.failed.connect(self._on_worker_failed)
        self._thread.start()
        self._update_buttons()
        self.training_started.emit()
        return True

    @Slot()
    def stop(self) -> None:
        """Ask the run to stop after the current batch; it checkpoints, then finishes."""
        if self.busy:
            self._stop.set()  # direct call: the worker's loop polls it between batches
            self.status_label.setText("Stopping after this batch and saving a checkpoint...")
            self.stop_button.setEnabled(False)

    def shutdown(self) -> None:
        """Stop and join any run; call before the panel (or its window) is destroyed."""
        if self._thread is not None:
            self._stop.set()
            self._join_worker()
            self.status_label.setText("Stopped.")
            self._update_buttons()

    def _join_worker(self) -> None:
        """quit() then wait(), called here, never via finished (NOTES.md); drop the references last."""
        thread = self._thread
        if thread is not None:
            thread.quit()
            thread.wait()
        self._thread, self._worker = None, None

    @Slot(object, object)
    def _on_worker_progressed(self, record, skipped) -> None:
        if self._thread is None:
            return  # a report queued before shutdown
        for step, loss in skipped:
            self._batch_steps.append(step)
            self._batch_losses.append(loss)
        if record.phase == "batch":
            self._batch_steps.append(record.step)
            self._batch_losses.append(record.train_loss)
            self.batch_curve.setData(self._batch_steps, self._batch_losses)
        self.progress_bar.setRange(0, max(record.total_steps, 1))
        self.progress_bar.setValue(record.step)
        self.progress_bar.setFormat(f"epoch {record.epoch}/{record.epochs}  step %v/%m")
        self.eta_label.setText(_format_seconds(record.eta))
        if record.phase == "start":
            self.status_label.setText(f"Training on {record.summary['train_images']} photos "
                                      f"({record.summary['val_images']} held out for validation).")
        elif record.phase == "batch":
            self.status_label.setText(f"Epoch {record.epoch}/{record.epochs}, batch {record.batch}/"
                                      f"{record.batches_per_epoch}: loss {record.train_loss:.4g}")
        if record.history is not None:
            self._show_history(record.history, record.batches_per_epoch)
        if record.inputs is not None and record.outputs is not None:
            self.preview_image.setImage(_preview_grid(record.inputs, record.outputs), levels=(0.0, 1.0))
        if record.confusion is not None and record.classes:
            self._show_confusion(record.confusion, record.classes)
        if record.val_accuracy is not None or record.train_accuracy is not None:
            parts = []
            if record.train_accuracy is not None:
                parts.append(f"train {record.train_accuracy:.1%}")
            if record.val_accuracy is not None:
                parts.append(f"validation {record.val_accuracy:.1%}")
            self.accuracy_label.setText("Accuracy: " + ", ".join(parts))
        self.progressed.emit(record)

    def _show_history(self, history: dict, batches_per_epoch: int) -> None:
        # Epoch points sit at the step where each epoch ended, on the batch curve's axis.
        epochs = [batches_per_epoch * (i + 1) for i in range(len(history.get("train_loss", [])))]
        self.train_curve.setData(epochs, history.get("train_loss", []))
        val = [(x, v) for x, v in zip(epochs, history.get("val_loss", [])) if v is not None and np.isfinite(v)]
        self.val_curve.setData([x for x, _ in val], [v for _, v in val])

    def _show_confusion(self, confusion: np.ndarray, classes: list[str]) -> None:
        table = self.confusion_table
        table.setRowCount(len(classes))
        table.setColumnCount(len(classes))
        table.setVerticalHeaderLabels([f"true {c}" for c in classes])
        table.setHorizontalHeaderLabels([f"as {c}" for c in classes])
        rows = confusion.sum(axis=1, keepdims=True).clip(min=1)
        for i in range(len(classes)):
            for j in range(len(classes)):
                item = QTableWidgetItem(str(int(confusion[i, j])))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                share = float(confusion[i, j] / rows[i, 0])
                hue = QColor(44, 160, 44) if i == j else QColor(214, 39, 40)
                hue.setAlphaF(0.15 + 0.6 * share if confusion[i, j] else 0.0)
                item.setBackground(QBrush(hue))
                table.setItem(i, j, item)

    @Slot(object)
    def _on_worker_finished(self, result) -> None:
        if self._thread is None:
            return
        self._join_worker()
        if result.stopped:
            self.status_label.setText(f"Stopped at step {result.step}; checkpoint and model saved in "
                                      f"{result.out_dir}. Resume continues from there.")
        else:
            self.progress_bar.setValue(self.progress_bar.maximum())
            self.eta_label.setText("")
            self.status_label.setText(f"Done: {result.epochs_done} epochs; model saved in {result.out_dir}.")
        self._update_buttons()
        self.training_finished.emit(result)

    @Slot(str)
    def _on_worker_failed(self, message: str) -> None:
        if self._thread is None:
            return
        self._join_worker()
        self.status_label.setText(message)
        self.eta_label.setText("")
        self._update_buttons()
        self.training_failed.emit(message)

    @Slot()
    def _on_use_clicked(self) -> None:
        out = self.output_dir()
        if out is not None and is_model_dir(out):
            self.model_ready.emit(str(out))
