"""Loss curves: the total and one per layer and term, log scale, values under the cursor.

While a run adds a point per step the view follows the data in coarse jumps: the x axis
ends at a round number of iterations (1, 2 or 5 times a power of ten) and the y axis spans
whole decades. pyqtgraph's own auto-range would move both axes at every step, and
regenerating an axis (its ticks, labels and grid) is most of what a repaint of this plot
costs in the GUI thread. Zooming or panning by hand stops the following; the plot's "A"
button (auto-range) starts it again.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from texstudio.gui.model import AppModel
from texstudio.gui.plot_axes import opaque_grid_plot
from texstudio.gui.throttle import Throttle

FLOOR = 1e-12  # log axes cannot show 0
# Making a curve and its legend entry costs pyqtgraph 8 to 13 ms. A run's first record brings
# one per layer and term (seven by default), so they are made one per redraw, not all in
# one block of the GUI thread.
NEW_CURVES_PER_REDRAW = 1


def _floored(values) -> np.ndarray:
    return np.maximum(np.asarray(values, dtype=np.float64), FLOOR)


def round_up(value: float) -> float:
    """The smallest of 1, 2 or 5 times a power of ten that is at least ``value`` (and 1)."""
    if value <= 1:
        return 1.0
    decade = 10.0 ** math.floor(math.log10(value))
    return next(step * decade for step in (1, 2, 5, 10) if step * decade >= value)


class LossPlotView(QWidget):
    def __init__(self, model: AppModel, parent: QWidget | None = None, interval_ms: int = 150) -> None:
        super().__init__(parent)
        self.model = model
        self.plot = opaque_grid_plot()  # its grid is repainted at every step: keep it cheap
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
        self.following = True  # the view follows the data (see the module docstring)
        viewbox = self.plot.getPlotItem().vb
        viewbox.disableAutoRange()
        viewbox.sigRangeChangedManually.connect(self._stop_following)
        self._redraw = Throttle(self.redraw, interval_ms, self)
        model.losses_changed.connect(self._redraw.trigger)
        self.redraw()

    def redraw(self) -> None:
        history = self.model.losses
        if not len(history):
            self.following = True  # a new run starts with the view following again
            self.total_curve.setData([], [])
            for name in list(self.term_curves):
                self.legend.removeItem(self.term_curves[name])
                self.plot.removeItem(self.term_curves.pop(name))
            return
        x = np.asarray(history.iterations, dtype=np.float64)
        total = _floored(history.total)
        terms = {name: _floored(values) for name, values in sorted(history.terms.items())}
        self.total_curve.setData(x, total, connect="finite")
        new_curves = 0
        for index, (name, values) in enumerate(terms.items()):
            curve = self.term_curves.get(name)
            if curve is None:
                if new_curves == NEW_CURVES_PER_REDRAW:
                    self._redraw.trigger()  # the rest at the next redraw
                    break
                new_curves += 1
                colour = pg.intColor(index, hues=max(len(history.terms), 6), values=1, maxValue=230)
                curve = self.plot.plot(pen=pg.mkPen(colour, width=1), name=name)
                self.term_curves[name] = curve
            curve.setData(x, values, connect="finite")
        self._follow_the_data(x, np.concatenate([total, *terms.values()]))

    def _follow_the_data(self, x: np.ndarray, values: np.ndarray) -> None:
        """``values``: every plotted value (floored, NaN where a term had none)."""
        viewbox = self.plot.getPlotItem().vb
        if any(viewbox.autoRangeEnabled()):  # the "A" button: follow again, in our coarse steps
            viewbox.disableAutoRange()
            self.following = True
        if not self.following:
            return
        values = values[np.isfinite(values)]
        if not values.size:
            return
        low, high = math.floor(math.log10(values.min())), math.ceil(math.log10(values.max()))
        viewbox.setRange(xRange=(min(0.0, float(x[0])), round_up(float(x[-1]))),
                         yRange=(low, max(high, low + 1)), padding=0.02)

    def _stop_following(self, *_args) -> None:
        self.following = False

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
