"""The layout stage: coarse pyramid levels learned from raw pixel patches, not features.

One layer of random filters matched by its Gram matrices keeps a texture's grain and
colour but not its cells, rows and checks: honeycomb cells stay lost with any weight,
filter size or number of evaluations (docs/bakeoff_probes). Matching the distribution of
the exemplar's raw 7x7 pixel patches instead, from coarse to fine (after Elnekave & Weiss
2022, "Generating natural images with direct patch distribution matching"), lays that
structure out: a quarter-size level's 7 px patch spans a whole cell. The sets are compared
by sliced Wasserstein distance along fresh random directions each step, so Adam, not
L-BFGS, follows it. On busy textures (grass, gravel) it leaves colour speckle at fine
scales, so the full-size level is left to the feature losses, which start from this layout.

Raw pixels miss one kind of structure: a weave whose blocks differ only in the way their
strands run. Shrunk to a coarse level the strands blur into one flat tone, and at a level
fine enough to show them a 7 px patch sees a third of a block. With layout_energy_weight
the finer layout levels also match patches of a coarse map of the canvas's own gradient
energy (gradient_energy). It groups the wicker's strands into a few patches but does not
bring back its blocks, and it costs bricks, honeycomb and tread plate their regularity, so
it is off by default (docs/bakeoff_energy).

Each level matches its own patches, and only its start ties it to the coarser level's
shapes: a blurred joint that runs on can come out of the next level as sharp dashes, since
at 7 px a dash's patches look like a joint's. With layout_context_weight the levels of
CONTEXT_MIN_SIDE px and up match every patch together with the level blurred around it
over 13 px (context_patches), so the joint distribution says where detail may stop. Brick
rows come out straighter, but more of a small exemplar is copied, so it is off by default
(docs/layout_context).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from texstudio.engine.coarseness import COARSE, coarseness
from texstudio.engine.config import SynthConfig
from texstudio.engine.copy_penalty import CopyPenalty
from texstudio.engine.imageio import longest_side_shape, resize_longest_side
from texstudio.engine.lattice import Lattice, fit_lattice, fitted_to_torus, torus_lattice, torus_tiling
from texstudio.engine.losses import (
    backward_sum, gather_patches, patch_positions, random_directions, sample_patches, sliced_wasserstein,
)
from texstudio.engine.periodicity import REPEATING, periodicity

LAYOUT_PATCH = 7  # px; as in the paper, and the size the quality report's patch distance uses
LAYOUT_DIRECTIONS = 64  # per step; fresh ones each step cover the 147-D patch space over time
LAYOUT_MAX_POINTS = 65536  # patches per side per step: a 256 px level has all of its own
LAYOUT_LEARNING_RATE = 0.02  # Adam, in pixel units (the canvas is in [0, 1])
# Layout levels match patches, not filters, so they go smaller than feature levels (32 px
# canvas, MIN_EXEMPLAR_SIDE exemplar): a 16 px level is where one 7 px patch spans two or
# three cells of a honeycomb or checks of a checkerboard and so ties neighbours together
# (docs/bakeoff_auto/noise). Its exemplar needs only a patch and a shift of one pixel.
MIN_LAYOUT_SIDE = 16
MIN_LAYOUT_EXEMPLAR_SIDE = LAYOUT_PATCH + 1
# The energy term (SynthConfig.layout_energy_weight, off by default): on levels of
# ENERGY_MIN_SIDE px and up (below, a weave's strands are under two pixels wide and leave
# no gradient to measure), its map has ENERGY_CELLS cells along the canvas's shorter side,
# so one 7-cell patch spans a fifth of the canvas: several blocks of a weave.
ENERGY_MIN_SIDE = 64
ENERGY_CELLS = 32
ENERGY_EPS = 1e-6  # keeps the square root's gradient finite on a flat patch of canvas
# The context part (SynthConfig.layout_context_weight): on layout levels of CONTEXT_MIN_SIDE
# px and up (the ones that broke long joints into dashes; the first level lays joints out
# from a blurred exemplar and has none to break), each patch also carries the level blurred
# 3x3 at every 2nd pixel over twice its reach, centred on the same middle: -3, -1, ..., 9
# from its top-left corner for a 7 px patch.
CONTEXT_MIN_SIDE = 64
CONTEXT_OFFSETS = tuple(range(-(LAYOUT_PATCH // 2), LAYOUT_PATCH * 2 - LAYOUT_PATCH // 2, 2))


def gradient_energy(image: torch.Tensor, pool: int, torus: bool = False) -> torch.Tensor:
    """(1, C, H, W) -> (1, 2, H', W'): root-mean-square grey gradient across and down, per pool x pool cell.

    A block of strands running across has its energy in the "down" channel, one of strands
    running down in the "across" one, whatever their colour: the map tells the blocks apart
    at a scale where the pixels, shrunk, no longer can. On a torus the differences wrap.
    """
    grey = image.mean(dim=1, keepdim=True)
    if torus:
        across = grey.roll(-1, dims=-1) - grey
        down = grey.roll(-1, dims=-2) - grey
    else:
        across = (grey[..., :, 1:] - grey[..., :, :-1])[..., :-1, :]
        down = (grey[..., 1:, :] - grey[..., :-1, :])[..., :, :-1]
    energy = torch.cat([across.square(), down.square()], dim=1)
    return (F.avg_pool2d(energy, pool) + ENERGY_EPS).sqrt()


def context_patches(image: torch.Tensor, max_points: int, generator: torch.Generator, weight: float,
                    torus: bool = False) -> torch.Tensor:
    """(1, C, H, W) -> (2 * C * 49, N): each 7 px patch above its context, weighted.

    The context is the image blurred 3x3, at CONTEXT_OFFSETS from the patch's corner: 13 px
    around it, beyond the edge the edge pixel (wrapped on a torus). Matched jointly, the two
    parts tie a patch's detail to its surroundings: where the exemplar's joints run on past
    a patch, so must the canvas's. Positions are drawn as sample_patches draws them.
    """
    tops, lefts = patch_positions(image, LAYOUT_PATCH, max_points, generator, torus)
    fine = gather_patches(image, tops, lefts, torch.arange(LAYOUT_PATCH, device=image.device), torus)
    padded = F.pad(image, (1, 1, 1, 1), mode="circular" if torus else "replicate")
    offsets = torch.tensor(CONTEXT_OFFSETS, device=image.device)
    wide = gather_patches(F.avg_pool2d(padded, 3, stride=1), tops, lefts, offsets, torus)
    return torch.cat([fine, weight * wide])


def energy_pool(height: int, width: int) -> int:
    """The pooling of a height x width level's energy map; 0 when the level is too coarse for one."""
    return max(1, min(height, width) // ENERGY_CELLS) if min(height, width) >= ENERGY_MIN_SIDE else 0


def phase_views(exemplar: np.ndarray, factor: int, phases: int) -> list[np.ndarray]:
    """The exemplar shrunk by ``factor``, from ``phases`` offsets along each axis; the first is the plain shrink.

    Shrinking by 16 keeps one pixel in 16 along each axis, and which one is chance: the
    views that start 1 to 15 px further in are just as true to the texture at that scale,
    and each has patches the others lack. A layout level matching one view has fewer
    distinct patches than its canvas has when the exemplar is smaller than the canvas, so
    the layout converges to repeats of them, and runs of neighbouring patches come back
    together as copies (docs/heldout_copy). The views give it more patches to draw from,
    all of them sharp, where noise on the patches smeared cells. Views under a patch on a
    side are left out.
    """
    if factor <= 1:
        return [exemplar]
    offsets = sorted({index * factor // phases for index in range(max(1, phases))})
    views = []
    for down in offsets:
        for across in offsets:
            part = exemplar[down:, across:]
            view = resize_longest_side(part, max(1, round(max(part.shape[:2]) / factor)))
            if not views or min(view.shape[:2]) >= LAYOUT_PATCH:
                views.append(view)
    return views


def patch_count(shape: tuple[int, int]) -> int:
    """How many LAYOUT_PATCH px patches an image of ``shape`` (height, width) holds, unwrapped."""
    return max(0, shape[0] - LAYOUT_PATCH + 1) * max(0, shape[1] - LAYOUT_PATCH + 1)


def shrunk_shape(shape: tuple[int, int], factor: int) -> tuple[int, int]:
    """The (height, width) that phase_views' plain view of an exemplar of ``shape`` has at ``factor``."""
    return tuple(shape) if factor <= 1 else longest_side_shape(shape, max(1, round(max(shape) / factor)))


def patch_share_kept(exemplar_shape: tuple[int, int], canvas_shape: tuple[int, int], factor: int) -> float:
    """Share of its patches the exemplar keeps at ``factor``, over the share the canvas keeps.

    Both shrink alike, but a 7 px patch is a larger part of a smaller image, so the one
    nearer a patch's size loses more: a held-out half (128x256 px against a 256 px canvas)
    keeps 0.41 of its share at the 16 px level (20 patches against the canvas's 100) and
    0.79 at the 32 px level; the shared bake-off's checker stone half keeps 0.73 at 16 px.
    """
    canvas_level = (round(canvas_shape[0] / factor), round(canvas_shape[1] / factor))
    exemplar_kept = patch_count(shrunk_shape(exemplar_shape, factor)) / max(1, patch_count(exemplar_shape))
    canvas_kept = patch_count(canvas_level) / max(1, patch_count(canvas_shape))
    return exemplar_kept / canvas_kept if canvas_kept else 0.0


def phases_needed(exemplar_shape: tuple[int, int], canvas_shape: tuple[int, int], torus: bool, phases: int) -> int:
    """``phases`` where the level's plain view has fewer patches than its canvas, else 1.

    Only then does the layout have to reuse patches and copy (phase_views). An exemplar at
    least the canvas's size gains nothing from more views and paid for them: 185 s against
    116 s for a whole brick photo at 256 px, one core (docs/layout_phases).
    """
    theirs = patch_count(exemplar_shape)
    ours = canvas_shape[0] * canvas_shape[1] if torus else patch_count(canvas_shape)
    return phases if theirs < ours else 1


class PatchLayoutObjective:
    """Sliced Wasserstein distance between the canvas's and the exemplar's 7x7 pixel patches."""

    def __init__(self, exemplar: torch.Tensor, seed: int, level: int, torus: bool,
                 canvas_shape: tuple[int, int] | None = None, energy_weight: float = 0.0,
                 shifted_views: list[torch.Tensor] = (), copy_weight: float = 0.0,
                 copy_penalty: CopyPenalty | None = None, context_weight: float = 0.0) -> None:
        self.views = [exemplar, *shifted_views]  # the patches it matches come from all of them (phase_views)
        self.torus = torus  # the canvas's patches wrap; the exemplar is a photo, never wrapped
        # Patches with their context (context_patches), on levels large enough to break joints.
        self.context_weight = context_weight if canvas_shape and min(canvas_shape) >= CONTEXT_MIN_SIDE else 0.0
        # Its own stream, apart from the feature losses': seeded, so a run repeats exactly.
        self.generator = torch.Generator().manual_seed(seed * 7919 + 104729 + level)
        # Views with no more patches in all than a step takes give all of them every step
        # (drawing no random numbers): gather them once. Larger ones are subsampled afresh.
        positions = sum((view.shape[-2] - LAYOUT_PATCH + 1) * (view.shape[-1] - LAYOUT_PATCH + 1)
                        for view in self.views)
        self.all_theirs = self._their_patches() if positions <= LAYOUT_MAX_POINTS else None
        # The energy term, given its weight and the canvas's shape: its pooling, and the
        # exemplar's map patches, all of them (a map has a few thousand cells at most).
        # None: no term, and no random numbers drawn for it, so runs without it repeat.
        self.energy_weight = energy_weight
        self.energy_pool = energy_pool(*canvas_shape) if canvas_shape and energy_weight else 0
        self.energy_theirs = None
        if self.energy_pool:
            their_map = gradient_energy(exemplar, self.energy_pool)
            if min(their_map.shape[-2:]) >= LAYOUT_PATCH:  # a small exemplar may have too few cells
                self.energy_theirs = sample_patches(their_map, LAYOUT_PATCH, 0, self.generator)
        # The copy term (engine/copy_penalty.py), on the levels the caller gives one to.
        self.copy_weight = copy_weight
        self.copy_penalty = copy_penalty if copy_weight else None

    def __call__(self, canvas: torch.Tensor) -> dict[str, torch.Tensor]:
        ours = self._patches(canvas, LAYOUT_MAX_POINTS, self.torus)
        theirs = self.all_theirs if self.all_theirs is not None else self._their_patches()
        terms = {"patch": self._distance(ours, theirs)}
        if self.energy_theirs is not None:
            our_map = gradient_energy(canvas, self.energy_pool, self.torus)
            ours = sample_patches(our_map, LAYOUT_PATCH, 0, self.generator, self.torus)
            terms["energy"] = self.energy_weight * self._distance(ours, self.energy_theirs)
        if self.copy_penalty is not None:
            terms["copy"] = self.copy_weight * self.copy_penalty(canvas)
        return terms

    def _their_patches(self) -> torch.Tensor:
        """The exemplar's patches: all of them, or a seeded sample, an equal share from each view."""
        share = LAYOUT_MAX_POINTS // len(self.views)
        return torch.cat([self._patches(view, share, False) for view in self.views], dim=1)

    def _patches(self, image: torch.Tensor, max_points: int, torus: bool) -> torch.Tensor:
        if self.context_weight:
            return context_patches(image, max_points, self.generator, self.context_weight, torus)
        return sample_patches(image, LAYOUT_PATCH, max_points, self.generator, torus)

    def _distance(self, ours: torch.Tensor, theirs: torch.Tensor) -> torch.Tensor:
        """Sliced Wasserstein distance between two patch sets, along fresh directions from this level's stream."""
        directions = random_directions(ours.shape[0], LAYOUT_DIRECTIONS, self.generator).to(ours.device)
        return sliced_wasserstein(ours, theirs, directions)

    def loss_and_grad(self, canvas: torch.Tensor) -> dict[str, torch.Tensor]:
        """The terms (no graph), with their gradient added to ``canvas.grad``."""
        return backward_sum(self(canvas))

    def canvas_grams(self, canvas: torch.Tensor) -> dict[str, np.ndarray] | None:
        return None  # no features here: the Gram view waits for the full-size level

    def target_gram_arrays(self) -> dict[str, np.ndarray] | None:
        return None


class CosineAdam(torch.optim.Adam):
    """Adam whose step size falls from ``lr`` to 0 along a half cosine over ``steps`` steps.

    With fresh random directions every step, Adam at a constant rate leaves every pixel
    jittering by about the rate, and the next level enlarges that jitter into colour speckle
    the feature losses do not remove in their steps (tread plate, weathered wood:
    docs/bakeoff_auto). Letting the rate fall to 0 ends each level on a settled canvas.
    """

    def __init__(self, params, lr: float, steps: int) -> None:
        super().__init__(params, lr=lr)
        self.peak, self.steps, self.taken = lr, max(1, steps), 0

    def step(self, closure=None):
        rate = self.peak * 0.5 * (1.0 + math.cos(math.pi * min(1.0, self.taken / self.steps)))
        for group in self.param_groups:
            group["lr"] = rate
        self.taken += 1
        return super().step(closure)


def layout_optimizer(canvas: torch.Tensor, steps: int) -> torch.optim.Optimizer:
    """The optimiser for one layout level of ``steps`` steps."""
    return CosineAdam([canvas], LAYOUT_LEARNING_RATE, steps)


def structured_split(config: SynthConfig) -> SynthConfig:
    """The same run with its coarse levels laid out first, in a little less CPU time.

    5 levels; for every 90 of ``config.steps``, 60 layout steps per coarse level and 25
    full-size evaluations: the split measured against the default in docs/bakeoff_layout
    (a layout step costs about 0.4 of an evaluation at the same size, bench/term_cost.py),
    with the 16 px level of docs/bakeoff_auto/noise below its 4 (about a second more).
    """
    return config.replace(pyramid_levels=5, layout_steps=max(1, config.steps * 60 // 90),
                          steps=max(1, config.steps * 25 // 90))


@dataclass(frozen=True)
class LayoutChoice:
    """What ``auto_layout`` decided for one run: the settings that run, and why, for the user."""

    config: SynthConfig  # auto_layout off: what ran, so a sidecar replays it exactly
    periodicity: float | None = None  # None when the exemplar was not measured
    note: str = ""  # one line for the user; empty when nothing changed
    lattice: Lattice | None = None  # the lattice a config with init "lattice" starts from
    coarseness: float | None = None  # measured only for an exemplar that neither repeats nor has a lattice


# Pyramid levels of a run started from the lattice: its first canvas is laid out already.
# A coarser first level smears thin joints into streaks the finer levels keep (miniworld's
# brick wall half, seed 0: spectrum 0.33 with 3 levels, 0.20 with 2; docs/lattice_init).
LATTICE_LEVELS = 2


def lattice_split(config: SynthConfig) -> SynthConfig:
    """A plain run from the exemplar's mean cell tiled (engine/lattice.py), on at most LATTICE_LEVELS."""
    return config.replace(init="lattice", pyramid_levels=min(config.pyramid_levels, LATTICE_LEVELS))


def _scaled(config: SynthConfig, lattice: Lattice) -> str:
    """Words for a tile whose cells are scaled to wrap round it (lattice.scaled_to_torus), or nothing."""
    if not config.tileable or fitted_to_torus(lattice, config.height, config.width) is not None:
        return ""
    tiling = torus_tiling(lattice, config.height, config.width)
    return f", its cells {np.sqrt(tiling.area / lattice.area) - 1.0:+.0%} in size to wrap round the tile"


def choose_layout(config: SynthConfig, exemplar: np.ndarray, from_noise: bool,
                  planned_levels: Callable[[SynthConfig], int] | None = None) -> LayoutChoice:
    """Resolve ``config.auto_layout`` for ``exemplar`` (as the engine sees it, after exemplar_size).

    An exemplar that repeats on a clear lattice (engine/lattice.py) starts from its mean
    cell tiled (init "lattice") instead of being laid out. Laying out needs a canvas to lay
    out from scratch, so a run continued from an image, or one whose layout_steps are set by
    hand, keeps its own settings. So does a canvas too
    small for the structured split to keep any level below full size (``planned_levels``,
    the number of levels the pyramid plan keeps for a config; None counts all of
    ``pyramid_levels``): it would only lose steps. The note gives the levels that run, which
    layout_min_share can make fewer than ``pyramid_levels``.
    """
    if not config.auto_layout:
        return LayoutChoice(config)
    plain = config.replace(auto_layout=False, auto_lattice=False)
    if config.layout_steps or not from_noise:
        return LayoutChoice(plain)
    score = periodicity(exemplar)
    # A clear lattice (bricks, blocks, checks) starts from its mean cell instead: no faults
    # between cells grown in different places (docs/lattice_init). On a torus only where it,
    # or a finer one under it, can be nudged or scaled to wrap round whole
    # (lattice.torus_lattice). Looked for whatever the periodicity: that measure misses cells
    # over ~45 % of the shorter side (a checkerboard cropped to 2 x 4 squares scores 0.07),
    # and the fit has its own held-out test.
    lattice = fit_lattice(exemplar, score >= REPEATING) if config.auto_lattice else None
    if lattice is not None and config.tileable:
        lattice = torus_lattice(exemplar, lattice, config.height, config.width)
    # Large soft shapes (lava's cells, slime, clouds) are laid out too, though they do not
    # repeat: the feature losses alone turn them into blotches (engine/coarseness.py).
    soft = coarseness(exemplar) if score < REPEATING and lattice is None else None
    if soft is not None and soft < COARSE:
        return LayoutChoice(plain, score, coarseness=soft)
    if lattice is not None:
        split = lattice_split(plain)
        explained = "of its grain's direction" if lattice.grain else "of its variance"
        return LayoutChoice(split, score, (
            f"the exemplar repeats on a lattice (periodicity {score:.2f}, cell {lattice.area:.0f} px, "
            f"{lattice.share:.2f} {explained}): starting from its mean cell tiled{_scaled(config, lattice)} "
            f"({split.pyramid_levels} pyramid levels)"), lattice)
    structured = structured_split(plain)
    levels = planned_levels(structured) if planned_levels else structured.pyramid_levels
    if levels < 2:
        return LayoutChoice(plain, score, coarseness=soft)
    coarse = (f"{structured.coarse_layout_steps} on each below half size and {structured.layout_steps} on the "
              "half-size one" if structured.coarse_layout_steps else f"{structured.layout_steps} on each coarse one")
    why = (f"the exemplar repeats (periodicity {score:.2f}, {REPEATING:g} or more): laying out its cells first"
           if soft is None else f"the exemplar is made of large soft shapes (coarseness {soft:.2f}, {COARSE:g} or "
           "more): laying them out first")
    return LayoutChoice(structured, score, (
        f"{why} ({levels} pyramid levels, patch-layout steps: {coarse}, {structured.steps} full-size steps)"),
        coarseness=soft)
