"""One batch job on this machine: ``synth_to_file`` plus the batch's bookkeeping.

The in-process executor drives ``run_job`` step by step; a pool worker runs it to the
end. Either way a failure becomes a ``failed`` outcome instead of an exception, so the
other jobs go on.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from pathlib import Path

from texstudio.batch.events import JobOutcome, failed_outcome, hostname
from texstudio.batch.plan import Job
from texstudio.engine.cancel import StopToken
from texstudio.engine.render import synth_to_file
from texstudio.engine.synthesis import StepRecord


def batch_record(job: Job, host: str) -> dict:
    """The sidecar's ``batch`` key: how a rerun recognises the job as finished, and where it ran."""
    return {"batch": {"job_id": job.id, "settings": job.settings_name, "host": host}}


def run_job(job: Job, outdir: Path, stop: StopToken | None = None) -> Generator[StepRecord, None, JobOutcome]:
    """Synthesize ``job`` into ``outdir``; yields the engine's StepRecords, returns the outcome."""
    started = time.perf_counter()
    try:
        # overwrite: a file left by an unfinished earlier attempt (image without sidecar) is replaced.
        rendered = yield from synth_to_file(job.config, job.exemplar, job.image_path(outdir), init_path=job.init,
                                            bit_depth=job.bit_depth, overwrite=True, stop=stop,
                                            extra=batch_record(job, hostname()))
    except Exception as exc:  # noqa: BLE001 - one bad job must not stop the batch
        return failed_outcome(job.id, exc, time.perf_counter() - started, hostname())
    wall = time.perf_counter() - started
    if rendered.result.stopped:
        return JobOutcome(job.id, "cancelled", wall_s=round(wall, 3), host=hostname())
    return JobOutcome.from_sidecar(job.id, "done", rendered.sidecar, wall, hostname())


def run_to_end(steps: Generator):
    """Drive a generator to its end and return its value."""
    from texstudio.engine.generators import drive

    return drive(steps)
