"""Channels of one layer for exemplar and canvas side by side; click one to enlarge it and
ask what it responds to (an image learned to excite it, computed in the worker)."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from texstudio.engine.features import mosaic, mosaic_cell
from texstudio.gui.model import AppModel, layer_catalog
from texstudio.gui.throttle import Throttle

GAP = 1


def _image_plot(layout: pg.GraphicsLayoutWidget, row: int, col: int, title: str, colspan: int = 1):
    plot = layout.addPlot(row=row, col=col, title=title, colspan=colspan)
    plot.setAspectLocked(True)
    plot.invertY(True)
    plot.hideAxis("left")
    plot.hideAxis("bottom")
    plot.setMenuEnabled(False)
    image = pg.ImageItem()
    plot.addItem(image)
    return plot, image


class FeatureMapsView(QWidget):
    feature_maps_requested = Signal(str, int)  # layer, max channels
    visualization_requested = Signal(str, int)  # layer, channel

    def __init__(self, model: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.channel: int | None = None
        self._grids: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {}  # key -> (map shape, grid)

        self.layer = QComboBox()
        self.layer.currentTextChanged.connect(self._on_layer_changed)
        self.max_channels = QSpinBox()
        self.max_channels.setRange(4, 512)
        self.max_channels.setValue(64)
        self.max_channels.setKeyboardTracking(False)
        self.max_channels.setToolTip("Show at most this many channels (the first ones)")
        self.max_channels.valueChanged.connect(lambda _: self.request_maps())
        self.refresh = QPushButton("Refresh")
        self.refresh.clicked.connect(self.request_maps)
        self.status = QLabel("Choose a layer.")
        self.status.setMinimumWidth(10)
        self.visualize = QPushButton("What does this channel respond to?")
        self.visualize.setEnabled(False)
        self.visualize.clicked.connect(self._on_visualize_clicked)
        self.visualize_status = QLabel("Click a channel to enlarge it.")
        self.visualize_status.setMinimumWidth(10)

        self.view = pg.GraphicsLayoutWidget()
        self.view.setMinimumSize(160, 100)  # the plots' own hints would make the window huge
        self.exemplar_plot, self.exemplar_image = _image_plot(self.view, 0, 0, "exemplar")
        self.canvas_plot, self.canvas_image = _image_plot(self.view, 0, 1, "canvas", colspan=2)
        self.big_exemplar_plot, self.big_exemplar = _image_plot(self.view, 1, 0, "exemplar channel")
        self.big_canvas_plot, self.big_canvas = _image_plot(self.view, 1, 1, "canvas channel")
        self.learned_plot, self.learned = _image_plot(self.view, 1, 2, "learned stimulus")
        colour_map = pg.colormap.get("inferno")
        for image in (self.exemplar_image, self.canvas_image, self.big_exemplar, self.big_canvas):
            image.setColorMap(colour_map)
        self.view.scene().sigMouseClicked.connect(self._on_scene_clicked)

        top = QHBoxLayout()
        top.addWidget(QLabel("Layer"))
        top.addWidget(self.layer)
        top.addWidget(QLabel("Channels"))
        top.addWidget(self.max_channels)
        top.addWidget(self.refresh)
        top.addStretch(1)
        top.addWidget(self.status)
        bottom = QHBoxLayout()
        bottom.addWidget(self.visualize)
        bottom.addWidget(self.visualize_status, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addLayout(bottom)

        self._redraw_visualization = Throttle(self._draw_visualization, 100, self)
        model.config_changed.connect(self._sync_layers)
        model.feature_maps_changed.connect(self._on_feature_maps_changed)
        model.visualization_changed.connect(self._redraw_visualization.trigger)
        self._sync_layers()

    # -- layers -------------------------------------------------------------------------------
    def _sync_layers(self) -> None:
        offered, defaults = layer_catalog(self.model.config.backbone)
        used = self.model.config.layers or defaults
        names = list(offered) + [n for n in used if n not in offered]
        present = [self.layer.itemText(i) for i in range(self.layer.count())]
        if names == present:
            return
        keep = self.layer.currentText()
        self.layer.blockSignals(True)
        self.layer.clear()
        self.layer.addItems(names)
        self.layer.setCurrentText(keep if keep in names else used[0])
        self.layer.blockSignals(False)

    def _on_layer_changed(self, _name: str) -> None:
        self.request_maps()

    def request_maps(self) -> None:
        """Ask for this layer's maps (the window runs the job); needs an exemplar."""
        if self.model.photo is None or not self.layer.currentText():
            return
        self.status.setText(f"computing {self.layer.currentText()}…")
        self.feature_maps_requested.emit(self.layer.currentText(), self.max_channels.value())

    # -- maps -------------------------------------------------------------------------------
    def _on_feature_maps_changed(self) -> None:
        maps = self.model.feature_maps
        self._grids.clear()
        if maps is None:
            for image in (self.exemplar_image, self.canvas_image, self.big_exemplar, self.big_canvas):
                image.clear()
            return
        for key, stack, image in (("exemplar", maps.exemplar, self.exemplar_image),
                                  ("canvas", maps.canvas, self.canvas_image)):
            if stack is None:
                image.clear()
                continue
            tiles, grid = mosaic(stack, GAP, fill=0.0)
            image.setImage(tiles, levels=(0, 1), autoLevels=False)
            self._grids[key] = (stack.shape[1:], grid)
        shown = maps.exemplar.shape[0]
        self.status.setText(f"{maps.layer}: {shown} of {maps.channels_total} channels")
        self.exemplar_plot.autoRange(padding=0.01)
        self.canvas_plot.autoRange(padding=0.01)
        if self.channel is not None and self.channel < shown:
            self.select_channel(self.channel)

    def _on_scene_clicked(self, event) -> None:
        position = event.scenePos()
        for key, image in (("exemplar", self.exemplar_image), ("canvas", self.canvas_image)):
            if key not in self._grids or not image.sceneBoundingRect().contains(position):
                continue
            point = image.mapFromScene(position)
            shape, grid = self._grids[key]
            channel = mosaic_cell(point.x(), point.y(), shape, grid, GAP)
            if channel is not None and channel < self.model.feature_maps.exemplar.shape[0]:
                self.select_channel(channel)
            return

    def select_channel(self, channel: int) -> None:
        """Enlarge ``channel`` of the current maps (what a click on it does)."""
        maps = self.model.feature_maps
        if maps is None:
            return
        self.channel = channel
        self.big_exemplar.setImage(maps.exemplar[channel], levels=(0, 1), autoLevels=False)
        if maps.canvas is not None:
            self.big_canvas.setImage(maps.canvas[channel], levels=(0, 1), autoLevels=False)
        self.big_exemplar_plot.setTitle(f"exemplar · {maps.layer} #{channel}")
        self.big_canvas_plot.setTitle(f"canvas · {maps.layer} #{channel}")
        self.big_exemplar_plot.autoRange(padding=0.01)
        self.big_canvas_plot.autoRange(padding=0.01)
        self.visualize.setEnabled(True)
        self.visualize.setText(f"What does {maps.layer} #{channel} respond to?")

    def _on_visualize_clicked(self) -> None:
        maps = self.model.feature_maps
        if maps is not None and self.channel is not None:
            self.visualization_requested.emit(maps.layer, self.channel)

    def _draw_visualization(self) -> None:
        visualization = self.model.visualization
        if visualization is None:
            self.learned.clear()
            return
        if visualization.image is not None:
            self.learned.setImage(visualization.image, levels=(0, 1), autoLevels=False)
            self.learned_plot.autoRange(padding=0.01)
        state = "done" if visualization.done else f"step {visualization.iteration}/{visualization.total}"
        self.learned_plot.setTitle(f"learned · {visualization.layer} #{visualization.channel}")
        self.visualize_status.setText(
            f"{visualization.layer} #{visualization.channel}: {state}, mean activation {visualization.activation:.3g}")
