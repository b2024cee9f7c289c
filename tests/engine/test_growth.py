"""Growing the first layout canvas outwards from one square (engine/growth.py)."""

import math

import numpy as np
import pytest
import torch

from texstudio.engine.cancel import StopToken
from texstudio.engine.config import SynthConfig
from texstudio.engine.errors import ConfigError
from texstudio.engine.generators import drive
from texstudio.engine.growth import (
    GROW_RINGS, GROW_SEED_OFFSET, SEED_STEP_FACTOR, grow_canvas, growth_regions, growth_steps,
)
from texstudio.engine.periodicity import periodicity
from texstudio.engine.synthesis import run_synthesis, synthesize

from ..conftest import make_texture

CONFIG = SynthConfig(width=64, height=64, steps=3, backbone="random-multiscale", layers=("relu_k3", "relu_k5"),
                     gram_weight=1.0, color_weight=1.0, pyramid_levels=2, layout_steps=20, device="cpu",
                     preview_every=0)


def running_bond(height: int = 128, width: int = 128, course: int = 12, brick: int = 32) -> np.ndarray:
    """Red bricks in courses, each course's joints half a brick along from the last, light mortar."""
    y, x = np.mgrid[0:height, 0:width]
    shifted = x + (y // course % 2) * (brick // 2)
    mortar = (y % course < 2) | (shifted % brick < 2)
    rng = np.random.default_rng(0)
    shade = 0.05 * rng.standard_normal((height, width))
    red = np.stack([0.7 + shade, 0.3 + shade, 0.2 + shade], axis=-1)
    return np.where(mortar[..., None], 0.85, red).clip(0, 1).astype(np.float32)


@pytest.mark.parametrize("shape", [(32, 32), (32, 20), (17, 45), (8, 8)])
def test_regions_grow_from_a_middle_square_to_the_whole_canvas(shape):
    height, width = shape
    regions = growth_regions(height, width)
    top, left, bottom, right = regions[0]
    assert bottom - top == right - left  # a square
    assert abs((top + bottom) - height) <= 1 and abs((left + right) - width) <= 1  # in the middle
    for inner, outer in zip(regions, regions[1:]):  # each holds the last, and is larger
        assert outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]
        assert outer != inner
    assert regions[-1] == (0, 0, height, width)
    assert len(regions) - 1 <= GROW_RINGS + 1


def push_up(canvas: torch.Tensor) -> None:
    """A gradient that moves every pixel the same way: what a step changes is easy to see."""
    canvas.grad = -torch.ones_like(canvas)


def test_each_ring_is_learned_with_what_is_inside_it_held_and_a_stop_ends_the_growing():
    noise = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 0.5
    seed_steps = 4 * SEED_STEP_FACTOR
    calls = []

    def after_seed() -> bool:
        calls.append(None)
        return len(calls) > seed_steps  # the seed square runs, then the stop is seen before the first ring

    steps = []
    seed_only = drive(grow_canvas(noise, push_up, 4, after_seed), steps.append)
    assert [step.done for step in steps] == list(range(1, seed_steps + 1))
    top, left, bottom, right = growth_regions(32, 32)[0]
    inside = torch.zeros(1, 3, 32, 32, dtype=torch.bool)
    inside[..., top:bottom, left:right] = True
    assert torch.equal(seed_only[~inside], noise[~inside])  # no ring reached them
    assert (seed_only[inside] > noise[inside]).all()
    steps.clear()
    grown = drive(grow_canvas(noise, push_up, 4), steps.append)
    assert torch.equal(grown[inside], seed_only[inside])  # held while the rings were learned
    assert (grown > noise).all()  # every pixel was in some ring
    # Every step is reported, counting to the total it announces.
    assert [step.done for step in steps] == list(range(1, growth_steps(32, 32, 4) + 1))
    assert {step.total for step in steps} == {growth_steps(32, 32, 4)} and steps[-1].canvas is grown


def first_level_periodicity(exemplar: np.ndarray, grow_steps: int, seed: int) -> float:
    """Periodicity of a structured run's first (32 px) layout canvas, stopped as the next level starts."""
    config = CONFIG.replace(width=256, height=256, pyramid_levels=4, layout_steps=120, steps=1, seed=seed,
                            layout_grow_steps=grow_steps, preview_every=1)
    stop, canvases = StopToken(), []

    def grab(record) -> None:
        if math.isnan(record.loss) and record.level == 1:
            canvases.append(record.preview)
            stop.set()

    drive(synthesize(config, exemplar, stop), grab)
    return periodicity(canvases[0])


def test_a_grown_first_layout_holds_a_lattice_more_regular_than_one_from_noise_everywhere():
    bricks = running_bond()
    grown = [first_level_periodicity(bricks, 60, seed) for seed in range(3)]
    plain = [first_level_periodicity(bricks, 0, seed) for seed in range(3)]
    # Measured 0.918-0.941 grown, 0.838-0.893 from noise; half that gap is the bar.
    assert np.mean(grown) > np.mean(plain) + 0.03, (grown, plain)


def first_canvas(config: SynthConfig, exemplar: np.ndarray, init: np.ndarray | None = None) -> np.ndarray:
    """The canvas the first level's steps start from: the run's first record's preview."""
    records = []
    run_synthesis(config, exemplar, init=init, on_step=records.append)
    return next(record for record in records if not record.stage).preview


def test_growth_starts_a_laid_out_run_from_noise_only():
    exemplar = make_texture(64, seed=2)
    grown, plain = first_canvas(CONFIG.replace(layout_grow_steps=5), exemplar), first_canvas(CONFIG, exemplar)
    assert grown.shape == plain.shape == (32, 32, 3) and np.abs(grown - plain).mean() > 0.01
    # A seamless tile has no middle to grow from, and a continued image is no noise: both start as before.
    tile = CONFIG.replace(tileable=True)
    assert np.array_equal(first_canvas(tile.replace(layout_grow_steps=5), exemplar), first_canvas(tile, exemplar))
    start = make_texture(64, seed=5)
    assert np.array_equal(first_canvas(CONFIG.replace(layout_grow_steps=5), exemplar, start),
                          first_canvas(CONFIG, exemplar, start))
    # A ring takes at most half the level's own steps: a one-step level (--steps 2) is not grown at all.
    short = CONFIG.replace(layout_steps=1)
    assert np.array_equal(first_canvas(short.replace(layout_grow_steps=60), exemplar), first_canvas(short, exemplar))


@pytest.mark.parametrize("bad", [-1, 5001, 1.5])
def test_grow_steps_out_of_range_are_refused(bad):
    with pytest.raises(ConfigError, match="layout_grow_steps"):
        CONFIG.replace(layout_grow_steps=bad)


def test_the_default_grows_a_repeating_exemplars_first_layout_level():
    from texstudio.engine.presets import default_config

    # These perfect bricks have a clear lattice, which the default starts from instead
    # (engine/lattice.py); the growing is for repeating exemplars without one.
    config = default_config(64, 64, "cpu").replace(steps=9, preview_every=0, auto_lattice=False)
    assert config.layout_grow_steps > 0
    bricks = running_bond(64, 64, course=8, brick=16)
    grown = first_canvas(config, bricks)
    plain = first_canvas(config.replace(layout_grow_steps=0), bricks)
    assert grown.shape == plain.shape and np.abs(grown - plain).mean() > 0.01


def test_a_grown_run_reports_its_growing_and_a_stop_while_growing_is_honoured_at_once():
    config = CONFIG.replace(layout_grow_steps=2, preview_every=3)
    exemplar = make_texture(64, seed=2)
    records = []
    run_synthesis(config, exemplar, on_step=records.append)
    growing = [record for record in records if record.stage]
    total = growth_steps(32, 32, 2)
    # Before the level's own start record, one per step, counted in the stage line and not in the run's steps.
    assert records[:total] == growing and not records[total].stage and math.isnan(records[total].loss)
    assert [record.stage for record in growing] == [
        f"growing the layout from the middle, step {done} of {total}" for done in range(1, total + 1)]
    assert {record.iteration for record in growing} == {0} and not any(record.losses for record in growing)
    # Every preview_every-th step and the last show the canvas growing: the last is the level's start.
    shown = [done for done, record in enumerate(growing, 1) if record.preview is not None]
    assert shown == [*range(3, total, 3), total]
    assert np.array_equal(growing[-1].preview, records[total].preview)
    stop, seen = StopToken(), []

    def stop_at_the_fifth(record) -> None:
        seen.append(record)
        if len(seen) == 5:
            stop.set()

    result = drive(synthesize(config, exemplar, stop), stop_at_the_fifth)
    assert result.stopped and result.iterations == 0 and len([record for record in seen if record.stage]) == 5


def test_the_growing_matches_what_the_level_matches_its_exemplar_views_and_its_copy_term(monkeypatch):
    from texstudio.engine import synthesis

    made = []

    class Recorded(synthesis.PatchLayoutObjective):  # the real objective, its arguments noted
        def __init__(self, exemplar, seed, level, torus, *args, **kwargs):
            super().__init__(exemplar, seed, level, torus, *args, **kwargs)
            made.append((seed, len(self.views), self.copy_penalty is not None))

    monkeypatch.setattr(synthesis, "PatchLayoutObjective", Recorded)
    # A 48 px exemplar is 24 px at the 32 px layout level: fewer patches than the canvas,
    # so the level matches two phase views and has the copy term.
    config = CONFIG.replace(layout_grow_steps=2, layout_phases=2, layout_copy_weight=1.0)
    run_synthesis(config, make_texture(48, seed=2))
    level, grower = made  # the level's objective is made first, the growing's when the canvas is
    assert level[1] > 1 and level[2], level
    assert grower == (config.seed + GROW_SEED_OFFSET, level[1], True)  # its own stream, the level's patches
