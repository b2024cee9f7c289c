"""The Ray executor: one Ray task per job, on every GPU (or CPU) of a Ray cluster.

Ray does the scheduling; this module only submits and collects. The driver (the
machine running ``texstudio batch``) reads each exemplar once and puts it in Ray's
object store, and writes every image and sidecar itself: cluster nodes need texstudio
installed, but no shared file system with the driver. Ray is an optional extra and is
imported only here, only when this executor is chosen.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from pathlib import Path

import numpy as np

from texstudio.batch.events import BatchEvent, JobFinished, JobOutcome, failed_outcome
from texstudio.batch.plan import Job
from texstudio.batch.work import batch_record
from texstudio.engine.cancel import StopToken
from texstudio.engine.config import SynthConfig
from texstudio.engine.errors import ConfigError

# How often the driver looks at its stop token while tasks run.
POLL_S = 0.2


def import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("the ray executor needs Ray: pip install 'texstudio[ray]'") from None
    return ray


def render_task(config: SynthConfig, exemplar: np.ndarray, exemplar_info: dict,
                init: np.ndarray | None) -> dict:
    """Runs on a Ray worker: synthesize and measure; errors come back as text, not exceptions."""
    import time as clock

    from texstudio.batch.events import describe_error, hostname, traceback_text
    from texstudio.batch.work import run_to_end
    from texstudio.engine.errors import TexstudioError
    from texstudio.engine.render import render

    started = clock.perf_counter()
    # Arrays from the object store are read-only views; torch wants its own memory.
    exemplar = np.array(exemplar)
    init = None if init is None else np.array(init)
    try:
        rendered = run_to_end(render(config, exemplar, exemplar_info, init))
    except Exception as exc:  # noqa: BLE001 - reported as this job's failure
        return {"error": describe_error(exc), "details": "" if isinstance(exc, TexstudioError) else traceback_text(exc),
                "host": hostname(), "wall_s": clock.perf_counter() - started}
    return {"image": rendered.result.image, "sidecar": rendered.sidecar, "host": hostname(),
            "wall_s": clock.perf_counter() - started}


class _Inputs:
    """Exemplars and init images, read once by the driver and shared through the object store."""

    def __init__(self, ray) -> None:
        self._ray = ray
        self._exemplars: dict[tuple[Path, int], tuple] = {}
        self._inits: dict[Path, object] = {}

    def for_job(self, job: Job):
        from texstudio.engine.imageio import load_image, resize_longest_side
        from texstudio.engine.render import describe_exemplar

        key = (job.exemplar.resolve(), job.config.exemplar_size)
        if key not in self._exemplars:
            image = load_image(job.exemplar)
            info = describe_exemplar(job.exemplar, image)
            # Shrunk here as the engine would shrink it: less to ship to every node.
            self._exemplars[key] = (self._ray.put(resize_longest_side(image, job.config.exemplar_size)), info)
        exemplar_ref, info = self._exemplars[key]
        init_ref = None
        if job.init is not None:
            if job.init not in self._inits:
                self._inits[job.init] = self._ray.put(load_image(job.init))
            init_ref = self._inits[job.init]
        return exemplar_ref, info, init_ref


def run_ray(items: list[tuple[int, Job]], outdir: Path, stop: StopToken | None = None,
            address: str | None = None) -> Generator[BatchEvent, None, None]:
    """Submit every job as a Ray task and yield JobFinished as results come back.

    Uses the Ray instance this process is already connected to; else connects to
    ``address`` (``auto``, ``ray://host:10001``, ...) or, without one, starts a local
    instance, and shuts down only what it started.
    """
    ray = import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        if address:
            ray.init(address=address)
        else:
            ray.init(include_dashboard=False)
    tasks: dict = {}
    try:
        gpus = ray.cluster_resources().get("GPU", 0)
        remote = ray.remote(render_task)
        inputs = _Inputs(ray)
        for index, job in items:
            try:
                if job.config.device == "cuda" and gpus < 1:
                    raise ConfigError("device 'cuda' was asked for but the Ray cluster has no GPU")
                exemplar_ref, info, init_ref = inputs.for_job(job)
            except Exception as exc:  # noqa: BLE001 - an unreadable exemplar fails its jobs only
                yield JobFinished(index, job, failed_outcome(job.id, exc))
                continue
            on_gpu = job.config.device in ("auto", "cuda") and gpus >= 1
            # One GPU per task when the cluster has them: Ray sets CUDA_VISIBLE_DEVICES for the task.
            ref = remote.options(num_cpus=1, num_gpus=1 if on_gpu else 0).remote(
                job.config, exemplar_ref, info, init_ref)
            tasks[ref] = (index, job)
        pending = list(tasks)
        while pending:
            if stop is not None and stop.is_set():
                break
            ready, pending = ray.wait(pending, num_returns=len(pending), timeout=POLL_S)
            for ref in sorted(ready, key=lambda r: tasks[r][0]):
                index, job = tasks.pop(ref)
                yield JobFinished(index, job, _collect(ray, ref, job, outdir))
    finally:
        for ref in tasks:
            ray.cancel(ref)  # queued tasks are dropped, running ones interrupted
        if started_here:
            ray.shutdown()
    for ref, (index, job) in list(tasks.items()):  # stopped: what had not come back is cancelled
        yield JobFinished(index, job, JobOutcome(job.id, "cancelled"))


def _collect(ray, ref, job: Job, outdir: Path) -> JobOutcome:
    """Fetch one task's result and write its files here, on the driver."""
    from texstudio.engine.render import write_result

    started = time.perf_counter()
    try:
        value = ray.get(ref)
    except Exception as exc:  # noqa: BLE001 - the task or its worker died (node lost, killed)
        return failed_outcome(job.id, exc)
    if "error" in value:
        return JobOutcome(job.id, "failed", error=value["error"], details=value["details"],
                          wall_s=round(value["wall_s"], 3), host=value["host"])
    try:
        write_result(job.image_path(outdir), value["image"], value["sidecar"], job.bit_depth, overwrite=True,
                     extra=batch_record(job, value["host"]))
    except Exception as exc:  # noqa: BLE001 - e.g. the disk is full: this job failed, others may not
        return failed_outcome(job.id, exc, host=value["host"])
    wall = value["wall_s"] + time.perf_counter() - started
    return JobOutcome.from_sidecar(job.id, "done", value["sidecar"], wall, value["host"])
