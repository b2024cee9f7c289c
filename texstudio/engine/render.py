"""One synthesis from an exemplar file to an image file: load, learn, measure, write.

``texstudio synth`` runs one of these; a batch runs one per job, in-process or in a
worker. It is a generator like ``synthesize`` (whose StepRecords it passes on), so the
same progress bar and stop token work for both.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from texstudio.engine.cancel import StopToken
from texstudio.engine.config import SynthConfig
from texstudio.engine.errors import ExportError
from texstudio.engine.imageio import MIN_EXEMPLAR_SIDE, load_image, save_image, sidecar_path, write_sidecar
from texstudio.engine.synthesis import StepRecord, SynthResult, score, synthesize


@dataclass
class Rendered:
    """A finished (or stopped) synthesis and the sidecar that goes beside its image."""

    result: SynthResult
    sidecar: dict


def describe_exemplar(path: str | Path, image: np.ndarray) -> dict:
    """What the sidecar records about the exemplar: enough to tell whether it changed."""
    from texstudio.engine.download import sha256_of

    path = Path(path)
    return {"path": str(path.resolve()), "sha256": sha256_of(path),
            "size": [int(image.shape[1]), int(image.shape[0])]}


def render(config: SynthConfig, exemplar: np.ndarray, exemplar_info: dict, init: np.ndarray | None = None,
           stop: StopToken | None = None) -> Generator[StepRecord, None, Rendered]:
    """Synthesize and build the sidecar; the quality report is skipped for a stopped run."""
    result = yield from synthesize(config, exemplar, stop, init)
    if not result.stopped:  # a stopped run is not written, so it is not measured either
        score(result, exemplar)
    data = result.sidecar()  # carries the quality report when there is one
    data["exemplar"] = exemplar_info
    return Rendered(result, data)


def save_outputs(out: Path, sidecar: Path, image, data: dict, bit_depth: int, overwrite: bool) -> None:
    """Write the image and its sidecar; if the sidecar fails, a new image is taken back."""
    existed = out.exists()
    try:
        save_image(out, image, bit_depth=bit_depth, overwrite=overwrite)
        try:
            write_sidecar(sidecar, data, overwrite=overwrite)
        except BaseException:
            if not existed:
                out.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ExportError(f"could not write {out}: {exc.strerror or exc}") from None


def write_result(out: Path, image: np.ndarray, sidecar: dict, bit_depth: int = 8, overwrite: bool = False,
                 extra: dict | None = None) -> None:
    """Write a finished image and its sidecar (plus ``extra`` keys), both atomically."""
    data = dict(sidecar)
    data["output"] = {"path": out.name, "bit_depth": bit_depth}
    data.update(extra or {})
    save_outputs(out, sidecar_path(out), image, data, bit_depth, overwrite)


def synth_to_file(config: SynthConfig, exemplar_path: str | Path, out: str | Path, *,
                  init_path: str | Path | None = None, bit_depth: int = 8, overwrite: bool = False,
                  stop: StopToken | None = None, extra: dict | None = None
                  ) -> Generator[StepRecord, None, Rendered]:
    """Load the exemplar (and init image), synthesize, measure, write image + sidecar atomically.

    Bad input raises a TexstudioError at the first ``next()``, before any step. A run
    stopped by ``stop`` writes nothing: its Rendered has ``result.stopped`` set.
    """
    # A too-small file fails here, by name, before torch is even needed.
    exemplar = load_image(exemplar_path, min_side=MIN_EXEMPLAR_SIDE)
    init = load_image(init_path) if init_path else None
    rendered = yield from render(config, exemplar, describe_exemplar(exemplar_path, exemplar), init, stop)
    if not rendered.result.stopped:
        write_result(Path(out), rendered.result.image, rendered.sidecar, bit_depth, overwrite, extra)
    return rendered
