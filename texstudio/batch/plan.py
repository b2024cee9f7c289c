"""Turn a BatchSpec into jobs with ids that stay the same from run to run.

A job id names its output files, so a rerun finds what an earlier run finished:
``<exemplar stem>_<W>x<H>_seed<S>_<hash>``, where the hash covers every setting that
changes the image except the device (a job finished on the CPU is finished for a GPU
run too) and the preview interval (which changes nothing written).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from texstudio.batch.spec import BatchSpec, read_spec
from texstudio.engine.config import SynthConfig, with_hand_layout
from texstudio.engine.errors import ConfigError
from texstudio.engine.imageio import sidecar_path

FORMATS = {"png": ".png", "tif": ".tif"}
# Fields left out of the id hash: see the module docstring; size and seed are in the id itself.
UNHASHED = ("device", "preview_every", "seed", "width", "height")


@dataclass(frozen=True)
class Job:
    """One synthesis of the batch: an exemplar file, full settings, and where it goes."""

    id: str
    exemplar: Path
    config: SynthConfig
    settings_name: str = ""
    init: Path | None = None
    bit_depth: int = 8
    suffix: str = ".png"

    @property
    def image_name(self) -> str:
        return f"{self.id}{self.suffix}"

    def image_path(self, outdir: Path) -> Path:
        return Path(outdir) / self.image_name

    def sidecar_path(self, outdir: Path) -> Path:
        return sidecar_path(self.image_path(outdir))


@dataclass(frozen=True)
class BatchPlan:
    jobs: tuple[Job, ...]
    outdir: Path
    source: str  # the SPEC as given, for the summary


def job_id(exemplar: Path, config: SynthConfig, init: Path | None, bit_depth: int, suffix: str) -> str:
    identity = {k: v for k, v in config.to_dict().items() if k not in UNHASHED}
    identity.update(bit_depth=bit_depth, format=suffix, init=str(init.resolve()) if init else None)
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:8]
    # File-system safe everywhere; the hash, not the stem, keeps ids apart.
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", exemplar.stem).strip("-.") or "exemplar"
    return f"{stem}_{config.width}x{config.height}_seed{config.seed}_{digest}"


def make_plan(spec: BatchSpec, outdir: str | Path, base: SynthConfig, *, variations: int | None = None,
              keep_exemplar_size: bool = False, init: str | Path | None = None, bit_depth: int = 8,
              image_format: str = "png") -> BatchPlan:
    """Every job of ``spec``: exemplars x settings x sizes x seeds, in that order.

    ``base`` holds the command line's (or GUI's) settings; each settings entry of the
    spec overrides them. Seeds are the spec's, else ``base.seed`` and the next
    ``variations - 1``. Unless ``keep_exemplar_size`` (the user chose one), the
    exemplar is shrunk to each size's longer side, as a single synth run does.
    """
    if image_format not in FORMATS:
        raise ConfigError(f"format must be one of {', '.join(FORMATS)}, got {image_format!r}")
    if bit_depth not in (8, 16):
        raise ConfigError(f"bit depth must be 8 or 16, got {bit_depth}")
    suffix = FORMATS[image_format]
    init_path = Path(init).expanduser() if init else None
    count = spec.variations or variations or 1
    if count < 1:
        raise ConfigError(f"variations must be 1 or more, got {count}")
    seeds = spec.seeds or tuple(range(base.seed, base.seed + count))
    sizes = spec.sizes or ((base.width, base.height),)

    jobs: dict[str, Job] = {}
    for exemplar in spec.exemplars:
        for entry in spec.settings:
            try:
                settings = base.replace(**with_hand_layout(entry.changes))
            except ConfigError as exc:
                raise ConfigError(f"settings '{entry.name}': {exc}") from None
            except TypeError as exc:  # a wrong value type the dataclass checks did not catch
                raise ConfigError(f"settings '{entry.name}': {exc}") from None
            own_size = keep_exemplar_size or "exemplar_size" in entry.changes
            for width, height in sizes:
                for seed in seeds:
                    changes = {"width": width, "height": height, "seed": seed, "preview_every": 0}
                    if not own_size:
                        changes["exemplar_size"] = max(width, height)
                    try:
                        config = settings.replace(**changes)
                    except ConfigError as exc:
                        raise ConfigError(f"size {width}x{height}: {exc}") from None
                    job = Job(job_id(exemplar, config, init_path, bit_depth, suffix), exemplar, config,
                              entry.name, init_path, bit_depth, suffix)
                    _add(jobs, job)
    return BatchPlan(tuple(jobs.values()), Path(outdir).expanduser(), str(spec.source))


def _add(jobs: dict[str, Job], job: Job) -> None:
    other = jobs.get(job.id)
    if other is None:
        jobs[job.id] = job
    elif other.exemplar.resolve() != job.exemplar.resolve():
        raise ConfigError(f"{other.exemplar} and {job.exemplar} would both write {job.image_name}; "
                          "give the exemplars different file names")
    # Else the same exemplar was listed twice (say, a folder and a file in it): one job.


def plan_batch(source: str | Path, outdir: str | Path, base: SynthConfig, **options) -> BatchPlan:
    """``make_plan(read_spec(source), ...)``: a folder or a job file to its jobs."""
    return make_plan(read_spec(source), outdir, base, **options)


def finished_sidecar(job: Job, outdir: Path, exemplar_hashes: dict[Path, str | None]) -> dict | None:
    """The sidecar of a job an earlier run finished, or None if the job must run.

    Finished means: the image and its sidecar are both there (each written atomically,
    the sidecar last), the sidecar names this job, and the exemplar file has not changed
    since. ``exemplar_hashes`` caches file hashes across the jobs of one check.
    """
    image, sidecar = job.image_path(outdir), job.sidecar_path(outdir)
    if not (image.is_file() and sidecar.is_file()):
        return None
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        recorded_id = data["batch"]["job_id"]
        recorded_hash = data["exemplar"]["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # unreadable or not ours: run the job again and replace it
    if recorded_id != job.id:
        return None
    return data if recorded_hash == _exemplar_hash(job.exemplar, exemplar_hashes) else None


def _exemplar_hash(path: Path, cache: dict[Path, str | None]) -> str | None:
    if path not in cache:
        from texstudio.engine.download import sha256_of

        try:
            cache[path] = sha256_of(path)
        except OSError:
            cache[path] = None  # gone or unreadable: the job runs and reports why
    return cache[path]
