"""Coalesce bursts of model changes into at most one redraw per interval."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer


class Throttle(QObject):
    """``trigger()`` often; ``callback`` runs once, ``interval_ms`` after the first trigger.

    pyqtgraph redraws cost far more than the copies that feed them (NOTES.md), so views
    redraw from this timer rather than on every record.
    """

    def __init__(self, callback: Callable[[], None], interval_ms: int = 100, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._callback = callback
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._callback)

    def trigger(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Run a pending callback now (tests, and before a screenshot)."""
        if self._timer.isActive():
            self._timer.stop()
            self._callback()

    def cancel(self) -> None:
        """Drop a pending call (the owner is closing)."""
        self._timer.stop()
