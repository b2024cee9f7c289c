"""The lattice start: finding an exemplar's lattice, tiling its mean cell, and auto_layout choosing it."""

import numpy as np
import pytest

from texstudio.engine.config import SynthConfig
from texstudio.engine.errors import ConfigError
from texstudio.engine.lattice import (FEW_REPEATS, MIN_CELL_AGREEMENT, MIN_REPEATS, MIN_SHARE, Lattice,
                                     _cell_agreement, _centred_cell, explained_share, fit_lattice, fitted_to_torus, lattice_canvas,
                                     torus_lattice, torus_tiling)
from texstudio.engine.metrics import seam_score
from texstudio.engine.layout import choose_layout, structured_split
from texstudio.engine.periodicity import REPEATING, periodicity
from texstudio.engine.synthesis import lattice_start, run_synthesis

from .test_layout import checkerboard
from .test_periodicity import CONFIG, bricks, smooth_noise

# bricks(): courses 16 px high, bricks 32 px long, every other course shifted by 16 px.
BOND = np.array([[16.0, 16.0], [0.0, 32.0]])


def on_bond_lattice(vector) -> bool:
    """Whether a (dy, dx) vector is a whole number of the bricks' lattice vectors, within half a pixel."""
    whole = np.linalg.solve(BOND.T, np.asarray(vector, float))
    return bool(np.abs(BOND.T @ np.round(whole) - vector).max() < 0.5)


def test_bricks_have_their_running_bond_lattice():
    lattice = fit_lattice(bricks(128, seed=3))
    assert lattice is not None and lattice.share >= MIN_SHARE
    assert on_bond_lattice(lattice.v1) and on_bond_lattice(lattice.v2)
    # The cell is the bond's, or a few of them: never a course without its head joints.
    assert lattice.area == pytest.approx(512 * round(lattice.area / 512), abs=8)


def test_a_large_exemplar_is_fitted_shrunk_and_its_vectors_scaled_back():
    # 512 px: fitted at 256 px (FIT_SIDE), so a 2048 px exemplar costs no more than this.
    large = np.repeat(np.repeat(bricks(256, seed=4), 2, axis=0), 2, axis=1)
    lattice = fit_lattice(large)
    assert lattice is not None
    assert on_bond_lattice(np.asarray(lattice.v1) / 2) and on_bond_lattice(np.asarray(lattice.v2) / 2)


def test_stochastic_images_and_a_wrong_lattice_have_none():
    for seed in range(3):
        assert fit_lattice(smooth_noise(128, seed)) is None
    image = bricks(128, seed=1)
    right = explained_share(image, (16.0, 16.0), (0.0, 32.0), held_out=True)
    stacked = explained_share(image, (16.0, 0.0), (0.0, 32.0), held_out=True)  # the courses, no half-brick offset
    wrong = explained_share(image, (13.0, 0.0), (0.0, 27.0), held_out=True)
    # measured 0.995, 0.81, -0.05: the long mortar lines alone explain much, the offset the rest
    assert right > 0.95 and stacked < right - 0.1 and wrong < MIN_SHARE
    # Fitted to noise, bins explain some variance in sample and none held out.
    noise = smooth_noise(128, 5)
    assert explained_share(noise, (16.0, 0.0), (0.0, 32.0)) > explained_share(noise, (16.0, 0.0), (0.0, 32.0),
                                                                               held_out=True)


def test_the_canvas_is_the_mean_cell_tiled_at_a_seeded_phase():
    image = bricks(128, seed=2)
    lattice = fit_lattice(image)
    canvas = lattice_canvas(image, lattice, 96, 160, np.random.default_rng(0))
    assert canvas.shape == (96, 160, 3) and canvas.dtype == np.float32
    # One cell repeated: the lattice explains all of it but the bilinear sampling's blur.
    assert explained_share(canvas, lattice.v1, lattice.v2) > 0.99
    # Mortar and brick both there: light lines on red.
    assert canvas[..., 0].max() > 0.75 and canvas[..., 2].min() < 0.3
    again = lattice_canvas(image, lattice, 96, 160, np.random.default_rng(0))
    other = lattice_canvas(image, lattice, 96, 160, np.random.default_rng(1))
    assert np.array_equal(canvas, again) and not np.allclose(canvas, other, atol=0.05)


def test_auto_lattice_starts_a_clear_lattice_from_its_mean_cell():
    config = CONFIG.replace(steps=180, auto_lattice=True)
    choice = choose_layout(config, bricks(), from_noise=True)
    assert choice.lattice is not None and choice.config.init == "lattice"
    # What runs is the plain run from that start, recorded so that it replays.
    assert choice.config == CONFIG.replace(steps=180, auto_layout=False, init="lattice", pyramid_levels=2)
    assert "lattice" in choice.note and "mean cell" in choice.note
    # Off, on a torus, or without a clear lattice: the patch layout as before.
    laid_out = structured_split(CONFIG.replace(steps=180, auto_layout=False))
    assert choose_layout(CONFIG.replace(steps=180), bricks(), from_noise=True).config == laid_out
    # On a torus only where the lattice wraps round the canvas whole: 64 px is 4 courses and
    # 2 bricks, 70 px across would be 2.19 bricks (a 9 % stretch).
    tile = choose_layout(config.replace(tileable=True), bricks(), from_noise=True)
    assert tile.lattice is not None and tile.config.init == "lattice"
    odd = choose_layout(config.replace(tileable=True, width=70), bricks(), from_noise=True)
    assert odd.lattice is None and odd.config.init == "noise"
    noise = choose_layout(config, smooth_noise(128, 0), from_noise=True)
    assert noise.lattice is None and noise.config.init == "noise"


def test_a_run_from_the_lattice_keeps_the_bond_and_its_sidecar_replays_it():
    exemplar = bricks(64)
    records = []
    result = run_synthesis(CONFIG.replace(auto_lattice=True), exemplar, on_step=records.append)
    assert result.config.init == "lattice" and not result.config.auto_layout and not result.config.auto_lattice
    assert "mean cell" in records[0].note
    assert "patch" not in records[1].losses  # no layout steps: feature steps from the start
    # The first canvas (the coarsest level's) already has the mortar's light lines.
    first = records[0].preview
    assert first.max() - first.min() > 0.3
    again = run_synthesis(result.config, exemplar)
    assert np.array_equal(again.image, result.image)


def test_on_a_torus_the_lattice_is_nudged_to_wrap_round_whole():
    image = bricks(128, seed=5)
    off = Lattice((16.3, 16.2), (0.0, 32.4), 0.9)  # a fit a little off the bond, as a photo's is
    tiling = fitted_to_torus(off, 96, 128)
    assert np.allclose(tiling.v1, (16, 16)) and np.allclose(tiling.v2, (0, 32))
    # The canvas repeats with the tile's period: 8 columns more are its first 8 again.
    canvas = lattice_canvas(image, off, 96, 128, np.random.default_rng(3), tiling)
    wider = lattice_canvas(image, off, 96, 136, np.random.default_rng(3), tiling)
    assert np.allclose(wider[:, :128], canvas) and np.allclose(wider[:, 128:], canvas[:, :8], atol=1e-5)
    assert fitted_to_torus(Lattice((16.0, 16.0), (0.0, 32.0), 0.9), 96, 140) is None  # 4.4 bricks across
    # A tileable run starts from such a canvas: seamless before its first step (nine steps
    # of this small test config then leave colour noise, which says nothing of seams).
    records = []
    result = run_synthesis(CONFIG.replace(auto_lattice=True, tileable=True), bricks(64), on_step=records.append)
    assert result.config.init == "lattice" and result.config.tileable
    assert seam_score(records[0].preview) <= 1.0


def test_init_lattice_without_a_lattice_says_so():
    with pytest.raises(ConfigError, match="lattice"):
        run_synthesis(CONFIG.replace(auto_layout=False, init="lattice"), smooth_noise(64, 0))
    with pytest.raises(ConfigError, match="auto_lattice"):
        SynthConfig(auto_lattice="yes")


def test_a_checkerboard_has_a_lattice_too():
    lattice = fit_lattice(checkerboard(128, 16))
    assert lattice is not None and lattice.share > 0.9


def test_a_checkerboard_of_few_squares_is_found_and_chosen_though_periodicity_misses_it():
    # A 2 x 4 crop of 64 px squares (as the held-out half of miniworld's black-and-white
    # floor): four cells of the checker's lattice, under MIN_REPEATS, and periods too long
    # for the periodicity measure to see.
    board = checkerboard(256, 64)[:, :128]
    board = board + np.random.default_rng(0).normal(0.0, 0.03, board.shape).astype(np.float32)
    assert periodicity(board) < REPEATING
    lattice = fit_lattice(board)
    assert lattice is not None and lattice.share > 0.8
    checker = np.array([[64.0, 64.0], [64.0, -64.0]])
    for vector in (lattice.v1, lattice.v2):
        whole = np.linalg.solve(checker.T, np.asarray(vector))
        assert np.abs(checker.T @ np.round(whole) - vector).max() < 1.0
    assert lattice.area == pytest.approx(8192, rel=0.02)
    choice = choose_layout(CONFIG.replace(auto_lattice=True), board, from_noise=True)
    assert choice.lattice == lattice and choice.config.init == "lattice"
    # Noise cropped the same way still has none, with the few-repeat cells allowed too.
    for seed in range(3):
        assert fit_lattice(smooth_noise(256, seed)[:, :128]) is None


def test_the_held_out_test_sees_a_lattice_that_only_the_top_and_bottom_halves_agree_on():
    # On a clean 2 x 4 board the shift by half the height is a period, so cell means from
    # the top half predict the bottom half whatever the other vector; the left and right
    # halves (a column of squares each) do not agree on a wrong one. Few-repeat lattices are
    # held out both ways.
    board = checkerboard(128, 32)[:, :64]
    wrong = ((25.5625, 28.5), (64.0625, 0.0))  # what a top/bottom-only test accepted here (0.71)
    right = ((32.0, 32.0), (32.0, -32.0))
    few = (FEW_REPEATS, MIN_REPEATS)
    assert explained_share(board, *wrong, held_out=True, repeats=few) > MIN_SHARE
    assert explained_share(board, *right, held_out=True, repeats=few, both_ways=True) > 0.95
    assert explained_share(board, *wrong, held_out=True, repeats=few, both_ways=True) < MIN_SHARE


def test_a_tile_the_fitted_cell_cannot_wrap_round_starts_from_a_finer_lattice_that_can():
    # The fit keeps a cell of four bricks here ((32, 0), (32, -64)): 96 px across is one and
    # a half of it, so it cannot wrap round a 64 x 96 tile; the bond's own cell (the bricks'
    # 32 px, two courses' 32 px) can.
    image = bricks(128, seed=3)
    fitted = fit_lattice(image)
    assert fitted.area == pytest.approx(2048, abs=8) and fitted_to_torus(fitted, 64, 96) is None
    finer = torus_lattice(image, fitted, 64, 96)
    assert finer is not None and finer.area == pytest.approx(512, abs=8) and finer.share >= MIN_SHARE
    assert on_bond_lattice(finer.v1) and on_bond_lattice(finer.v2) and fitted_to_torus(finer, 64, 96) is not None
    assert torus_lattice(image, finer, 64, 96) == finer  # one that wraps round is kept as it is
    # A cell of five bricks (what the fit keeps on the whole red bricks photo) splits in five.
    five = Lattice((0.0, 32.0), (80.0, 16.0), 0.99)
    assert five.area == pytest.approx(2560) and fitted_to_torus(five, 64, 96) is None
    split = torus_lattice(image, five, 64, 96)
    assert split.area == pytest.approx(512, abs=8) and on_bond_lattice(split.v1) and on_bond_lattice(split.v2)
    # auto_layout takes it, and a replayed sidecar (no lattice given) finds the same start.
    config = CONFIG.replace(auto_lattice=True, tileable=True, height=64, width=96)
    choice = choose_layout(config, image, from_noise=True)
    assert choice.lattice == finer and choice.config.init == "lattice"
    replayed = lattice_start(choice.config, image, None)
    assert np.array_equal(replayed, lattice_start(choice.config, image, choice.lattice))
    assert seam_score(replayed) <= 1.0


def test_a_finer_lattice_must_repeat_the_coarse_cell_not_only_score_as_well_held_out():
    # 140 px across is 4.4 bricks: no split of the bond's cell wraps round it. One of the
    # four-brick cell's splits does, (32, 0), (32, -10.67): bricks a third as long. Bins
    # finer than a pixel keep the three thirds apart, so held out it scores with the true
    # cell; shifted by its vectors, the coarse cell moves head joints onto bricks.
    image = bricks(128, seed=3)
    fitted = fit_lattice(image)
    thirds = ((32.0, 0.0), (32.0, -64.0 / 6))
    assert fitted_to_torus(Lattice(*thirds, 0.99), 96, 140) is not None
    held_out = explained_share(image, *thirds, held_out=True)
    assert held_out > explained_share(image, (16.0, 16.0), (0.0, 32.0), held_out=True) - 0.01
    cell = _centred_cell(image, fitted)
    assert _cell_agreement(cell, fitted, *thirds) < MIN_CELL_AGREEMENT
    assert _cell_agreement(cell, fitted, (32.0, 0.0), (16.0, -16.0)) > 0.99
    assert torus_lattice(image, fitted, 96, 140) is None  # nor can the cell be scaled: 3 courses, 4.4 bricks
    # The courses without their offset (stacked bond) fit a 48 px tall tile, three courses;
    # the running bond needs an even number: none.
    assert _cell_agreement(cell, fitted, (16.0, 0.0), (16.0, -32.0)) < MIN_CELL_AGREEMENT
    assert torus_lattice(image, fitted, 48, 96) is None


def test_where_no_nudge_or_split_wraps_round_the_cell_is_scaled_uniformly_to_the_tile():
    # 68 px is 2.125 of the checker's 32 px period: 6 % from two, beyond a nudge (3 %).
    board = checkerboard(128, 16)
    chosen = torus_lattice(board, fit_lattice(board), 68, 68)
    assert chosen is not None and chosen.area == pytest.approx(512, abs=8)  # the squares' own lattice
    assert fitted_to_torus(chosen, 68, 68) is None
    tiling = torus_tiling(chosen, 68, 68)
    # Every vector scaled by the same 68 / 64, none turned: the squares stay square.
    for new, old in zip((tiling.v1, tiling.v2), (chosen.v1, chosen.v2)):
        assert np.allclose(new, np.multiply(old, 68 / 64), atol=0.01)
    assert seam_score(lattice_canvas(board, chosen, 68, 68, np.random.default_rng(0), tiling)) <= 1.0
    choice = choose_layout(CONFIG.replace(auto_lattice=True, tileable=True, height=68, width=68), board,
                           from_noise=True)
    assert choice.config.init == "lattice" and "+6% in size" in choice.note
    # Bricks 64 px high and 70 wide would need 9 % across and none down: a squeeze, not a scale.
    bricks_cell = Lattice((16.0, 16.0), (0.0, 32.0), 0.99)
    assert torus_tiling(bricks_cell, 64, 70) is None
    assert torus_tiling(bricks_cell, 70, 70) is not None  # 9 % both ways
