"""The Weights dialog: the registry's files and their state, download and import on request.

The dialog only shows and asks; the work is the engine's ``download_weights`` and
``iter_status`` generators, driven in a worker QThread so the window stays responsive
while 548 MB arrive or are hashed. Cancel sets the StopToken by a direct call: a queued
signal would never reach a worker busy in its loop (shared/NOTES.md).
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from texstudio.engine.cancel import StopToken
from texstudio.engine.download import DownloadCancelled
from texstudio.engine.errors import TexstudioError
from texstudio.engine.weights import (
    CORRUPT,
    MISSING,
    PRESENT,
    Registry,
    WeightsStatus,
    download_weights,
    iter_status,
    load_registry,
    vgg19_weights_notice,
    weights_status,
)

COLUMNS = ("Name", "State", "Size", "Licence", "Path")
# Progress is re-emitted at most this often: a signal per 64 KiB chunk would flood the
# GUI thread's event queue for no visible gain.
PROGRESS_INTERVAL_S = 0.05


def _size_text(size: int | None) -> str:
    if size is None:
        return ""
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 1024:.1f} KiB"


class WeightsWorker(QObject):
    """Runs one (done, total) progress generator to its end in a worker thread."""

    # Each signal carries the job number, so a report that arrives after the dialog gave
    # up on that job (closed, or already started another) is recognised and dropped.
    # object, not int: byte counts pass 2**31 for large files.
    progressed = Signal(int, object, object)
    finished = Signal(int, object)  # the generator's return value
    failed = Signal(int, str, bool)  # message, whether it was a cancel

    def __init__(self, job: int, steps) -> None:
        super().__init__()
        self._job = job
        self._steps = steps

    @Slot()
    def run(self) -> None:
        last = 0.0
        try:
            while True:
                try:
                    done, total = next(self._steps)
                except StopIteration as end:
                    self.finished.emit(self._job, end.value)
                    return
                now = time.monotonic()
                if now - last >= PROGRESS_INTERVAL_S:
                    last = now
                    self.progressed.emit(self._job, done, total)
        except DownloadCancelled as exc:
            self.failed.emit(self._job, str(exc), True)
        except TexstudioError as exc:
            self.failed.emit(self._job, str(exc), False)
        except Exception as exc:  # a bug must reach the user, not die silently in a thread
            self.failed.emit(self._job, f"unexpected error: {type(exc).__name__}: {exc}", False)
        finally:
            self._steps.close()


class WeightsDialog(QDialog):
    """Known weights with their state; Download, Import from file..., Verify and Cancel."""

    # All emitted in the GUI thread, so tests and the main window can wait on them safely.
    progressed = Signal(object, object)  # bytes done, bytes total (None when unknown)
    download_finished = Signal(str)  # path of the placed file
    download_failed = Signal(str)  # message (also for a cancel)
    verify_finished = Signal(str)  # the verified entry's state
    weights_changed = Signal()  # a file was placed: backbones built from now on may use it

    def __init__(self, registry: Registry | None = None, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Network weights")
        self.registry = registry if registry is not None else load_registry()
        self._thread: QThread | None = None
        self._worker: WeightsWorker | None = None
        self._stop = StopToken()
        self._job = ""  # "download" or "verify"
        self._job_entry = ""
        self._job_number = 0

        self.notice_label = QLabel()
        self.notice_label.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setVisible(False)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.download_button = QPushButton("Download")
        self.download_button.setToolTip("Fetch the selected file from its registered URL; "
                                        "it is placed only if its SHA-256 matches")
        self.import_button = QPushButton("Import from file...")
        self.import_button.setToolTip("Use a copy fetched elsewhere; it is verified like a download")
        self.verify_button = QPushButton("Verify")
        self.verify_button.setToolTip("Hash the selected file and compare it with the registry")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        buttons = QHBoxLayout()
        for button in (self.download_button, self.import_button, self.verify_button, self.cancel_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        close_box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close_box.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.notice_label)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)
        layout.addWidget(close_box)

        self.download_button.clicked.connect(self._on_download_clicked)
        self.import_button.clicked.connect(self._on_import_clicked)
        self.verify_button.clicked.connect(self._on_verify_clicked)
        # A direct call, not a queued signal to the worker: see the module docstring.
        self.cancel_button.clicked.connect(self.cancel)
        self.table.itemSelectionChanged.connect(self._update_buttons)

        self.refresh()
        if self.table.rowCount():
            self.table.selectRow(0)
        self.resize(760, 300)

    # --- state ---------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._thread is not None

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        return item.text() if item else None

    def select(self, name: str) -> None:
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).text() == name:
                self.table.selectRow(row)
                return
        raise KeyError(name)

    def state_of(self, name: str) -> str:
        """The state shown for ``name`` (present, missing or corrupt), as the table says it."""
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).text() == name:
                return self.table.item(row, 1).data(Qt.ItemDataRole.UserRole)
        raise KeyError(name)

    def refresh(self) -> None:
        """Re-read every entry's state from disk; instant (sizes and cached digests only)."""
        selected = self.selected_name()
        self.table.setRowCount(0)
        for entry in self.registry:
            self._add_row(weights_status(entry))
        if selected is not None:
            self.select(selected)
        notice = vgg19_weights_notice() if "vgg19" in self.registry.entries else None
        self.notice_label.setText(notice or "")
        self.notice_label.setVisible(bool(notice))
        self._update_buttons()

    def _add_row(self, status: WeightsStatus) -> None:
        entry = status.entry
        row = self.table.rowCount()
        self.table.insertRow(row)
        state = status.state
        if status.state == PRESENT:
            text = "present" if status.hashed else "present (size ok, not hashed)"
        elif status.state == CORRUPT:
            text = f"corrupt: {status.detail}"
        else:
            text = "missing"
        cells = (entry.name, text, _size_text(status.size if status.size is not None else entry.size),
                 entry.licence, str(status.path) if status.path else "")
        for column, value in enumerate(cells):
            item = QTableWidgetItem(value)
            item.setToolTip(f"{entry.description}\n{entry.url}" if column == 0 else value)
            self.table.setItem(row, column, item)
        self.table.item(row, 1).setData(Qt.ItemDataRole.UserRole, state)

    def _update_buttons(self) -> None:
        chosen = self.selected_name() is not None
        self.download_button.setEnabled(chosen and not self.busy)
        self.import_button.setEnabled(chosen and not self.busy)
        self.verify_button.setEnabled(chosen and not self.busy and self.state_of(self.selected_name()) != MISSING)
        self.cancel_button.setEnabled(self.busy)

    # --- actions -------------------------------------------------------------------

    def start_download(self, name: str | None = None, source: str | Path | None = None) -> None:
        """Download ``name`` (default: the selected entry) from its URL or from ``source``."""
        entry = self.registry.get(name or self.selected_name())
        self._stop = StopToken()
        steps = download_weights(entry, self._stop, source=source)
        origin = Path(source).name if source and not str(source).startswith(("http:", "https:")) else "the network"
        self._start("download", entry.name, steps, f"Fetching {entry.file} from {origin}...")

    def import_file(self, path: str | Path, name: str | None = None) -> None:
        """Take ``name``'s file from a local copy; verified exactly like a download."""
        self.start_download(name, source=Path(path))

    def start_verify(self, name: str | None = None) -> None:
        entry = self.registry.get(name or self.selected_name())
        self._stop = StopToken()
        self._start("verify", entry.name, iter_status(entry, verify=True, stop=self._stop),
                    f"Hashing {entry.file}...")

    @Slot()
    def cancel(self) -> None:
        """Stop the running job; the worker sees it at its next chunk and places nothing."""
        self._stop.set()

    def _on_download_clicked(self) -> None:
        self.start_download()

    def _on_import_clicked(self) -> None:
        entry = self.registry.get(self.selected_name())
        path, _ = QFileDialog.getOpenFileName(
            self, f"Import {entry.file}", str(Path.home()), "Weights (*.pth *.pt *.safetensors);;All files (*)")
        if path:
            self.import_file(path, entry.name)

    def _on_verify_clicked(self) -> None:
        self.start_verify()

    # --- the worker thread -----------------------------------------------------------

    def _start(self, job: str, name: str, steps, message: str) -> None:
        if self.busy:
            steps.close()
            return
        self._job, self._job_entry = job, name
        self._job_number += 1
        self._thread = QThread()
        self._worker = WeightsWorker(self._job_number, steps)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.progressed.connect(self._on_worker_progressed)
        self._worker.finished.connect(self._on_worker_finished)
        self._worker.failed.connect(self._on_worker_failed)
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.progress_bar.setVisible(True)
        self.status_label.setText(message)
        self._thread.start()
        self._update_buttons()

    def _join_worker(self) -> None:
        """End the thread and drop it. quit() before wait(), called here, never via finished (NOTES.md)."""
        # The local ``worker`` keeps the worker alive until its thread has ended: dropping the last
        # reference first let Python delete it while run() was still returning (a rare segfault).
        thread, worker = self._thread, self._worker
        self._thread = self._worker = None
        if thread is not None:
            thread.quit()
            thread.wait()
        del worker

    def _is_current(self, job: int) -> bool:
        return self._thread is not None and job == self._job_number

    @Slot(int, object, object)
    def _on_worker_progressed(self, job: int, done, total) -> None:
        if not self._is_current(job):
            return
        if total:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(min(1000, int(1000 * done / total)))
            self.progress_bar.setFormat(f"{_size_text(done)} of {_size_text(total)}")
            self.progress_bar.setTextVisible(True)
        else:
            self.progress_bar.setRange(0, 0)  # unknown length: a busy bar
        self.progressed.emit(done, total)

    @Slot(int, object)
    def _on_worker_finished(self, number: int, value) -> None:
        if not self._is_current(number):
            return
        job, name = self._job, self._job_entry
        self._join_worker()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(1000)
        self.refresh()
        if job == "download":
            self.status_label.setText(f"{name}: placed {value} (SHA-256 verified).")
            self.weights_changed.emit()
            self.download_finished.emit(str(value))
        else:
            state = value.state
            detail = f" ({value.detail})" if value.detail else ""
            self.status_label.setText(f"{name}: {state}{detail}.")
            self.verify_finished.emit(state)

    @Slot(int, str, bool)
    def _on_worker_failed(self, number: int, message: str, cancelled: bool) -> None:
        if not self._is_current(number):
            return
        job = self._job
        self._join_worker()
        self.progress_bar.setVisible(False)
        self.refresh()
        self.status_label.setText(message if not cancelled else f"Cancelled. {message}")
        if job == "download":
            self.download_failed.emit(message)
        else:
            self.verify_finished.emit("cancelled" if cancelled else message)

    def shutdown(self) -> None:
        """Stop and join any running job; the dialog can then be destroyed safely."""
        if self._thread is not None:
            self._stop.set()
            self._join_worker()  # its last report, still queued, is now stale and will be dropped
            self.progress_bar.setVisible(False)
            self.status_label.setText("Stopped.")  # the table shows whether a file arrived
            self.refresh()

    def done(self, result: int) -> None:  # every way of closing (Close, Esc, the window's X) ends here
        self.shutdown()
        super().done(result)

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)
