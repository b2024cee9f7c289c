"""Run a planned batch: skip what is finished, hand the rest to an executor, write the summary."""

from __future__ import annotations

import time
from collections.abc import Generator
from contextlib import closing
from datetime import datetime

from texstudio.batch.events import BatchEvent, JobFinished, JobOutcome
from texstudio.batch.plan import BatchPlan, finished_sidecar
from texstudio.batch.summary import BatchSummary, write_summary
from texstudio.engine.cancel import StopToken
from texstudio.engine.errors import ConfigError, ExportError

EXECUTORS = ("sequential", "pool", "ray")


def run_batch(plan: BatchPlan, executor: str = "sequential", stop: StopToken | None = None,
              ray_address: str | None = None, rerun: bool = False) -> Generator[BatchEvent, None, BatchSummary]:
    """Yield the events of every job of ``plan``; return the summary, written to disk.

    Jobs an earlier run finished are reported ``skipped`` first, unless ``rerun``. The
    summary is written however the run ends (finished, stopped, interrupted by an
    exception), so it always lists every job with its state.
    """
    if executor not in EXECUTORS:
        raise ConfigError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if executor == "ray":
        from texstudio.batch.ray_executor import import_ray

        import_ray()  # a missing extra is bad input: say so before any work
    try:
        plan.outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create {plan.outdir}: {exc.strerror or exc}") from None
    started_at, started = datetime.now().astimezone(), time.perf_counter()
    outcomes: dict[int, JobOutcome] = {}
    try:
        todo = []
        hashes: dict = {}
        for index, job in enumerate(plan.jobs):
            done = None if rerun else finished_sidecar(job, plan.outdir, hashes)
            if done is None:
                todo.append((index, job))
                continue
            outcomes[index] = JobOutcome.from_sidecar(job.id, "skipped", done, host=done["batch"].get("host", ""))
            yield JobFinished(index, job, outcomes[index])
        if stop is not None and stop.is_set():
            for index, job in todo:
                outcomes[index] = JobOutcome(job.id, "cancelled")
                yield JobFinished(index, job, outcomes[index])
        elif todo:
            # closing(): an executor's own clean-up (pool shutdown, Ray task cancel) runs even
            # when our consumer stops early or an exception passes through.
            with closing(_executor(executor, todo, plan, stop, ray_address)) as events:
                for event in events:
                    if isinstance(event, JobFinished):
                        outcomes[event.index] = event.outcome
                    yield event
    finally:
        summary = write_summary(plan, outcomes, executor, started_at, time.perf_counter() - started)
    return summary


def _executor(name: str, todo, plan: BatchPlan, stop, ray_address):
    if name == "pool":
        from texstudio.batch.pool import run_pool

        return run_pool(todo, plan.outdir, stop)
    if name == "ray":
        from texstudio.batch.ray_executor import run_ray

        return run_ray(todo, plan.outdir, stop, ray_address)
    from texstudio.batch.sequential import run_sequential

    return run_sequential(todo, plan.outdir, stop)


def drive(steps: Generator[BatchEvent, None, BatchSummary], on_event=None) -> BatchSummary:
    """Run ``run_batch`` to the end, calling ``on_event(event)`` for each event."""
    from texstudio.engine.generators import drive as drive_generator

    return drive_generator(steps, on_event)
