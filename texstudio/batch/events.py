"""What a batch reports: per-job outcomes and the events every executor yields.

Plain dataclasses of numbers and text: they cross threads (GUI worker), processes
(pool) and machines (Ray) as they are.
"""

from __future__ import annotations

import socket
import traceback
from dataclasses import dataclass, field

from texstudio.batch.plan import Job
from texstudio.engine.errors import TexstudioError

# done: finished in this run; skipped: finished by an earlier run (resume); failed: see
# error; cancelled: stopped or never started because the batch was stopped.
STATUSES = ("done", "skipped", "failed", "cancelled")


@dataclass
class JobOutcome:
    job_id: str
    status: str
    error: str = ""  # one line for the user
    details: str = ""  # a traceback, for errors that are bugs rather than bad input
    wall_s: float | None = None  # this run's wall time for the job: load, synthesis, metrics, write
    synth_s: float | None = None  # the synthesis alone, as the sidecar records it
    iterations: int | None = None
    device: str = ""
    host: str = ""
    final_loss: float | None = None
    quality: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_sidecar(cls, job_id: str, status: str, data: dict, wall_s: float | None = None,
                     host: str = "") -> JobOutcome:
        losses = data.get("final_losses") or {}
        return cls(
            job_id=job_id, status=status, wall_s=None if wall_s is None else round(wall_s, 3),
            synth_s=data.get("elapsed_s"), iterations=data.get("iterations"), device=data.get("device", ""),
            host=host, final_loss=round(float(sum(losses.values())), 6) if losses else None,
            quality=dict(data.get("quality") or {}),
        )


def failed_outcome(job_id: str, exc: BaseException, wall_s: float | None = None, host: str = "") -> JobOutcome:
    return JobOutcome(job_id, "failed", error=describe_error(exc),
                      details="" if isinstance(exc, TexstudioError) else traceback_text(exc),
                      wall_s=None if wall_s is None else round(wall_s, 3), host=host)


def describe_error(exc: BaseException) -> str:
    """One line about a failed job: the message of errors meant for the user, else the type too."""
    if isinstance(exc, TexstudioError):
        return str(exc)
    if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
        return "out of memory; try a smaller size, a smaller L-BFGS history or the adam optimizer"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"unexpected error: {type(exc).__name__}{': ' + text[:300] if text else ''}"


def traceback_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def hostname() -> str:
    return socket.gethostname()


@dataclass(frozen=True)
class JobStarted:
    index: int  # position in the plan
    job: Job


@dataclass(frozen=True)
class JobProgressed:
    """A step of the running job (in-process executor only)."""

    index: int
    iteration: int
    total_steps: int
    loss: float


@dataclass(frozen=True)
class JobFinished:
    index: int
    job: Job
    outcome: JobOutcome


BatchEvent = JobStarted | JobProgressed | JobFinished
