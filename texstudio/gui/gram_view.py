"""Gram matrices per layer: the exemplar's (target), the canvas's (current), and their difference."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from texstudio.gui.model import AppModel
from texstudio.gui.throttle import Throttle


def _signed_sqrt(matrix: np.ndarray) -> np.ndarray:
    return np.sign(matrix) * np.sqrt(np.abs(matrix))


class GramView(QWidget):
    def __init__(self, model: AppModel, parent: QWidget | None = None, interval_ms: int = 250) -> None:
        super().__init__(parent)
        self.model = model
        self.layer = QComboBox()
        self.layer.setToolTip("Layer whose Gram matrices are shown")
        self.layer.currentTextChanged.connect(self._on_layer_changed)
        self.compress = QCheckBox("√ scale")
        self.compress.setToolTip("Show sign(g)·√|g|: a few large entries otherwise hide the rest")
        self.compress.setChecked(True)
        self.compress.toggled.connect(lambda _: self.redraw())
        self.info = QLabel()
        self.info.setMinimumWidth(10)  # long notes are cut, not allowed to widen the dock

        self.view = pg.GraphicsLayoutWidget()
        self.view.setMinimumSize(160, 100)  # the plots' own hints would make the window huge
        self.images: dict[str, pg.ImageItem] = {}
        self.plots: dict[str, pg.PlotItem] = {}
        for column, (key, title) in enumerate((("target", "target (exemplar)"), ("current", "current (canvas)"),
                                               ("difference", "current − target"))):
            plot = self.view.addPlot(row=0, col=column, title=title)
            plot.setAspectLocked(True)
            plot.invertY(True)
            plot.hideAxis("left")
            plot.hideAxis("bottom")
            image = pg.ImageItem()
            plot.addItem(image)
            self.images[key], self.plots[key] = image, plot
        # Target and current share one scale, so equal colours mean equal values.
        self.bar = pg.ColorBarItem(colorMap=pg.colormap.get("viridis"), interactive=False, width=12,
                                   colorMapMenu=False)
        self.bar.setImageItem([self.images["target"], self.images["current"]])
        self.view.addItem(self.bar, row=0, col=3)
        self.diff_bar = pg.ColorBarItem(colorMap=pg.colormap.get("CET-D1"), interactive=False, width=12,
                                        colorMapMenu=False)
        self.diff_bar.setImageItem(self.images["difference"])
        self.view.addItem(self.diff_bar, row=0, col=4)

        row = QHBoxLayout()
        row.addWidget(QLabel("Layer"))
        row.addWidget(self.layer)
        row.addWidget(self.compress)
        row.addStretch(1)
        row.addWidget(self.info)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(row)
        layout.addWidget(self.view, 1)

        self._redraw = Throttle(self.redraw, interval_ms, self)
        model.grams_changed.connect(self._redraw.trigger)
        model.config_changed.connect(self._redraw.trigger)
        self.redraw()

    def _sync_layers(self) -> None:
        names = list(self.model.target_grams) or list(self.model.current_grams)
        present = [self.layer.itemText(i) for i in range(self.layer.count())]
        if names != present:
            keep = self.layer.currentText()
            self.layer.blockSignals(True)
            self.layer.clear()
            self.layer.addItems(names)
            if keep in names:
                self.layer.setCurrentText(keep)
            self.layer.blockSignals(False)

    def _on_layer_changed(self, _name: str) -> None:
        self.redraw()

    def redraw(self) -> None:
        self._sync_layers()
        name = self.layer.currentText()
        target = self.model.target_grams.get(name)
        current = self.model.current_grams.get(name)
        if target is None and current is None:
            for image in self.images.values():
                image.clear()
            if self.model.config.gram_weight == 0:
                self.info.setText("The Gram loss is off (weight 0): turn it on in Settings to see Gram matrices.")
            else:
                self.info.setText("Gram matrices appear when a run starts.")
            return
        shown = _signed_sqrt if self.compress.isChecked() else (lambda m: m)
        low, high = np.inf, -np.inf
        for key, matrix in (("target", target), ("current", current)):
            if matrix is None:
                self.images[key].clear()
                continue
            data = shown(matrix).astype(np.float32)
            self.images[key].setImage(data, autoLevels=False)
            low, high = min(low, float(data.min())), max(high, float(data.max()))
        if high <= low:
            high = low + 1e-6
        self.bar.setLevels((low, high))
        if target is not None and current is not None:
            difference = shown(current - target).astype(np.float32)
            limit = max(float(np.abs(difference).max()), 1e-6)
            self.images["difference"].setImage(difference, autoLevels=False)
            self.diff_bar.setLevels((-limit, limit))  # symmetric: white is "no difference"
            error = float(np.sum((current - target) ** 2) / max(np.sum(target ** 2), 1e-12))
            self.info.setText(f"{target.shape[0]} channels · relative error {error:.3g}")
        else:
            self.images["difference"].clear()
            self.info.setText(f"{(target if target is not None else current).shape[0]} channels")
