"""The quality report of the current result, beside the preview (engine/metrics.py's numbers)."""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

from texstudio.engine.metrics import problems
from texstudio.gui.model import AppModel, RunState

# key -> (label, what it measures); which values are flagged: engine/metrics.py's problems
METRICS = {
    "color_distance": ("Colour", "Distance between the colour distributions of result and exemplar "
                       "(sliced Wasserstein, 0 = identical palettes)."),
    "spectrum_distance": ("Spectrum", "Gap between radially averaged log power spectra, in decades: how far "
                          "the mix of fine and coarse detail differs (0 = same)."),
    "patch_distance": ("Patches", "Distance between the distributions of small patches at three scales: "
                       "the number closest to 'looks like the exemplar' (lower is better)."),
    "copy_fraction": ("Copied", "Share of the result's patches that are near-verbatim copies of exemplar "
                      "patches, at full, half and quarter scale: patches that match one place in the "
                      "exemplar much better than any other (0 = nothing copied)."),
    "seam_score": ("Seam", "Step across the wrap-around edges relative to the texture's own strongest "
                   "lines: 1 or less for a seamless tile (tileable runs only)."),
}


class QualityView(QWidget):
    """Numbers for the finished result; flagged in words where they mean a visible problem."""

    def __init__(self, model: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.title = QLabel("<b>Quality</b>")
        self.status = QLabel("Scored when a run ends.")
        self.status.setWordWrap(True)
        self.values: dict[str, QLabel] = {}
        form = QFormLayout()
        for key, (label, tip) in METRICS.items():
            value = QLabel("–")
            value.setToolTip(tip)
            name = QLabel(label)
            name.setToolTip(tip)
            form.addRow(name, value)
            self.values[key] = value
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.setMinimumWidth(130)
        model.result_changed.connect(self._on_result_changed)
        model.progress_changed.connect(self._on_progress)
        self._on_result_changed()

    def _on_progress(self) -> None:
        # The report is computed after the last step, in the worker; on a large result its
        # copy search takes seconds (docs/copy_metric/timing.md), with the bar already full.
        progress = self.model.progress
        if self.model.run_state is RunState.RUNNING and 0 < progress.total <= progress.iteration:
            self.status.setText("Scoring the result…")

    def report(self) -> dict[str, float] | None:
        result = self.model.result
        return getattr(result, "quality", None) if result is not None else None

    def _on_result_changed(self) -> None:
        report = self.report()
        if report is None:
            for value in self.values.values():
                value.setText("–")
            self.status.setText("Scored when a run ends." if self.model.result is None
                                else "This result was not scored.")
            return
        found = problems(report)
        for key, label in self.values.items():
            number = report.get(key)
            if number is None:
                label.setText("–")
                label.setStyleSheet("")
                continue
            label.setText(f"{number:.0%}" if key == "copy_fraction" else f"{number:.3f}")
            label.setStyleSheet("color: #c0392b; font-weight: bold;" if key in found else "")
        self.status.setText("Warning: " + "; ".join(found.values()) + "." if found
                            else "No copying found" + (", seamless." if "seam_score" in report else "."))
