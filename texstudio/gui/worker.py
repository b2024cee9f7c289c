"""Run an engine generator in a QThread: pause, stop, throttled snapshots, readable errors.

The pattern (shared/NOTES.md): the worker is a QObject moved to its own QThread; Stop
sets a ``StopToken`` by a direct call (a queued signal would never reach a busy loop);
pause blocks the loop on a ``threading.Event`` between two yields; the GUI-side
``Task`` re-emits the worker's signals in the GUI thread and joins the thread with
``quit()`` then ``wait()`` itself, never through ``finished -> quit``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Generator

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from texstudio.engine.cancel import StopToken
from texstudio.engine.errors import TexstudioError, is_out_of_memory

log = logging.getLogger(__name__)

# Fields of yielded records that carry images: dropped when they come too fast to show.
HEAVY_FIELDS = ("preview", "grams", "image")
_tasks: "weakref.WeakSet[Task]" = weakref.WeakSet()


def running_threads() -> list[QThread]:
    """Threads of every Task that are still running (tests fail on any left over)."""
    return [task.thread for task in list(_tasks) if task.thread is not None and task.thread.isRunning()]


def user_message(exc: BaseException) -> str:
    """What to tell the user about an exception from the worker: short, no traceback."""
    if isinstance(exc, TexstudioError):
        return str(exc)
    if is_out_of_memory(exc):
        return "Out of memory. Try a smaller output size, fewer or shallower layers, or the Adam optimiser."
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"Unexpected error ({type(exc).__name__}){': ' + text[:300] if text else ''}. Details are in the log."


class GeneratorWorker(QObject):
    """Iterates a generator in its thread; emits every item (thinned) and the return value."""

    yielded = Signal(object)
    paused = Signal()  # the loop is now blocked between two steps
    finished = Signal(object)
    failed = Signal(str, str)  # user message, traceback for the details pane

    def __init__(self, make_generator: Callable[[StopToken], Generator], stop: StopToken,
                 resume: threading.Event, min_interval: float) -> None:
        super().__init__()
        self._make_generator = make_generator
        self._stop = stop
        self._resume = resume
        self._min_interval = min_interval
        self._last_heavy = -float("inf")

    @Slot()
    def run(self) -> None:
        import torch

        # Thread count and grad mode are set here on purpose: grad mode is per thread.
        torch.set_num_threads(max(1, os.cpu_count() or 1))
        torch.set_grad_enabled(True)
        try:
            generator = self._make_generator(self._stop)
            while True:
                if not self._resume.is_set():
                    self.paused.emit()
                    self._resume.wait()  # Stop sets it too, so a paused run can be stopped
                try:
                    item = next(generator)
                except StopIteration as done:
                    self.finished.emit(done.value)
                    return
                self.yielded.emit(self._snapshot(item))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message, never a crash
            log.exception("worker failed")
            salvaged = getattr(exc, "result", None)
            if salvaged is not None:
                # What the run saved before failing (a NaN rollback's canvas, already a copy)
                # arrives like any item, never thinned, before the failure.
                self.yielded.emit(salvaged)
            self.failed.emit(user_message(exc), traceback.format_exc())

    def _snapshot(self, item):
        """Copy the arrays (signals hand over the same object) or drop them if too frequent."""
        if not dataclasses.is_dataclass(item):
            return item
        heavy = {name: getattr(item, name) for name in HEAVY_FIELDS
                 if getattr(item, name, None) is not None}
        if not heavy:
            return item
        now = time.perf_counter()
        # A level's first record carries its target Grams; the last one the final canvas.
        first = getattr(item, "target_grams", None) is not None
        last = getattr(item, "iteration", 0) == getattr(item, "total_steps", -1)
        if not (first or last) and now - self._last_heavy < self._min_interval:
            return dataclasses.replace(item, **{name: None for name in heavy})
        self._last_heavy = now
        return dataclasses.replace(item, **{name: _copy(value) for name, value in heavy.items()})


def _copy(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


class Task(QObject):
    """One job in one worker thread, seen from the GUI thread. Signals arrive in the GUI thread."""

    progressed = Signal(object)
    paused = Signal()  # the worker has reached the pause: every step before it was delivered
    finished = Signal(object)
    failed = Signal(str, str)

    def __init__(self, make_generator: Callable[[StopToken], Generator], name: str = "task",
                 min_interval: float = 0.1, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.stop_token = StopToken()
        self._resume = threading.Event()
        self._resume.set()
        self.thread: QThread | None = QThread()
        self.thread.setObjectName(f"texstudio-{name}")
        self._worker = GeneratorWorker(make_generator, self.stop_token, self._resume, min_interval)
        self._worker.moveToThread(self.thread)
        self.thread.started.connect(self._worker.run)
        # Queued: the worker emits from its thread, these slots run in the GUI thread.
        self._worker.yielded.connect(self._on_yielded)
        self._worker.paused.connect(self._on_paused)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._done = False
        _tasks.add(self)

    def start(self) -> None:
        self.thread.start()

    @property
    def done(self) -> bool:
        return self._done

    @property
    def is_paused(self) -> bool:
        return not self._resume.is_set()

    def pause(self) -> None:
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    def stop(self) -> None:
        """Ask the loop to stop at its next yield; returns at once (``finished`` follows)."""
        self.stop_token.set()
        self._resume.set()

    def shutdown(self) -> None:
        """Stop and join now, from the GUI thread (window closing); later signals are dropped."""
        self.stop()
        self._join()
        self._done = True

    def _join(self) -> None:
        if self.thread is not None:
            self.thread.quit()
            self.thread.wait()

    @Slot(object)
    def _on_yielded(self, item) -> None:
        if not self._done:
            self.progressed.emit(item)

    @Slot()
    def _on_paused(self) -> None:
        if not self._done:
            self.paused.emit()

    @Slot(object)
    def _on_finished(self, value) -> None:
        if self._done:
            return
        self._join()
        self._done = True
        self.finished.emit(value)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        if self._done:
            return
        self._join()
        self._done = True
        self.failed.emit(message, details)
