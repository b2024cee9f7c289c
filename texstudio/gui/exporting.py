"""What an export writes, and the generators the worker runs to write it. Qt-free.

Writing runs in the worker (a 16-bit 4K TIFF takes seconds to compress), and
"export K variations" is one generator that synthesises and writes each seed in turn.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from texstudio.engine.cancel import StopToken
from texstudio.engine.config import SynthConfig
from texstudio.engine.errors import ExportError, OutputExistsError
from texstudio.engine.imageio import check_writable, save_image, sidecar_path, write_sidecar
from texstudio.engine.synthesis import SynthResult, synthesize_and_score


@dataclass(frozen=True)
class ExportRequest:
    path: Path  # the image (or, for variations, the name each seed's suffix is added to)
    bit_depth: int = 8
    sidecar: bool = True
    sheet: tuple[int, int] | None = None  # (columns, rows) of a tiled sheet, tileable results only
    variations: int = 1  # >1: synthesise seeds seed..seed+K-1 and export each
    overwrite: bool = False

    def with_overwrite(self) -> ExportRequest:
        return ExportRequest(self.path, self.bit_depth, self.sidecar, self.sheet, self.variations, True)


@dataclass
class VariationExported:
    """Yielded by ``export_variations`` after each seed's files are written."""

    index: int
    count: int
    seed: int
    paths: list[Path]
    result: SynthResult


def image_path_for(request: ExportRequest, seed: int | None) -> Path:
    if seed is None or request.variations <= 1:
        return request.path
    return request.path.with_name(f"{request.path.stem}_seed{seed}{request.path.suffix}")


def sheet_path(image_path: Path, sheet: tuple[int, int]) -> Path:
    return image_path.with_name(f"{image_path.stem}_sheet{sheet[0]}x{sheet[1]}{image_path.suffix}")


def files_for(image_path: Path, request: ExportRequest, tileable: bool) -> list[Path]:
    """The files one exported image brings: itself, its sheet, its sidecar."""
    paths = [image_path]
    if request.sheet and tileable:
        paths.append(sheet_path(image_path, request.sheet))
    if request.sidecar:
        paths.append(sidecar_path(image_path))
    return paths


def planned_paths(request: ExportRequest, seeds: list[int] | None, tileable: bool) -> list[Path]:
    """Every file an export will write, to check for overwrites before any work starts."""
    return [path for seed in seeds or [None] for path in files_for(image_path_for(request, seed), request, tileable)]


def tiled_sheet(tile: np.ndarray, columns: int, rows: int) -> np.ndarray:
    return np.tile(tile, (rows, columns, 1))


def write_result(result: SynthResult, image_path: Path, request: ExportRequest) -> list[Path]:
    """Write one result's image, its sheet (tileable results only) and sidecar."""
    # Check every file first, so a name clash never leaves an export half written.
    check_writable(image_path, overwrite=True)
    if not request.overwrite:
        for path in files_for(image_path, request, result.config.tileable):
            if path.exists():
                raise OutputExistsError(f"{path} already exists; choose another name or allow overwriting")
    new = [path for path in files_for(image_path, request, result.config.tileable) if not path.exists()]
    written: list[Path] = []
    try:
        written.append(save_image(image_path, result.image, request.bit_depth, request.overwrite))
        sidecar = result.sidecar()
        sidecar["export"] = {"bit_depth": request.bit_depth, "format": image_path.suffix.lstrip(".").lower()}
        if request.sheet and result.config.tileable:
            columns, rows = request.sheet
            sheet = sheet_path(image_path, request.sheet)
            written.append(save_image(sheet, tiled_sheet(result.image, columns, rows), request.bit_depth,
                                      request.overwrite))
            sidecar["export"]["tiled_sheet"] = {"file": sheet.name, "columns": columns, "rows": rows}
        if request.sidecar:
            written.append(write_sidecar(sidecar_path(image_path), sidecar, request.overwrite))
    except BaseException:
        # A full disk at the sheet or sidecar: take back what this export created, so no
        # image is left without the files that belong with it (as `texstudio synth` does).
        for path in written:
            if path in new:
                path.unlink(missing_ok=True)
        raise
    return written


def export_result(result: SynthResult, request: ExportRequest) -> Generator[None, None, list[Path]]:
    """Write an existing result; a generator with no progress points, so the worker can run it."""
    if request.bit_depth not in (8, 16):
        raise ExportError(f"bit depth must be 8 or 16, got {request.bit_depth}")
    return write_result(result, request.path, request)
    yield  # noqa: unreachable - makes this a generator


def export_variations(config: SynthConfig, exemplar: np.ndarray, request: ExportRequest,
                      stop: StopToken | None = None) -> Generator[object, None, list[Path]]:
    """Synthesise seeds seed..seed+K-1 in turn, writing each; yields StepRecords and VariationExported."""
    written: list[Path] = []
    for index in range(request.variations):
        seed = config.seed + index
        result = yield from synthesize_and_score(config.replace(seed=seed), exemplar, stop)
        if result.stopped:
            break
        paths = write_result(result, image_path_for(request, seed), request)
        written += paths
        yield VariationExported(index=index, count=request.variations, seed=seed, paths=paths, result=result)
    return written
