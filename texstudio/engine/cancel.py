"""Cooperative, Qt-free cancellation shared by the CLI, the tests and the GUI worker."""

import threading


class StopToken:
    """Set from any thread (e.g. a Stop button's direct call); loops poll it each iteration.

    A plain ``threading.Event`` and not a Qt signal: a queued signal never reaches a
    worker whose loop is busy (see shared/NOTES.md).
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def clear(self) -> None:
        self._event.clear()
