import numpy as np
import pytest

from texstudio.engine.metrics import (
    _line_steps, color_distance, copy_fraction, patch_distance, quality_report, seam_score, spectrum_distance,
)

from ..conftest import make_texture
from .test_coarseness import soft_cells


def test_metrics_separate_a_second_crop_from_broken_versions():
    texture = make_texture(128, seed=7)
    exemplar, reference = texture[:, :64], texture[:, 64:]
    shuffled = exemplar.reshape(-1, 3)[np.random.default_rng(0).permutation(64 * 128)].reshape(exemplar.shape)
    tinted = np.clip(reference + np.array([0.2, 0.0, -0.1], np.float32), 0, 1)
    # Colour: a tint is far, shuffling is the same colours.
    assert color_distance(tinted, exemplar) > 3 * color_distance(reference, exemplar)
    assert color_distance(shuffled, exemplar) < 1e-6
    # Spectrum and patches: shuffling destroys structure, a second crop keeps it.
    assert spectrum_distance(shuffled, exemplar) > 3 * spectrum_distance(reference, exemplar)
    assert patch_distance(shuffled, exemplar) > 2 * patch_distance(reference, exemplar)


def test_copy_detection_flags_verbatim_patches_only():
    texture = make_texture(96, seed=8)
    exemplar = texture[:64, :64]
    assert copy_fraction(exemplar.copy(), exemplar) == 1.0
    collage = np.concatenate([exemplar[:, :32], texture[:64, 64:96]], axis=1)  # left half copied
    assert 0.3 < copy_fraction(collage, exemplar) < 0.7
    # A copy with synthesis-like noise on it is still a copy; another texture's patches are not.
    noisy = np.clip(exemplar + np.random.default_rng(0).normal(0, 0.05, exemplar.shape), 0, 1).astype(np.float32)
    assert copy_fraction(noisy, exemplar) > 0.9
    assert copy_fraction(make_texture(64, seed=11), exemplar) < 0.2


def test_a_fresh_wall_of_the_same_bricks_is_not_a_copy_but_a_shifted_copy_is():
    exemplar = brick_wall(seed=0)
    # Another wall of the same bricks: every patch looks like many of the exemplar's (the
    # old rule, best correlation over 0.9 alone, called all of it copied).
    fresh = brick_wall(seed=1)
    assert copy_fraction(fresh, exemplar) < 0.05
    # The exemplar itself, rolled by an odd number of pixels (off a 2 px search grid) under
    # faint noise: its patches point at one place in the exemplar each. Measured 0.74 (the
    # old rule, searching every 2nd pixel: 0); the rest lie inside a brick, where the added
    # noise drowns the wall's own.
    rolled = np.roll(exemplar, (5, 11), (0, 1)) + np.random.default_rng(2).normal(0, 0.02, exemplar.shape)
    assert copy_fraction(np.clip(rolled, 0, 1).astype(np.float32), exemplar) > 0.6


def test_layout_copies_are_caught_at_a_coarser_scale():
    from texstudio.engine.metrics import copy_fraction_by_scale, layout_copy_fraction

    texture = make_texture(128, seed=9)
    exemplar = texture[:64, :64]
    # Same arrangement, different fine detail: the exemplar blurred plus fresh noise.
    rng = np.random.default_rng(1)
    blurred = (exemplar + np.roll(exemplar, 1, 0) + np.roll(exemplar, 1, 1) + np.roll(exemplar, (1, 1), (0, 1))) / 4
    layout = np.clip(blurred + rng.normal(0, 0.06, exemplar.shape), 0, 1).astype(np.float32)
    assert layout_copy_fraction(layout, exemplar) > 0.5
    assert layout_copy_fraction(texture[64:, 64:], exemplar) < 0.2
    # The worst of the scales it measures: 64, 32 and 16 px here, none below 16.
    per_scale = copy_fraction_by_scale(layout, exemplar)
    assert len(per_scale) == 3 and layout_copy_fraction(layout, exemplar) == max(per_scale)
    assert copy_fraction_by_scale(layout[:15], exemplar) == [] and layout_copy_fraction(layout[:15], exemplar) == 0.0


def checker_half(phase: tuple[int, int] = (0, 0), width: int = 128, seed: int = 0) -> np.ndarray:
    """Like the black-and-white checker's exemplar half: 2 x 4 squares of 64 px, faint grain."""
    rows, columns = np.arange(256) + phase[0], np.arange(width) + phase[1]
    squares = (np.add.outer(rows // 64, columns // 64) % 2).astype(np.float32)
    grain = np.random.default_rng(seed).normal(0, 0.03, (256, width, 3))
    return np.clip(0.15 + 0.7 * squares[..., None] + grain, 0, 1).astype(np.float32)


@pytest.mark.parametrize("shapes", ["checker", "soft cells"])
def test_a_faithful_sample_of_a_few_large_shapes_is_not_called_a_copy(shapes):
    from texstudio.engine.metrics import (
        CHANCE_FACTOR, _halve, copy_fraction_by_scale, layout_copy_fraction, self_copy_fraction,
    )

    if shapes == "checker":
        # The same squares out of phase, as a good synthesis draws them.
        exemplar, fresh = checker_half(), checker_half((24, 40), width=256, seed=1)
    else:  # lava- or slime-like blobs: two samples with their cells in other places
        exemplar, fresh = soft_cells(256, 10, seed=0)[:, :128], soft_cells(256, 10, seed=10)[:, :128]
    # At quarter scale the exemplar holds a few shapes, each unlike the others: the ratio
    # test alone calls the fresh sample's shapes copies (measured 0.51 and 0.52) ...
    quarter = copy_fraction_by_scale(fresh, exemplar)[2]
    assert quarter > 0.3
    # ... as it calls the exemplar's own shapes copies of each other (0.46 and 0.71).
    chance = self_copy_fraction(_halve(_halve(exemplar)))
    assert quarter < CHANCE_FACTOR * chance
    assert layout_copy_fraction(fresh, exemplar) < 0.1
    # A verbatim copy is still one.
    assert layout_copy_fraction(exemplar.copy(), exemplar) == 1.0


def test_a_fine_texture_does_not_pass_for_copies_of_itself():
    from texstudio.engine.metrics import _halve, self_copy_fraction

    texture = make_texture(128, seed=9)
    assert self_copy_fraction(texture) < 0.05 and self_copy_fraction(_halve(texture)) < 0.05
    # A photo tiled from one small tile copies itself: every patch has its twin.
    tiled = np.tile(texture[:48, :48], (3, 3, 1))
    assert self_copy_fraction(tiled) > 0.5


def test_quality_report_has_every_metric():
    texture = make_texture(64)
    report = quality_report(texture, texture, tileable=True)
    assert set(report) == {"color_distance", "spectrum_distance", "patch_distance", "copy_fraction", "seam_score"}


def test_copy_search_on_large_images_samples_the_output_and_still_finds_copies(monkeypatch):
    from texstudio.engine import metrics

    exemplar = make_texture(320, seed=8)[:, :160]
    collage = np.concatenate([exemplar, make_texture(320, seed=11)[:, :160]], axis=1)  # left half copied
    ours = ((320 - 16) // 8 + 1) ** 2  # 1,521 output patches, every 8 px
    theirs = (320 - 16 + 1) * (160 - 16 + 1)  # 44,225 exemplar patches, every pixel
    whole = copy_fraction(collage, exemplar)
    assert 0.4 < whole < 0.7  # 0.487: the copied half but the patches across the join
    monkeypatch.setattr(metrics, "COPY_MAX_PAIRS", ours * theirs - 1)  # sample 1,520 of them
    assert copy_fraction(collage, exemplar) != whole  # measured 0.4868 against 0.4872
    assert abs(copy_fraction(collage, exemplar) - whole) < 0.05
    # Never fewer than 1,024 patches; the exemplar then searched every 4th pixel (0.503).
    monkeypatch.setattr(metrics, "COPY_MAX_PAIRS", 1)
    assert abs(copy_fraction(collage, exemplar) - whole) < 0.05
    # Twice the exemplar: all but the patches across the join (1 column in 39) are copies.
    assert copy_fraction(np.concatenate([exemplar, exemplar], axis=1), exemplar) > 0.95


def test_colour_distance_on_large_images_compares_a_sample(monkeypatch):
    from texstudio.engine import metrics

    texture = make_texture(128, seed=7)
    exemplar, reference = texture[:, :64], texture[:, 64:]
    tinted = np.clip(reference + np.array([0.2, 0.0, -0.1], np.float32), 0, 1)
    whole = color_distance(tinted, exemplar)
    monkeypatch.setattr(metrics, "COLOR_MAX_PIXELS", 2048)  # of 8192 pixels
    sampled = color_distance(tinted, exemplar)
    assert sampled != whole and abs(sampled - whole) < 0.1 * whole
    assert color_distance(tinted, exemplar) > 3 * color_distance(reference, exemplar)


def brick_wall(size: int = 96, course: int = 16, brick: int = 32, seed: int = 0) -> np.ndarray:
    """A grey wall that tiles exactly: courses of bricks in shades, light mortar, pixel noise.
    Row 0 is mortar and the last row brick, so the wrap falls on a mortar joint."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    row = y // course
    along = (x + (row % 2) * brick // 2) % size  # every other course offset by half a brick
    mortar = (y % course < 2) | (along % brick < 2)
    shade = rng.uniform(0.35, 0.55, (size // course, size // brick))[row, along // brick]
    grey = np.clip(np.where(mortar, 0.85, shade) + rng.normal(0, 0.03, (size, size)), 0, 1)
    return grey[:, :, None].repeat(3, 2).astype(np.float32)


def test_a_seamless_wall_whose_wrap_falls_on_a_joint_is_not_called_a_seam():
    wall = brick_wall()
    steps = _line_steps(wall.astype(np.float64), 0)
    # Measured against the average line, the wrap looks five times too rough (the old score)...
    assert steps[-1] / steps[:-1].mean() > 3
    # ...but the wall's other joints are as rough: the score says seamless.
    assert seam_score(wall) < 1.1
    # Lighting that falls off across the wall does not wrap: that seam is seen.
    assert seam_score(wall * np.linspace(1.0, 0.5, 96, dtype=np.float32)[None, :, None]) > 1.5
