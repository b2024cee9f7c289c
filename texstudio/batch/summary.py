"""The batch report: one row per job, written as ``summary.csv`` and ``summary.json``.

Rewritten whole at the end of every run (and of an interrupted one), atomically, so it
always describes the folder: jobs skipped because an earlier run finished them are
listed with the timings and metrics their sidecars recorded.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from texstudio.batch.events import STATUSES, JobOutcome
from texstudio.batch.plan import BatchPlan
from texstudio.engine.imageio import write_sidecar, write_text

QUALITY = ("color_distance", "spectrum_distance", "patch_distance", "copy_fraction", "seam_score")
COLUMNS = ("job_id", "status", "exemplar", "settings", "width", "height", "seed", "steps", "image",
           "wall_s", "synth_s", "iterations", "device", "host", "final_loss", *QUALITY, "error")
CSV_NAME, JSON_NAME = "summary.csv", "summary.json"


@dataclass
class BatchSummary:
    rows: list[dict]
    counts: dict[str, int]  # status -> jobs
    wall_s: float
    csv_path: Path
    json_path: Path

    @property
    def failed(self) -> list[dict]:
        return [row for row in self.rows if row["status"] == "failed"]

    def describe(self) -> str:
        """``4 jobs: 2 done, 1 skipped, 1 failed`` (statuses with no job left out)."""
        parts = [f"{self.counts[s]} {s}" for s in STATUSES if self.counts.get(s)]
        return f"{len(self.rows)} job{'s' if len(self.rows) != 1 else ''}: {', '.join(parts) or 'none'}"


def summary_rows(plan: BatchPlan, outcomes: dict[int, JobOutcome]) -> list[dict]:
    """A row per planned job; a job with no outcome (the batch stopped first) is cancelled."""
    rows = []
    for index, job in enumerate(plan.jobs):
        outcome = outcomes.get(index) or JobOutcome(job.id, "cancelled")
        row = {
            "job_id": job.id, "status": outcome.status, "exemplar": str(job.exemplar),
            "settings": job.settings_name, "width": job.config.width, "height": job.config.height,
            "seed": job.config.seed, "steps": job.config.steps,
            "image": job.image_name if outcome.status in ("done", "skipped") else "",
            "wall_s": outcome.wall_s, "synth_s": outcome.synth_s, "iterations": outcome.iterations,
            "device": outcome.device, "host": outcome.host, "final_loss": outcome.final_loss,
            **{name: outcome.quality.get(name) for name in QUALITY},
            "error": outcome.error,
        }
        if outcome.details:
            row["details"] = outcome.details
        rows.append(row)
    return rows


def write_summary(plan: BatchPlan, outcomes: dict[int, JobOutcome], executor: str, started: datetime,
                  wall_s: float) -> BatchSummary:
    """Write summary.csv and summary.json into the batch's folder; returns what they say."""
    rows = summary_rows(plan, outcomes)
    counts = {status: sum(row["status"] == status for row in rows) for status in STATUSES}
    csv_path, json_path = plan.outdir / CSV_NAME, plan.outdir / JSON_NAME
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    # Empty cells, not "None", for what a job did not get to measure.
    writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    write_text(csv_path, buffer.getvalue(), overwrite=True)
    from texstudio import __version__

    write_sidecar(json_path, {
        "texstudio_version": __version__, "spec": plan.source, "executor": executor,
        "started": started.astimezone(timezone.utc).isoformat(timespec="seconds"),
        "wall_s": round(wall_s, 3), "counts": counts, "jobs": rows,
    }, overwrite=True)
    return BatchSummary(rows, counts, wall_s, csv_path, json_path)
