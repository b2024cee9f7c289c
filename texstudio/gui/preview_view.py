"""The canvas, live: zoom and pan with the mouse, and a 3×3 tiling check for seams."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from texstudio.gui.model import AppModel
from texstudio.gui.throttle import Throttle


class PreviewView(QWidget):
    def __init__(self, model: AppModel, parent: QWidget | None = None, interval_ms: int = 100) -> None:
        super().__init__(parent)
        self.model = model
        self._shown_shape: tuple[int, ...] | None = None

        self.view = pg.GraphicsLayoutWidget()
        self.view.setMinimumSize(160, 100)  # the plots' own hints would make the window huge
        self.viewbox = self.view.addViewBox(lockAspect=True, invertY=True)
        self.image = pg.ImageItem()
        self.viewbox.addItem(self.image)
        self.tile = QCheckBox("Tile 3×3")
        self.tile.setToolTip("Show the canvas repeated 3×3: seams of a non-tileable result show at once (Ctrl+T)")
        self.tile.toggled.connect(self._on_tile_changed)
        self.fit = QPushButton("Fit")
        self.fit.clicked.connect(lambda: self.viewbox.autoRange(padding=0.02))
        self.info = QLabel("No canvas yet: press Start (F5).")

        row = QHBoxLayout()
        row.addWidget(self.tile)
        row.addWidget(self.fit)
        row.addStretch(1)
        row.addWidget(self.info)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.view, 1)
        layout.addLayout(row)

        self._redraw = Throttle(self.redraw, interval_ms, self)
        model.canvas_changed.connect(self._redraw.trigger)
        self.redraw()

    def displayed_image(self) -> np.ndarray | None:
        canvas = self.model.canvas
        if canvas is None:
            return None
        return np.tile(canvas, (3, 3, 1)) if self.tile.isChecked() else canvas

    def redraw(self) -> None:
        image = self.displayed_image()
        if image is None:
            self.image.clear()
            return
        self.image.setImage(image, levels=(0, 1), autoLevels=False)
        if image.shape != self._shown_shape:
            self._shown_shape = image.shape
            self.viewbox.autoRange(padding=0.02)
        height, width = self.model.canvas.shape[:2]
        self.info.setText(f"{width}×{height} px" + (" · tiled 3×3" if self.tile.isChecked() else ""))

    def _on_tile_changed(self, _checked: bool) -> None:
        self.redraw()
