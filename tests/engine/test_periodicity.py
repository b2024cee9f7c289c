"""Does an exemplar repeat (engine/periodicity.py), and what auto_layout makes of the answer."""

import csv

import numpy as np
import pytest

from texstudio.engine.config import SynthConfig, with_hand_layout
from texstudio.engine.errors import ConfigError
from texstudio.engine.imageio import load_image, resize_longest_side
from texstudio.engine.layout import choose_layout, structured_split
from texstudio.engine.periodicity import REPEATING, periodicity
from texstudio.engine.synthesis import pyramid_plan, run_synthesis

from ..conftest import SHARED_TEXTURES
from .test_layout import checkerboard

CONFIG = SynthConfig(width=64, height=64, steps=9, backbone="random-multiscale", layers=("relu_k3", "relu_k5"),
                     gram_weight=1.0, color_weight=1.0, pyramid_levels=3, pyramid_noise=1.0, device="cpu",
                     preview_every=0, auto_layout=True)


def smooth_noise(size: int, seed: int, blur: int = 2) -> np.ndarray:
    """Stochastic, like gravel: seeded noise, box-blurred so it has grain but no period."""
    rng = np.random.default_rng(seed)
    image = rng.random((size + blur, size + blur, 3))
    for axis in (0, 1):
        image = sum(np.roll(image, shift, axis) for shift in range(blur + 1)) / (blur + 1)
    return image[:size, :size].astype(np.float32)


def bricks(size: int = 128, seed: int = 0) -> np.ndarray:
    """Rows of bricks, every other row shifted by half a brick, with grain on top."""
    y, x = np.mgrid[0:size, 0:size]
    row = y // 16
    mortar = (y % 16 < 2) | ((x + 16 * (row % 2)) % 32 < 2)
    image = np.where(mortar[..., None], [0.85, 0.85, 0.8], [0.6, 0.25, 0.15]).astype(np.float32)
    return np.clip(image + 0.15 * (smooth_noise(size, seed) - 0.5), 0, 1)


def test_repeating_patterns_score_high_and_stochastic_ones_low():
    assert periodicity(checkerboard(128, 16)) > 0.9
    assert periodicity(bricks()) >= REPEATING
    # A patch of noise tiled 4 x 4 repeats exactly, however random the patch itself is.
    assert periodicity(np.tile(smooth_noise(32, 1), (4, 4, 1))) > 0.9
    for seed in range(3):
        assert periodicity(smooth_noise(128, seed)) < 0.2


def test_shading_and_flat_images_do_not_count_as_repeats():
    # A lighting gradient across gravel is not a period: the measure removes slow changes first.
    ramp = np.linspace(0.0, 0.6, 128, dtype=np.float32)[None, :, None]
    shaded = np.clip(0.7 * smooth_noise(128, 4) + ramp, 0, 1)
    assert periodicity(shaded) < 0.2
    assert periodicity(np.full((64, 64, 3), 0.5, np.float32)) == 0.0


@pytest.mark.skipif(not (SHARED_TEXTURES / "MANIFEST.tsv").exists(), reason="needs ../shared/textures")
@pytest.mark.parametrize("view", ["whole", "left half"])
def test_the_shared_photos_structured_ones_repeat_and_stochastic_ones_do_not(view):
    # The engine measures the exemplar it is given: the whole photo from a user, its left half
    # (shrunk to the default 256 px) in the bake-off and the held-out checks.
    def exemplar(name):
        image = load_image(SHARED_TEXTURES / name)
        return image if view == "whole" else resize_longest_side(image[:, :image.shape[1] // 2], 256)

    with open(SHARED_TEXTURES / "MANIFEST.tsv", newline="") as manifest:
        rows = list(csv.DictReader(manifest, delimiter="\t"))
    scores = {row["file"]: (row["kind"], periodicity(exemplar(row["file"])))
              for row in rows if row["kind"] in ("structured", "stochastic")}
    assert len(scores) == 16
    wrong = {name: round(score, 3) for name, (kind, score) in scores.items()
             if (score >= REPEATING) != (kind == "structured")}
    # measured: structured 0.42 to 0.96 whole, 0.47 to 0.86 halved; stochastic 0.33 or less either way
    assert not wrong


def test_auto_layout_gives_a_repeating_exemplar_the_structured_split():
    choice = choose_layout(CONFIG.replace(steps=180), bricks(), from_noise=True)
    assert choice.config == structured_split(CONFIG.replace(steps=180, auto_layout=False))
    assert (choice.config.pyramid_levels, choice.config.layout_steps, choice.config.steps) == (5, 120, 50)
    assert choice.periodicity >= REPEATING and "repeats" in choice.note and "5 pyramid levels" in choice.note



def test_the_note_counts_the_levels_the_plan_keeps():
    # layout_min_share drops a coarse level of a small exemplar on a large canvas: the run
    # keeps pyramid_levels 5 in its config (so it replays) but lays out one level fewer.
    exemplar = bricks()
    config = CONFIG.replace(steps=180, width=1024, height=1024, layout_min_share=0.5)
    levels = lambda split: len(pyramid_plan(split, exemplar.shape[:2]))  # noqa: E731
    choice = choose_layout(config, exemplar, from_noise=True, planned_levels=levels)
    kept = levels(choice.config)
    assert choice.config.pyramid_levels == 5 and kept < 5
    assert f"({kept} pyramid levels" in choice.note

def test_auto_layout_leaves_other_runs_as_set_and_says_nothing():
    plain = CONFIG.replace(auto_layout=False)
    stochastic = choose_layout(CONFIG, smooth_noise(64, 0), from_noise=True)
    assert stochastic.config == plain and stochastic.note == "" and stochastic.periodicity < REPEATING
    # Continuing from a canvas, or layout steps set by hand: not measured, run as set.
    assert choose_layout(CONFIG, bricks(), from_noise=False) == type(stochastic)(plain)
    by_hand = CONFIG.replace(pyramid_levels=2, layout_steps=7)
    assert choose_layout(by_hand, bricks(), from_noise=True).config == by_hand.replace(auto_layout=False)
    assert choose_layout(plain, bricks(), from_noise=True).config is plain


def test_settings_that_choose_the_pyramid_by_hand_turn_auto_layout_off():
    assert with_hand_layout({"pyramid_levels": 2}) == {"pyramid_levels": 2, "auto_layout": False}
    assert with_hand_layout({"layout_steps": 5, "auto_layout": True})["auto_layout"] is True
    assert with_hand_layout({"steps": 5}) == {"steps": 5}
    # More steps on the coarse levels refine a layout; auto layout keeps them in its split.
    assert with_hand_layout({"coarse_layout_steps": 360}) == {"coarse_layout_steps": 360}
    choice = choose_layout(CONFIG.replace(steps=180, coarse_layout_steps=360), bricks(), from_noise=True)
    assert (choice.config.layout_steps, choice.config.coarse_layout_steps) == (120, 360)
    assert "360 on each below half size" in choice.note
    with pytest.raises(ConfigError, match="auto_layout"):
        CONFIG.replace(auto_layout="yes")


def test_a_run_on_a_repeating_exemplar_lays_it_out_and_its_sidecar_replays_it():
    records = []
    result = run_synthesis(CONFIG, bricks(64), on_step=records.append)
    notes = [record.note for record in records if record.note]
    assert len(notes) == 1 and records[0].note  # said once, before the first step
    assert result.config.auto_layout is False and result.config.layout_steps == 6 and result.config.steps == 2
    assert records[-1].total_steps == result.iterations == 6 * (records[-1].levels - 1) + 2
    assert "patch" in records[1].losses  # the first steps are layout steps
    assert result.periodicity >= REPEATING
    assert result.sidecar()["periodicity"] == pytest.approx(result.periodicity, abs=1e-4)
    # The sidecar's settings are what ran: run again from them, the image is the same (up to
    # float rounding: with 2 threads on a busy machine, reductions may sum in another order).
    again = run_synthesis(SynthConfig.from_dict(result.sidecar()["config"]), bricks(64))
    assert np.abs(again.image - result.image).max() < 1e-5 and again.periodicity is None


def test_a_run_on_a_stochastic_exemplar_is_the_plain_run():
    exemplar = smooth_noise(64, 2)
    auto = run_synthesis(CONFIG, exemplar)
    plain = run_synthesis(CONFIG.replace(auto_layout=False), exemplar)
    assert auto.config == plain.config and np.abs(auto.image - plain.image).max() < 1e-5
    assert auto.periodicity < REPEATING and "periodicity" not in plain.sidecar()


def test_a_canvas_too_small_for_a_coarse_level_is_measured_but_not_laid_out():
    choice = choose_layout(CONFIG, bricks(), from_noise=True, planned_levels=lambda split: 1)
    assert choice.config == CONFIG.replace(auto_layout=False) and choice.note == ""
    assert choice.periodicity >= REPEATING
    small = run_synthesis(CONFIG.replace(width=30, height=30, steps=5), bricks(64))
    assert small.iterations == 5 and small.config.layout_steps == 0  # its half, 15 px, is under 16 px
