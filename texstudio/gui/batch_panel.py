"""The Batch panel: the current settings over every photo of a folder, in a worker thread.

The jobs, the resume rule and the summary are the CLI's (``texstudio.batch``); the
in-process executor runs in a ``worker.Task`` like every other long job, so Stop sets
its token directly and the running job ends at its next step, writing nothing.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView, QFileDialog, QFormLayout, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QProgressBar,
    QPushButton, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from texstudio.batch.events import JobFinished, JobProgressed, JobStarted
from texstudio.batch.plan import BatchPlan, plan_batch
from texstudio.batch.runner import run_batch
from texstudio.engine.config import LOSS_WEIGHTS
from texstudio.engine.errors import TexstudioError
from texstudio.gui.model import AppModel
from texstudio.gui.worker import Task

DEFAULT_OUTPUT = "texstudio-batch"  # beside the photos, unless the user picks another folder
# The progress bar counts jobs in this many parts, so the running job's steps show too.
PARTS_PER_JOB = 100
COLUMNS = ("Job", "Status", "Time", "Patch distance")


class BatchPanel(QWidget):
    """Folder, output folder and variations; Start / Stop; a progress bar and a row per job."""

    batch_started = Signal()
    batch_finished = Signal(object)  # the BatchSummary (also after Stop: its rows say cancelled)
    batch_failed = Signal(str)

    def __init__(self, model: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.task: Task | None = None
        self.plan: BatchPlan | None = None
        self.summary = None
        self._output_edited = False
        self._finished_jobs = 0
        self._build()
        model.config_changed.connect(self._on_config_changed)
        self._on_config_changed()
        self._update_buttons()

    def _build(self) -> None:
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("folder of exemplar photos")
        self.folder_edit.textChanged.connect(self._on_folder_changed)
        self.folder_button = folder_button = QPushButton("Choose…")
        folder_button.clicked.connect(self._on_choose_folder)
        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText(f"where images go (default: FOLDER/{DEFAULT_OUTPUT})")
        self.output_edit.textEdited.connect(self._on_output_edited)
        self.output_button = output_button = QPushButton("Choose…")
        output_button.clicked.connect(self._on_choose_output)
        self.variations_spin = QSpinBox()
        self.variations_spin.setRange(1, 100)
        self.variations_spin.setToolTip("Seeds per photo: the settings' seed, seed+1, …")
        self.settings_label = QLabel()
        self.settings_label.setWordWrap(True)

        form = QFormLayout()
        for label, edit, button in (("Photos", self.folder_edit, folder_button),
                                    ("Output", self.output_edit, output_button)):
            row = QHBoxLayout()
            row.addWidget(edit, 1)
            row.addWidget(button)
            form.addRow(label, row)
        form.addRow("Variations", self.variations_spin)
        form.addRow("Settings", self.settings_label)

        self.start_button = QPushButton("Start batch")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setTextVisible(False)
        self.status_label = QLabel("Choose a folder of photos. Finished jobs in the output folder are skipped.")
        self.status_label.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)
        layout.addWidget(self.table, 1)

    # -- inputs ---------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.task is not None and not self.task.done

    def set_folder(self, folder: str | Path) -> None:
        self.folder_edit.setText(str(folder))

    def set_output(self, folder: str | Path) -> None:
        self.output_edit.setText(str(folder))
        self._output_edited = True

    def _on_folder_changed(self, text: str) -> None:
        if not self._output_edited:
            self.output_edit.setText(str(Path(text).expanduser() / DEFAULT_OUTPUT) if text.strip() else "")
        self._update_buttons()

    def _on_output_edited(self, text: str) -> None:
        self._output_edited = bool(text.strip())

    def _on_choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of exemplar photos", self.folder_edit.text())
        if folder:
            self.set_folder(folder)

    def _on_choose_output(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder", self.output_edit.text())
        if folder:
            self.set_output(folder)

    def _on_config_changed(self) -> None:
        config = self.model.config
        terms = [name.removesuffix("_weight") for name in LOSS_WEIGHTS if getattr(config, name)]
        self.settings_label.setText(
            f"the current settings: {config.width}×{config.height}, {config.steps} steps, {'+'.join(terms)}, "
            f"{config.backbone}, seed {config.seed}{', tileable' if config.tileable else ''}, {config.device}")

    def _update_buttons(self) -> None:
        busy = self.busy
        self.start_button.setEnabled(not busy and bool(self.folder_edit.text().strip()))
        self.stop_button.setEnabled(busy)
        for widget in (self.folder_edit, self.folder_button, self.output_edit, self.output_button,
                       self.variations_spin):
            widget.setEnabled(not busy)

    # -- running --------------------------------------------------------------------------
    def start(self) -> bool:
        """Plan the batch from the folder and the model's settings and run it; False on bad input."""
        if self.busy:
            return False
        output = self.output_edit.text().strip() or str(Path(self.folder_edit.text()).expanduser() / DEFAULT_OUTPUT)
        try:
            # The settings panel's own exemplar size is what the user sees: keep it.
            plan = plan_batch(self.folder_edit.text().strip(), output, self.model.config,
                              variations=self.variations_spin.value(), keep_exemplar_size=True)
        except TexstudioError as exc:
            self.status_label.setText(str(exc))
            self.batch_failed.emit(str(exc))
            return False
        self.plan, self.summary = plan, None
        self._fill_table(plan)
        self.progress_bar.setRange(0, len(plan.jobs) * PARTS_PER_JOB)
        self.progress_bar.setValue(0)
        self._finished_jobs = 0
        self.status_label.setText(f"{len(plan.jobs)} jobs into {plan.outdir}")
        if self.task is not None:
            self.task.deleteLater()  # the previous batch's task: finished, its thread joined
        self.task = Task(lambda stop: run_batch(plan, "sequential", stop), name="batch", parent=self)
        self.task.progressed.connect(self._on_progressed)
        self.task.finished.connect(self._on_finished)
        self.task.failed.connect(self._on_failed)
        self.task.start()
        self._update_buttons()
        self.batch_started.emit()
        return True

    def stop(self) -> None:
        """Ask the batch to stop; the running job is dropped, ``batch_finished`` follows."""
        if self.busy:
            self.task.stop()
            self.status_label.setText("Stopping…")

    def shutdown(self) -> None:
        """Stop and join the worker now (window closing, test teardown)."""
        if self.busy:
            self.task.shutdown()
            self._update_buttons()

    def _fill_table(self, plan: BatchPlan) -> None:
        self.table.setRowCount(len(plan.jobs))
        for row, job in enumerate(plan.jobs):
            self.table.setItem(row, 0, QTableWidgetItem(job.id))
            for column in range(1, len(COLUMNS)):
                self.table.setItem(row, column, QTableWidgetItem("waiting" if column == 1 else ""))

    def status_of(self, row: int) -> str:
        return self.table.item(row, 1).text()

    def _on_progressed(self, event) -> None:
        if isinstance(event, JobStarted):
            self.table.item(event.index, 1).setText("running")
            self.table.scrollToItem(self.table.item(event.index, 0))
        elif isinstance(event, JobProgressed) and event.total_steps:
            self.table.item(event.index, 1).setText(f"running {event.iteration}/{event.total_steps}")
            part = PARTS_PER_JOB * min(event.iteration, event.total_steps) // event.total_steps
            self.progress_bar.setValue(self._finished_jobs * PARTS_PER_JOB + part)
        elif isinstance(event, JobFinished):
            outcome = event.outcome
            self._finished_jobs += 1
            self.progress_bar.setValue(self._finished_jobs * PARTS_PER_JOB)
            status = self.table.item(event.index, 1)
            status.setText(f"failed: {outcome.error}" if outcome.error else outcome.status)
            status.setToolTip(outcome.error)
            seconds = outcome.wall_s if outcome.wall_s is not None else outcome.synth_s
            self.table.item(event.index, 2).setText("" if seconds is None else f"{seconds:.1f} s")
            patch = outcome.quality.get("patch_distance")
            self.table.item(event.index, 3).setText("" if patch is None else f"{patch:.4f}")

    def _on_finished(self, summary) -> None:
        self.summary = summary
        self.status_label.setText(f"{summary.describe()} in {summary.wall_s:.1f} s. Summary: {summary.csv_path}")
        self._update_buttons()
        self.batch_finished.emit(summary)

    def _on_failed(self, message: str, details: str) -> None:
        self.status_label.setText(f"The batch stopped: {message}")
        self._update_buttons()
        self.batch_failed.emit(message)
