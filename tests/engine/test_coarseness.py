"""Large soft shapes (engine/coarseness.py): measured, and laid out by auto_layout though they do not repeat."""

import csv

import numpy as np
import pytest

from texstudio.engine.coarseness import COARSE, coarseness
from texstudio.engine.imageio import load_image, resize_longest_side
from texstudio.engine.layout import choose_layout, structured_split
from texstudio.engine.periodicity import REPEATING, periodicity
from texstudio.engine.synthesis import run_synthesis

from ..conftest import SHARED_TEXTURES
from .test_periodicity import CONFIG, bricks, smooth_noise


def soft_cells(size: int = 128, cells: int = 6, seed: int = 0) -> np.ndarray:
    """Lava-like: dark round cells fading softly into bright gaps, placed at random (no lattice).

    Six in 128 px: lava's exemplar half holds about eight at that scale."""
    rng = np.random.default_rng(seed)
    centres = rng.random((cells, 2)) * size
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    # Distance to the nearest centre, on a torus so the cells are as round at the edges.
    gaps = [np.hypot(np.minimum(abs(y - cy), size - abs(y - cy)), np.minimum(abs(x - cx), size - abs(x - cx)))
            for cy, cx in centres]
    inside = np.exp(-2.0 * (np.min(gaps, axis=0) / (0.5 * size / np.sqrt(cells))) ** 2)
    image = np.stack([0.95 - 0.4 * inside, 0.8 - 0.6 * inside, np.full_like(inside, 0.2)], axis=-1)
    return np.clip(image + 0.01 * rng.standard_normal(image.shape), 0, 1).astype(np.float32)


def test_soft_cells_are_coarse_and_grain_is_not():
    cells = soft_cells()
    assert periodicity(cells) < REPEATING  # not a repeat: only this test can lay it out
    assert coarseness(cells) >= COARSE
    for seed in range(3):
        assert coarseness(smooth_noise(128, seed)) < 0.2  # gravel-like grain
    # The same cells under fine grain as strong as their own contrast are no longer mostly coarse.
    grainy = np.clip(cells + 0.6 * (smooth_noise(128, 5, blur=1) - 0.5), 0, 1)
    assert coarseness(grainy) < COARSE


def test_shading_and_flat_images_are_not_coarse():
    # A lighting gradient is the largest shape of all, but not a texture's: removed first.
    ramp = np.linspace(0.0, 0.6, 128, dtype=np.float32)[None, :, None]
    assert coarseness(np.clip(0.7 * smooth_noise(128, 4) + ramp, 0, 1)) < 0.2
    assert coarseness(np.full((64, 64, 3), 0.5, np.float32)) == 0.0


def test_auto_layout_lays_out_soft_cells_and_says_why():
    choice = choose_layout(CONFIG.replace(steps=180), soft_cells(), from_noise=True)
    assert choice.config == structured_split(CONFIG.replace(steps=180, auto_layout=False))
    assert choice.lattice is None and choice.coarseness >= COARSE
    assert "large soft shapes" in choice.note and "5 pyramid levels" in choice.note
    # Grain stays plain, and the measure is kept for the sidecar.
    grain = choose_layout(CONFIG, smooth_noise(64, 0), from_noise=True)
    assert grain.config == CONFIG.replace(auto_layout=False, auto_lattice=False) and grain.note == ""
    assert grain.coarseness < COARSE
    # A repeating exemplar is laid out for its repeats, and not measured for this.
    repeating = choose_layout(CONFIG, bricks(), from_noise=True)
    assert repeating.coarseness is None and "repeats" in repeating.note


def test_a_run_on_soft_cells_is_laid_out_and_its_sidecar_records_the_measure():
    records = []
    result = run_synthesis(CONFIG, soft_cells(64), on_step=records.append)
    assert "large soft shapes" in records[0].note
    assert result.config.auto_layout is False and result.config.layout_steps == 6
    assert "patch" in records[1].losses  # laid out first
    assert result.sidecar()["coarseness"] == pytest.approx(result.coarseness, abs=1e-4) and result.coarseness >= COARSE


@pytest.mark.skipif(not (SHARED_TEXTURES / "MANIFEST.tsv").exists(), reason="needs ../shared/textures")
def test_of_the_shared_photos_only_the_clouds_are_made_of_large_soft_shapes():
    # Each photo's left half at 256 px, as the held-out checks give it. Measured: clouds 0.57;
    # every other photo 0.44 (lego) or less, the checker stone 0.36, gravel and grass under 0.2.
    with open(SHARED_TEXTURES / "MANIFEST.tsv", newline="") as manifest:
        names = [row["file"] for row in csv.DictReader(manifest, delimiter="\t")]
    coarse = set()
    for name in names:
        image = load_image(SHARED_TEXTURES / name)
        if coarseness(resize_longest_side(image[:, :image.shape[1] // 2], 256)) >= COARSE:
            coarse.add(name)
    assert len(names) == 40 and coarse == {"clouds-nst415.jpg"}
