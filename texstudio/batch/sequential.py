"""The in-process executor: one job after another, every step reported, stoppable."""

from __future__ import annotations

from collections.abc import Generator, Iterable
from pathlib import Path

from texstudio.batch.events import BatchEvent, JobFinished, JobOutcome, JobProgressed, JobStarted
from texstudio.batch.plan import Job
from texstudio.batch.work import run_job
from texstudio.engine.cancel import StopToken


def run_sequential(items: Iterable[tuple[int, Job]], outdir: Path,
                   stop: StopToken | None = None) -> Generator[BatchEvent, None, None]:
    """Run ``(index, job)`` pairs in order; after a stop, the rest are reported cancelled."""
    for index, job in items:
        if stop is not None and stop.is_set():
            yield JobFinished(index, job, JobOutcome(job.id, "cancelled"))
            continue
        yield JobStarted(index, job)
        steps = run_job(job, outdir, stop)
        while True:
            try:
                record = next(steps)
            except StopIteration as finished:
                outcome = finished.value
                break
            # The engine's records carry preview arrays; only numbers travel on.
            yield JobProgressed(index, record.iteration, record.total_steps, record.loss)
        yield JobFinished(index, job, outcome)
