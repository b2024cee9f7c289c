"""A minimal Qt-free observer: the model announces changes, widgets listen.

The model must not import Qt (it is tested headless), so it cannot use Qt signals.
Callbacks run synchronously in the caller's thread; the GUI only mutates the model
from the GUI thread (worker results arrive through queued Qt signals first).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Event:
    """A list of callbacks called in connection order by ``emit``."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> None:
        self._callbacks.append(callback)

    def disconnect(self, callback: Callable[..., Any]) -> None:
        self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        for callback in list(self._callbacks):
            callback(*args)
