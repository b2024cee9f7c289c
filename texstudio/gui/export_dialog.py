"""Where and how to export: format, bit depth, sidecar, tiled sheet, number of variations."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
    QPushButton, QSpinBox, QVBoxLayout, QWidget,
)

from texstudio.gui.exporting import ExportRequest
from texstudio.gui.model import AppModel

FORMATS = {"PNG": ".png", "TIFF": ".tif"}


class ExportDialog(QDialog):
    def __init__(self, model: AppModel, defaults: dict | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("texstudio — Export")
        self.model = model
        defaults = defaults or {}
        has_result = model.result is not None

        folder = Path(defaults.get("folder") or Path.home())
        self.path = QLineEdit(str(folder / defaults.get("name", "texture.png")))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse_clicked)
        self.format = QComboBox()
        self.format.addItems(FORMATS)
        self.format.setCurrentText(defaults.get("format", "PNG"))
        self.format.currentTextChanged.connect(self._on_format_changed)
        self.bit_depth = QComboBox()
        self.bit_depth.addItems(["8", "16"])
        self.bit_depth.setCurrentText(str(defaults.get("bit_depth", 8)))
        self.sidecar = QCheckBox("JSON sidecar with every setting (to reproduce the image)")
        self.sidecar.setChecked(defaults.get("sidecar", True))
        self.sheet = QCheckBox("Also a tiled sheet of")
        self.sheet.setChecked(defaults.get("sheet", False))
        self.columns = QSpinBox()
        self.columns.setRange(1, 16)
        self.columns.setValue(defaults.get("columns", 3))
        self.rows = QSpinBox()
        self.rows.setRange(1, 16)
        self.rows.setValue(defaults.get("rows", 3))
        self.variations = QSpinBox()
        self.variations.setRange(1, 100)
        self.variations.setValue(1)
        self.variations.setToolTip("K > 1 synthesises seeds seed … seed+K−1 in the worker and exports each")
        self.variations.valueChanged.connect(self._on_variations_changed)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.error = QLabel()
        self.error.setStyleSheet("color: #ff6b6b")
        self.error.setWordWrap(True)

        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(browse)
        sheet_row = QHBoxLayout()
        sheet_row.addWidget(self.sheet)
        sheet_row.addWidget(self.columns)
        sheet_row.addWidget(QLabel("×"))
        sheet_row.addWidget(self.rows)
        sheet_row.addWidget(QLabel("tiles"))
        sheet_row.addStretch(1)
        form = QFormLayout()
        form.addRow("File", path_row)
        form.addRow("Format", self.format)
        form.addRow("Bits per channel", self.bit_depth)
        form.addRow(self.sidecar)
        form.addRow(sheet_row)
        form.addRow("Variations", self.variations)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

        if not has_result:
            self.variations.setMinimum(1)
        self._on_format_changed(self.format.currentText())
        self._on_variations_changed(self.variations.value())

    def _tileable(self) -> bool:
        if self.variations.value() > 1 or self.model.result is None:
            return self.model.config.tileable
        return self.model.result.config.tileable

    def _on_variations_changed(self, count: int) -> None:
        tileable = self._tileable()
        for widget in (self.sheet, self.columns, self.rows):
            widget.setEnabled(tileable)
        self.sheet.setToolTip("" if tileable else "Only tileable results make a seamless sheet")
        if count > 1 or self.model.result is None:
            seed = self.model.config.seed
            self.note.setText(f"Synthesises {count} image(s) with seeds {seed}…{seed + count - 1} "
                              "and the current settings, adding _seedN to the name.")
        else:
            self.note.setText("Exports the current result.")

    def _on_format_changed(self, name: str) -> None:
        path = Path(self.path.text())
        if path.suffix.lower() not in (".png", ".tif", ".tiff") or FORMATS[name] != path.suffix.lower():
            self.path.setText(str(path.with_suffix(FORMATS[name])))

    def _on_browse_clicked(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export as", self.path.text(),
                                              "PNG (*.png);;TIFF (*.tif *.tiff)",
                                              options=QFileDialog.DontConfirmOverwrite)
        if name:
            # The overwrite question comes once, for every file of the export, after OK.
            self.path.setText(name)
            self.format.setCurrentText("TIFF" if Path(name).suffix.lower() in (".tif", ".tiff") else "PNG")

    def request(self) -> ExportRequest:
        path = Path(self.path.text()).expanduser()
        sheet = (self.columns.value(), self.rows.value()) if self.sheet.isChecked() and self.sheet.isEnabled() else None
        return ExportRequest(path=path, bit_depth=int(self.bit_depth.currentText()),
                             sidecar=self.sidecar.isChecked(), sheet=sheet, variations=self.variations.value())

    def remembered(self) -> dict:
        """What the next export dialog starts from."""
        path = Path(self.path.text()).expanduser()
        return {"folder": str(path.parent), "name": path.name, "format": self.format.currentText(),
                "bit_depth": int(self.bit_depth.currentText()), "sidecar": self.sidecar.isChecked(),
                "sheet": self.sheet.isChecked(), "columns": self.columns.value(), "rows": self.rows.value()}

    def accept(self) -> None:
        path = Path(self.path.text()).expanduser()
        if not self.path.text().strip() or path.is_dir():
            self.error.setText("Choose a file name.")
            return
        if not path.parent.is_dir():
            self.error.setText(f"Folder {path.parent} does not exist.")
            return
        if path.suffix.lower() not in (".png", ".tif", ".tiff"):
            self.error.setText("The name must end in .png, .tif or .tiff.")
            return
        super().accept()
