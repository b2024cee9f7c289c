"""Lattices of cells told apart by their grain's direction, not their colour (engine/lattice.py)."""

import numpy as np
import pytest

from texstudio.engine.imageio import load_image, resize_longest_side
from texstudio.engine.lattice import MIN_GRAIN_SHARE, explained_share, fit_lattice
from texstudio.engine.layout import choose_layout

from ..conftest import SHARED_TEXTURES
from .test_periodicity import CONFIG, smooth_noise

# wicker(): rows of level blocks every 64 px, each row shifted by 40 px, 80 px apart in a row.
WEAVE = np.array([[64.0, 40.0], [0.0, 80.0]])


def wicker(height: int = 256, width: int = 128, seed: int = 0) -> np.ndarray:
    """Like the shared wicker's half: upright strands, and blocks of level ones on a staggered
    lattice, all of one colour; every strand's shade drawn at random, so no two blocks match."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    row = np.round(y / 64)
    shift = (row % 2) * 40
    level = (np.abs(y - 64 * row) < 14) & (np.abs(x - shift - 80 * np.round((x - shift) / 80)) < 26)
    # Strands 2 to 5 px wide, a dark line between them; the level ones differ block by block.
    def strands(size):
        edges = np.cumsum(rng.integers(2, 6, size))
        index = np.searchsorted(edges, np.arange(size), side="right")
        return index, np.isin(np.arange(size), edges - 1)

    column, column_edge = strands(width)
    line, line_edge = strands(height)
    upright = rng.uniform(0.45, 0.85, width)[column[x]] * np.where(column_edge[x], 0.6, 1.0)
    blocks = rng.uniform(0.45, 0.85, (height, 8))
    lying = blocks[line[y], (np.round((x - shift) / 80) + 2 * row).astype(int) % 8] * np.where(line_edge[y], 0.6, 1.0)
    grey = np.where(level, lying, upright) + rng.normal(0, 0.02, (height, width))
    return np.clip(grey[..., None] * np.array([1.0, 0.8, 0.55]), 0, 1).astype(np.float32)


def on_weave(vector) -> bool:
    whole = np.linalg.solve(WEAVE.T, np.asarray(vector, float))
    return bool(np.abs(WEAVE.T @ np.round(whole) - vector).max() < 3.0)  # 80 px is 1.6 times in 128


def test_a_weave_of_one_colour_has_its_blocks_lattice_by_the_grain():
    image = wicker()
    # The pixels' mean cell predicts nothing: every block's strands differ.
    assert explained_share(image, tuple(WEAVE[0]), tuple(WEAVE[1]), held_out=True, repeats=(4, np.inf),
                           both_ways=True) < 0.1
    lattice = fit_lattice(image)
    assert lattice is not None and lattice.grain and lattice.share >= MIN_GRAIN_SHARE
    assert on_weave(lattice.v1) and on_weave(lattice.v2)
    assert lattice.area == pytest.approx(64 * 80, rel=0.05)
    # auto_layout starts it from its mean cell and says what the lattice was found on.
    choice = choose_layout(CONFIG.replace(auto_lattice=True), image, from_noise=True)
    assert choice.config.init == "lattice" and choice.lattice == lattice
    assert "of its grain's direction" in choice.note


def test_noise_has_no_grain_lattice():
    for seed in range(2):
        assert fit_lattice(smooth_noise(256, seed)[:, :128]) is None


@pytest.mark.skipif(not (SHARED_TEXTURES / "weave-wicker-dcor26.png").exists(), reason="needs ../shared/textures")
def test_the_shared_wicker_has_a_grain_lattice_and_gravel_none():
    for name, grain in (("weave-wicker-dcor26.png", True), ("gravel1-texturize.png", None)):
        photo = load_image(SHARED_TEXTURES / name)
        half = resize_longest_side(photo[:, : photo.shape[1] // 2], 256)
        lattice = fit_lattice(half)
        assert (lattice is not None and lattice.grain) if grain else lattice is None
