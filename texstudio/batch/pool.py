"""The local-pool executor: ``concurrent.futures`` processes, one per CUDA GPU, or one on CPU.

Workers are spawned, not forked: a forked child of a process that has touched CUDA (or
torch's thread pools) can hang. Each worker takes one GPU id from a queue when it starts
and sees only that GPU. Ctrl-C is the parent's business: workers ignore SIGINT, and the
parent turns a stop into an event that running jobs check between two steps.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Generator
from pathlib import Path

from texstudio.batch.events import BatchEvent, JobFinished, JobOutcome, failed_outcome
from texstudio.batch.plan import Job
from texstudio.engine.cancel import StopToken

# How often the parent looks at its stop token while jobs run.
POLL_S = 0.2

_worker_stop = None  # this worker process's view of the pool's stop event


class _EventToken:
    """A StopToken over a multiprocessing Event, which is what ``synthesize`` polls."""

    def __init__(self, event) -> None:
        self._event = event

    def is_set(self) -> bool:
        return self._event.is_set()


def _init_worker(device_ids, stop_event) -> None:
    global _worker_stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    device = device_ids.get()
    if device is not None:
        # Before this process first touches CUDA, so "cuda" means this GPU and no other.
        os.environ["CUDA_VISIBLE_DEVICES"] = str(device)
    _worker_stop = stop_event


def _run_in_worker(job: Job, outdir: Path) -> JobOutcome:
    from texstudio.batch.work import run_job, run_to_end

    return run_to_end(run_job(job, outdir, _EventToken(_worker_stop)))


def pool_devices(jobs: list[Job]) -> list[int | None]:
    """One entry per worker: a CUDA device index each, or a single None (CPU or MPS)."""
    import torch

    wants_gpu = any(job.config.device in ("auto", "cuda") for job in jobs)
    if wants_gpu and torch.cuda.is_available():
        return list(range(torch.cuda.device_count()))
    return [None]


def run_pool(items: list[tuple[int, Job]], outdir: Path,
             stop: StopToken | None = None) -> Generator[BatchEvent, None, None]:
    """Run the jobs in worker processes; yields JobFinished as each one ends."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    context = multiprocessing.get_context("spawn")
    devices = pool_devices([job for _, job in items])
    device_ids = context.SimpleQueue()
    for device in devices:
        device_ids.put(device)
    stop_event = context.Event()
    pool = ProcessPoolExecutor(max_workers=len(devices), mp_context=context, initializer=_init_worker,
                               initargs=(device_ids, stop_event))
    futures = {pool.submit(_run_in_worker, job, outdir): (index, job) for index, job in items}
    pending = set(futures)
    try:
        while pending:
            if stop is not None and stop.is_set():
                stop_event.set()
                for future in pending:
                    future.cancel()  # those not started yet; running ones see the event
            done, pending = wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: futures[f][0]):
                index, job = futures[future]
                yield JobFinished(index, job, _outcome(future, job))
    finally:
        if pending:  # left early (an exception, or the consumer closed us): stop the workers' jobs
            stop_event.set()
        pool.shutdown(wait=True, cancel_futures=True)


def _outcome(future, job: Job) -> JobOutcome:
    if future.cancelled():
        return JobOutcome(job.id, "cancelled")
    exc = future.exception()
    if exc is not None:  # the worker itself broke (killed, out of memory); the job's own errors are outcomes
        return failed_outcome(job.id, exc)
    return future.result()
