"""Run > Batch…: the Batch panel in a window of its own, beside the studio window.

Not modal, and hidden rather than destroyed when closed, so a batch keeps running (and
can be looked at again) while the studio is used for something else.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QVBoxLayout, QWidget

from texstudio.gui.batch_panel import BatchPanel
from texstudio.gui.model import AppModel


class BatchDialog(QDialog):
    def __init__(self, model: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("texstudio — Batch")
        self.setModal(False)
        self.panel = BatchPanel(model)
        layout = QVBoxLayout(self)
        layout.addWidget(self.panel)
        self.resize(640, 480)
