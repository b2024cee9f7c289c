"""Driving the engine's progress generators when no one needs to interleave other work."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TypeVar

Result = TypeVar("Result")


def drive(steps: Generator[object, None, Result], on_item: Callable[[object], None] | None = None) -> Result:
    """Run ``steps`` to its end, calling ``on_item`` for every item it yields; return its return value.

    The engine's long loops (synthesis, training, downloads, batches) are generators that
    yield progress and *return* their result; this is the one place that collects it.
    """
    while True:
        try:
            item = next(steps)
        except StopIteration as finished:
            return finished.value
        if on_item is not None:
            on_item(item)


def mapped(steps: Generator[object, None, Result], convert: Callable[[object], object]) -> Generator[object, None, Result]:
    """``steps`` with every item it yields passed through ``convert``; returns what ``steps`` returns.

    For a loop that reports in its own terms inside a larger one: ``value = yield from
    mapped(inner, to_outer_record)``.
    """
    while True:
        try:
            item = next(steps)
        except StopIteration as finished:
            return finished.value
        yield convert(item)
