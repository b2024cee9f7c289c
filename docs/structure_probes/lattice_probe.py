"""Probe, not shipped: a global lattice term on the layout levels.

    LATTICE_W=1 LATTICE_SIDES=1 .venv/bin/python docs/structure_probes/lattice_probe.py PHOTO OUT.png SEED [JSON]

level_strip.py with one more term on every layout level: the canvas's grey self-correlation
at the exemplar's lattice period vectors against the level's view of the exemplar's own. The
vectors are measured once on the exemplar (the 256 px half level_strip.py runs on), from the
autocorrelation engine/periodicity.py uses, and scaled to each level. (Measured on a 32 px
view instead, the red bricks' strongest peaks are others.)
LATTICE_SIDES=1: only a shortfall costs, at the vectors; 2: both ways, at the vectors and
their halves (where a brick meets mortar). Vectors under LATTICE_MIN_LAG px (default 4) or
over half the canvas are left out.

Why it might help: a patch-distribution layout grows its lattice from noise in many places
at once, and the places meet in faults (README). Patches see only their neighbourhood; the
self-correlation at a period vector falls wherever two grains meet.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from level_strip import run  # noqa: E402
from texstudio.engine import synthesis  # noqa: E402
from texstudio.engine.imageio import load_image, resize_longest_side  # noqa: E402
from texstudio.engine.periodicity import autocorrelation, lag_radius  # noqa: E402

# Peaks under this share of the highest one are other structure (a brick's own edges), not the lattice.
PEAK_SHARE = 0.6
MIN_LAG = float(os.environ.get("LATTICE_MIN_LAG", "4"))
# The second vector must turn at least this far (sine of the angle) from the first.
MIN_TURN = 0.5


def lattice_vectors(image: np.ndarray) -> list[tuple[float, float]]:
    """Up to two period vectors (down, across) of ``image``'s lattice, in its own pixels, shortest first.

    The two shortest strong peaks of the autocorrelation that are not in line; [] when it
    has no peak beyond its central lobe. Each is refined to a fraction of a pixel by a
    parabola through the peak and its neighbours.
    """
    measured = autocorrelation(image)
    if measured is None:
        return []
    correlation, lobe, reach = measured
    height, width = correlation.shape
    radius = lag_radius(correlation.shape)
    padded = np.pad(correlation, 1, mode="edge")
    neighbours = np.stack([padded[1 + dy:1 + dy + height, 1 + dx:1 + dx + width]
                           for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx])
    peaks = (correlation >= neighbours.max(axis=0)) & (radius > lobe) & (radius < reach)
    # An autocorrelation is symmetric: keep one of each pair, the half plane pointing down (or right).
    rows, cols = np.nonzero(peaks)
    down, across = rows - height // 2, cols - width // 2
    half = (down > 0) | ((down == 0) & (across > 0))
    rows, cols, down, across = rows[half], cols[half], down[half], across[half]
    if rows.size == 0:
        return []
    values = correlation[rows, cols]
    strong = values >= PEAK_SHARE * values.max()
    order = np.argsort(np.hypot(down[strong], across[strong]), kind="stable")
    candidates = [(int(r), int(c)) for r, c in zip(rows[strong][order], cols[strong][order])]
    scale = max(image.shape[:2]) / max(height, width)  # autocorrelation pixels -> image pixels
    vectors: list[tuple[float, float]] = []
    for row, col in candidates:
        vector = _refined(correlation, row, col)
        if vectors:
            first = np.array(vectors[0])
            turn = abs(first[0] * vector[1] - first[1] * vector[0]) / (np.hypot(*first) * np.hypot(*vector))
            if turn < MIN_TURN:
                continue
        vectors.append(vector)
        if len(vectors) == 2:
            break
    return [(dy * scale, dx * scale) for dy, dx in vectors]


def _refined(correlation: np.ndarray, row: int, col: int) -> tuple[float, float]:
    """The lag of the peak at (row, col), moved by a parabola through it and its neighbours along each axis."""
    height, width = correlation.shape

    def offset(before: float, at: float, after: float) -> float:
        curve = before - 2 * at + after
        return 0.0 if curve >= 0 else float(np.clip(0.5 * (before - after) / curve, -0.5, 0.5))

    dy = offset(*correlation[row - 1:row + 2, col]) if 0 < row < height - 1 else 0.0
    dx = offset(*correlation[row, col - 1:col + 2]) if 0 < col < width - 1 else 0.0
    return row - height // 2 + dy, col - width // 2 + dx


def shifted_correlation(image: torch.Tensor, lag: tuple[float, float], torus: bool) -> torch.Tensor:
    """Normalised correlation of (1, C, H, W) ``image``'s grey levels with themselves ``lag`` px away.

    Fractional lags interpolate the shifted copy bilinearly. Off a torus only the overlap
    counts. Differentiable: the canvas's term follows its gradient.
    """
    grey = image.mean(dim=1, keepdim=True)
    grey = grey - grey.mean()
    height, width = grey.shape[-2:]
    dy, dx = lag
    # grid_sample's coordinates: -1 and 1 are the centres of the first and last pixels.
    ys = (torch.arange(height, dtype=grey.dtype, device=grey.device) + dy) * 2 / max(1, height - 1) - 1
    xs = (torch.arange(width, dtype=grey.dtype, device=grey.device) + dx) * 2 / max(1, width - 1) - 1
    if torus:  # wrap into the canvas: lags past an edge come back from the other side
        ys = torch.remainder(ys + 1, 2 * height / max(1, height - 1)) - 1
        xs = torch.remainder(xs + 1, 2 * width / max(1, width - 1)) - 1
    grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij")[::-1], dim=-1)[None]
    shifted = F.grid_sample(grey, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    if torus:
        return (grey * shifted).mean() / grey.square().mean().clamp_min(1e-8)
    # The overlap: rows and columns whose shifted copy lies wholly inside the image.
    top, bottom = max(0, -int(np.floor(dy))), height - max(0, int(np.ceil(dy)))
    left, right = max(0, -int(np.floor(dx))), width - max(0, int(np.ceil(dx)))
    if bottom - top < 1 or right - left < 1:
        return grey.new_zeros(())
    here, there = grey[..., top:bottom, left:right], shifted[..., top:bottom, left:right]
    return (here * there).mean() / (here.square().mean() * there.square().mean()).sqrt().clamp_min(1e-8)


class LatticeTerm:
    """How far a canvas's self-correlation at ``lags`` is from the exemplar's (``sides`` 1: only short of it)."""

    def __init__(self, exemplar: torch.Tensor, vectors: list[tuple[float, float]], torus: bool, sides: int) -> None:
        self.torus, self.sides = torus, sides
        halves = [(dy / 2, dx / 2) for dy, dx in vectors] if sides == 2 else []
        self.lags = list(vectors) + halves
        with torch.no_grad():
            self.targets = [float(shifted_correlation(exemplar, lag, False)) for lag in self.lags]

    def __call__(self, canvas: torch.Tensor) -> torch.Tensor:
        loss = canvas.new_zeros(())
        for lag, target in zip(self.lags, self.targets):
            gap = target - shifted_correlation(canvas, lag, self.torus)
            loss = loss + (torch.relu(gap) if self.sides == 1 else gap).square()
        return loss


def with_lattice(base, weight: float, sides: int, measured: list[tuple[float, float]], full_side: int):
    class WithLattice(base):
        def __init__(self, exemplar, *args, **kwargs):
            super().__init__(exemplar, *args, **kwargs)
            scale = max(exemplar.shape[-2:]) / full_side
            canvas_side = min(args[3]) if len(args) > 3 and args[3] else min(exemplar.shape[-2:])
            vectors = [(dy * scale, dx * scale) for dy, dx in measured]
            vectors = [lag for lag in vectors if MIN_LAG <= float(np.hypot(*lag)) < canvas_side / 2]
            self.lattice = LatticeTerm(exemplar, vectors, self.torus, sides) if vectors and weight else None

        def __call__(self, canvas):
            terms = super().__call__(canvas)
            if self.lattice is not None:
                terms["lattice"] = weight * self.lattice(canvas)
            return terms

    return WithLattice


if __name__ == "__main__":
    photo = load_image(sys.argv[1])
    exemplar = resize_longest_side(photo[:, :photo.shape[1] // 2], 256)  # as level_strip.run takes it
    synthesis.PatchLayoutObjective = with_lattice(
        synthesis.PatchLayoutObjective, float(os.environ.get("LATTICE_W", "1")), int(os.environ.get("LATTICE_SIDES", "1")),
        lattice_vectors(exemplar), max(exemplar.shape[:2]))
    run(sys.argv[1:])
