"""A layout term against copying: the canvas's larger windows pushed off distinctive exemplar matches.

The layout levels (engine/layout.py) match the distribution of the exemplar's 7 px patches
exactly. With a small exemplar each of its patches is asked for several times, and runs
of neighbouring patches come back together: the canvas becomes the exemplar's pieces
rearranged, and the result copies it at quarter scale (a held-out half of wood panels 0.08
to 0.25 of its patches, parquet 0.14 to 0.25; docs/coarse_share). This term looks at
windows larger than a patch and penalises each one whose best normalised correlation c1
with an exemplar window is above COPY_FLOOR, when that match is distinctive as
metrics.copy_fraction counts it: (1 - c1) at most COPY_RATIO^2 (1 - c2), c2 being the
best match that does not overlap it. A lattice's windows match many places alike and are
left alone, so a regular checkerboard is not pushed off its squares (docs/anti_copy).

The half-size layout level gets the term too, on its canvas and exemplar average-pooled
to quarter size: that level's patches, sharpened, rebuild copies at quarter scale out of a
layout that had none (a held-out parquet half: 0 after the quarter-size level, 0.10 after
the half-size one), in windows its own 11 px ones are too small to see.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from texstudio.engine.losses import sample_patches
from texstudio.engine.metrics import COPY_RATIO, _textured, unit_vectors

# px at the level: larger than the 7 px layout patch, so the term sees how patches are
# joined rather than the patches the distribution term asks for.
COPY_WINDOW = 11
# Correlation above which a distinctive match is penalised; the copy metric counts 0.9 and
# up, and a canvas held just under 0.9 at a coarse level comes back over it once enlarged.
COPY_FLOOR = 0.8
# The term works at quarter size and coarser, where copying shows (docs/coarse_share): levels
# shrinking the output by this or more at their own scale, finer ones pooled down to it.
COPY_MIN_FACTOR = 4
# Window pairs compared per step, at most: 64 MiB of float32 similarities. A 256 px run's
# levels compare all of theirs (8.5 million pairs at the 64 px level from a whole 256 px
# photo); larger ones take a fresh sample of the canvas's windows each step, and past
# EXEMPLAR_WINDOWS the exemplar's windows every 2nd or 4th pixel. At 2^26 pairs a step of
# a 128 px level took 1.9 s against 0.16 s without the term (bench/term_cost.py).
MAX_PAIRS = 1 << 24
EXEMPLAR_WINDOWS = 1 << 16
MIN_CANVAS_WINDOWS = 256
# The full-size level's term (SynthConfig.copy_weight) looks at half size, in the copy
# metric's 16 px windows (metrics.copy_fraction): with 11 px ones the held-out brick half
# still copied 0.07 to 0.12 of its 16 px windows at half scale, with these 0.004 to 0.013
# (docs/full_copy, second part). It compares fewer pairs: it runs beside the network's
# evaluations, and at MAX_PAIRS it added a fifth to the brick half's run; at 2^23 pairs of
# these larger windows 7% (0.004 copied), at 2^22 3% (0.013).
FULL_SIZE_SCALE = 2
FULL_SIZE_WINDOW = 16
FULL_SIZE_MAX_PAIRS = 1 << 22
TIE = 1e-4  # correlations this close to a second exact match are a repeat, not a copy


def window_count(shape: tuple[int, int], window: int = COPY_WINDOW) -> int:
    """``window`` px windows in an image of ``shape``."""
    return max(0, shape[0] - window + 1) * max(0, shape[1] - window + 1)


def pooling(factor: int, exemplar_shape: tuple[int, int], canvas_shape: tuple[int, int],
            scale: int = COPY_MIN_FACTOR, window: int = COPY_WINDOW) -> int:
    """How a level shrinking by ``factor`` gets the term: 0 not at all, else the pooling it is seen through.

    It is seen at ``scale`` (the output shrunk by that much) or coarser. For the layout
    levels, 1 for levels a quarter of the output's size or coarser, 2 for the half-size
    level (seen at quarter size); for the full-size level (``scale`` FULL_SIZE_SCALE), 2.
    Only where the pooled canvas has more ``window`` px windows than the pooled exemplar,
    so that each of the exemplar's is asked for more than once: that is where runs of them
    come back together. A tileable canvas's are counted unwrapped, as
    layout_min_share counts its patches. A whole photo as large as the canvas is left as it
    was: on the whole checker stone photo the term broke the board's phase in one corner,
    where without it the board was regular (docs/anti_copy).
    """
    pool = max(1, -(-scale // max(1, factor)))
    exemplar = (exemplar_shape[0] // pool, exemplar_shape[1] // pool)
    canvas = (canvas_shape[0] // pool, canvas_shape[1] // pool)
    fits = min(exemplar) > window and window_count(exemplar, window) < window_count(canvas, window)
    return pool if fits else 0


class CopyPenalty:
    """Mean over the canvas's windows of relu(c1 - COPY_FLOOR) where the best match is distinctive."""

    def __init__(self, exemplar: torch.Tensor, torus: bool, seed: int, level: int, pool: int = 1,
                 max_pairs: int = MAX_PAIRS, window: int = COPY_WINDOW) -> None:
        self.torus = torus
        self.window = window  # px, after pooling
        self.pool = pool  # both images average-pooled by this first (pooling())
        exemplar = F.avg_pool2d(exemplar, pool) if pool > 1 else exemplar
        height, width = exemplar.shape[-2:]
        self.stride = 1
        while ((height - window) // self.stride + 1) * ((width - window) // self.stride + 1) \
                > EXEMPLAR_WINDOWS and self.stride < 4:
            self.stride *= 2
        with torch.no_grad():
            self.theirs, _ = unit_vectors(F.unfold(exemplar.float(), window, stride=self.stride)[0].t())
        self.columns = (width - window) // self.stride + 1
        self.keep = max(MIN_CANVAS_WINDOWS, max_pairs // len(self.theirs))
        # Its own stream: the patch term's draws stay as they were without this term.
        self.generator = torch.Generator().manual_seed(seed * 6151 + 3571 + level)

    def __call__(self, canvas: torch.Tensor) -> torch.Tensor:
        canvas = F.avg_pool2d(canvas, self.pool) if self.pool > 1 else canvas
        if min(canvas.shape[-2:]) < self.window:
            # No window fits, so nothing can be copied (the middle square a first level is grown from).
            return canvas.sum() * 0.0
        # Only the sampled windows are gathered: unfolding all of a 750 px level's would take 800 MB.
        ours, norms = unit_vectors(sample_patches(canvas.float(), self.window, self.keep, self.generator,
                                                  self.torus).t())
        with torch.no_grad():
            similarity = ours.detach() @ self.theirs.t()
            c1, where = similarity.max(dim=1)
            c2 = self._runner_up(similarity, where)
            # TIE: a perfect lattice matches two places exactly, 0 <= 0, and is no copy.
            counted = ((1 - c1) + TIE <= COPY_RATIO ** 2 * (1 - c2)) & _textured(norms.detach(), ours.shape[1])
        best = (ours * self.theirs[where]).sum(dim=1)  # c1 again, now with its gradient through our windows
        return (F.relu(best - COPY_FLOOR) * counted).mean()

    def _runner_up(self, similarity: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        """Each row's best similarity among the windows that do not overlap its best, ``where`` (in place)."""
        return similarity.scatter_(1, self._overlapping(where), -1.0).max(dim=1).values

    def _overlapping(self, where: torch.Tensor) -> torch.Tensor:
        """(N, K) indices of the exemplar's windows that overlap each of ``where``, some repeated.

        Those within ``window`` px along both axes: on the grid of every ``stride``-th window,
        a box reaching (window - 1) // stride either way. Clipped at the grid's edges the
        box's indices repeat ones inside it. Scattered into the similarities, this is a
        thousandth of the work of a mask over every pair, which was half the term's time.
        """
        reach = (self.window - 1) // self.stride
        span = torch.arange(-reach, reach + 1, device=where.device)
        rows = (where // self.columns)[:, None] + span
        columns = (where % self.columns)[:, None] + span
        rows = rows.clamp_(0, len(self.theirs) // self.columns - 1)
        columns = columns.clamp_(0, self.columns - 1)
        return (rows[:, :, None] * self.columns + columns[:, None, :]).flatten(1)
