"""Loss curves: the total and one per layer and term, log scale, values under the cursor."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from texstudio.gui.model import AppModel
from texstudio.gui.throttle import Throttle

FLOOR = 1e-12  # log axes cannot show 0


class LossPlotView(QWidget):
    def __init__(self, model: AppModel, parent: QWidget | None = None, interval_ms: int = 150) -> None:
        super().__init__(parent)
        self.model = model
        self.plot = pg.PlotWidget()
        self.plot.setLogMode(x=False, y=True)
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setLabel("bottom", "iteration")
        self.plot.setLabel("left", "loss")
        self.legend = self.plot.addLegend(offset=(-10, 10), labelTextSize="8pt")
        self.total_curve = self.plot.plot(pen=pg.mkPen("w", width=2), name="total")
        self.term_curves: dict[str, pg.PlotDataItem] = {}
        self.cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#888", style=pg.QtCore.Qt.DashLine))
        self.cursor.hide()
        self.plot.addItem(self.cursor, ignoreBounds=True)
        self.readout = QLabel("Move the mouse over the plot to read values.")
        self.readout.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.readout)

        self.plot.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self._redraw = Throttle(self.redraw, interval_ms, self)
        model.losses_changed.connect(self._redraw.trigger)
        self.redraw()

    def redraw(self) -> None:
        history = self.model.losses
        if not len(history):
            self.total_curve.setData([], [])
            for name in list(self.term_curves):
                self.legend.removeItem(self.term_curves[name])
                self.plot.removeItem(self.term_curves.pop(name))
            return
        x = np.asarray(history.iterations, dtype=np.float64)
        self.total_curve.setData(x, np.maximum(np.asarray(history.total), FLOOR), connect="finite")
        for index, (name, values) in enumerate(sorted(history.terms.items())):
            curve = self.term_curves.get(name)
            if curve is None:
                colour = pg.intColor(index, hues=max(len(history.terms), 6), values=1, maxValue=230)
                curve = self.plot.plot(pen=pg.mkPen(colour, width=1), name=name)
                self.term_curves[name] = curve
            curve.setData(x, np.maximum(np.asarray(values, dtype=np.float64), FLOOR), connect="finite")

    def readout_at(self, iteration: float) -> str:
        found = self.model.losses.values_at(iteration)
        if found is None:
            return "No losses yet."
        at, values = found
        parts = [f"<b>iteration {at}</b>"] + [f"{name} {value:.4g}" for name, value in values.items()]
        return " · ".join(parts)

    def _on_mouse_moved(self, position) -> None:
        viewbox = self.plot.getPlotItem().vb
        if not viewbox.sceneBoundingRect().contains(position) or not len(self.model.losses):
            return
        x = viewbox.mapSceneToView(position).x()
        self.cursor.setValue(x)
        self.cursor.show()
        self.readout.setText(self.readout_at(x))
