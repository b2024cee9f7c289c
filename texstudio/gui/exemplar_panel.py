"""The photo, a rectangle choosing the exemplar region, its scale, and what the run will cost."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from texstudio.gui.model import AppModel
from texstudio.gui.sysinfo import format_bytes


class ExemplarPanel(QWidget):
    open_requested = Signal()

    def __init__(self, model: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self._syncing = False

        self.view = pg.GraphicsLayoutWidget()
        self.view.setMinimumHeight(160)
        self.viewbox = self.view.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.image = pg.ImageItem()
        self.viewbox.addItem(self.image)
        self.roi = pg.RectROI((0, 0), (10, 10), pen=pg.mkPen("#ffcc00", width=2), rotatable=False,
                              sideScalers=True)
        self.roi.addScaleHandle((0, 0), (1, 1))
        self.roi.addScaleHandle((1, 0), (0, 1))
        self.roi.addScaleHandle((0, 1), (1, 0))
        self.viewbox.addItem(self.roi)
        self.roi.sigRegionChangeFinished.connect(self._on_roi_changed)

        self.scale = QSpinBox()
        self.scale.setRange(5, 100)
        self.scale.setSuffix(" %")
        self.scale.setKeyboardTracking(False)
        self.scale.setToolTip("Exemplar scale: smaller makes the texture's features larger in the result")
        self.scale.valueChanged.connect(self._on_scale_changed)
        self.open_button = QPushButton("Open…")
        self.open_button.clicked.connect(self.open_requested)
        self.whole_button = QPushButton("Whole image")
        self.whole_button.clicked.connect(self._on_whole_clicked)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextSelectableByMouse)

        row = QHBoxLayout()
        row.addWidget(self.open_button)
        row.addWidget(self.whole_button)
        row.addStretch(1)
        row.addWidget(QLabel("Scale"))
        row.addWidget(self.scale)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.view, 1)
        layout.addLayout(row)
        layout.addWidget(self.info)

        model.photo_changed.connect(self._on_photo_changed)
        model.region_changed.connect(self._on_region_changed)
        model.config_changed.connect(self._update_info)
        self._on_photo_changed()
        self._on_region_changed()

    def _on_photo_changed(self) -> None:
        photo = self.model.photo
        if photo is None:
            self.image.clear()
            self.roi.hide()
            return
        self.image.setImage(photo, levels=(0, 1), autoLevels=False)
        height, width = photo.shape[:2]
        self.roi.maxBounds = pg.QtCore.QRectF(0, 0, width, height)
        self.roi.show()
        self.viewbox.autoRange(padding=0.02)

    def _on_region_changed(self) -> None:
        self._syncing = True
        try:
            x, y, w, h = self.model.region
            self.roi.setPos((x, y), update=False, finish=False)
            self.roi.setSize((w, h), update=True, finish=False)
            self.scale.setValue(round(self.model.exemplar_scale * 100))
        finally:
            self._syncing = False
        self._update_info()

    def _on_roi_changed(self) -> None:
        if self._syncing:
            return
        x, y = self.roi.pos()
        w, h = self.roi.size()
        self.model.set_region((x, y, w, h))
        # The model snaps to whole pixels and bounds: show where it really is.
        self._on_region_changed()

    def _on_scale_changed(self, value: int) -> None:
        if not self._syncing:
            self.model.set_exemplar_scale(value / 100)

    def _on_whole_clicked(self) -> None:
        if self.model.photo is not None:
            height, width = self.model.photo.shape[:2]
            self.model.set_region((0, 0, width, height))

    def _update_info(self) -> None:
        model = self.model
        if model.photo is None:
            self.info.setText("No exemplar: open a photo (Ctrl+O) or drop one on the window.")
            return
        height, width = model.photo.shape[:2]
        _, _, w, h = model.region
        eh, ew = model.exemplar_shape()
        name = model.photo_path.name if model.photo_path else "untitled"
        config = model.config
        self.info.setText(
            f"<b>{name}</b> {width}×{height} px · region {w}×{h} · exemplar {ew}×{eh} px<br>"
            f"output {config.width}×{config.height} px · memory ≈ {format_bytes(model.memory_estimate())} per run"
        )
