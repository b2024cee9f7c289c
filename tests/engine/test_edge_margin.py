"""SynthConfig.edge_margin: a margin learned around the canvas, then cut off."""

import numpy as np
import pytest
import torch

from texstudio.engine.cancel import StopToken
from texstudio.engine.canvas import add_margin, image_to_tensor, without_margin
from texstudio.engine.config import SynthConfig
from texstudio.engine.errors import ConfigError
from texstudio.engine.synthesis import level_margin, run_synthesis

from ..conftest import make_texture, runs_by

TINY = SynthConfig(width=32, height=32, steps=6, layers=("relu1_1", "relu2_1"), device="cpu", preview_every=2)


def test_add_margin_mirrors_the_edge_and_without_margin_takes_it_back_off():
    picture = image_to_tensor(make_texture(32), torch.device("cpu"))
    canvas = add_margin(picture, 8)
    assert canvas.shape[-2:] == (48, 48) and torch.equal(without_margin(canvas, 8), picture)
    assert torch.equal(canvas[..., 8, :8], picture[..., 0, 1:9].flip(-1))  # a mirror, the edge pixel not repeated
    assert add_margin(picture, 0) is picture and without_margin(picture, 0) is picture


def test_edge_margin_is_learned_around_the_canvas_and_cut_off():
    runs = runs_by(TINY.replace(preview_every=1), "edge_margin", (0, 4), make_texture(48))
    plain, framed = runs[0][0], runs[4][0]
    # The same start (the margin is the canvas mirrored around it, not in the picture) ...
    assert np.array_equal(plain[0].preview, framed[0].preview)
    # ... and every picture the size asked for, the margin cut off ...
    assert all(r.preview.shape == (32, 32, 3) for r in framed) and runs[4][1].image.shape == (32, 32, 3)
    # ... but the margin's pixels are learned too: the objective sees them, so the run differs.
    assert not np.allclose(runs[0][1].image, runs[4][1].image)
    assert runs[4][1].config.edge_margin == 4


def test_edge_margin_leaves_tiles_and_layout_levels_alone():
    exemplar = make_texture(48)
    tile = TINY.replace(tileable=True)
    assert np.array_equal(run_synthesis(tile, exemplar).image, run_synthesis(tile.replace(edge_margin=4), exemplar).image)
    assert level_margin(TINY.replace(edge_margin=4), layout=True, side=32) == 0
    assert level_margin(tile.replace(edge_margin=4), layout=False, side=32) == 0
    assert level_margin(TINY.replace(edge_margin=4), layout=False, side=32) == 4
    # A laid-out run: its patch level (32 px) is the same with and without a margin; the feature level is not.
    laid_out = TINY.replace(width=64, height=64, steps=3, pyramid_levels=2, layout_steps=3, preview_every=1)
    runs = runs_by(laid_out, "edge_margin", (0, 4), make_texture(64))
    coarse = [i for i, r in enumerate(runs[0][0]) if r.level == 0]
    # (A patch level repeats only to the last bit of float32: two runs of it differ by about 1e-7.)
    assert coarse and all(np.allclose(runs[0][0][i].preview, runs[4][0][i].preview, atol=1e-5) for i in coarse)
    assert np.abs(runs[0][1].image - runs[4][1].image).max() > 1e-3
    assert runs[4][1].image.shape == (64, 64, 3)


def test_a_run_with_an_edge_margin_stopped_midway_returns_the_size_asked_for():
    stop = StopToken()
    result = run_synthesis(TINY.replace(steps=20, edge_margin=6), make_texture(48), stop=stop,
                           on_step=lambda r: stop.set() if r.iteration == 2 else None)
    assert result.stopped and result.iterations == 2 and result.image.shape == (32, 32, 3)


def test_a_canvas_narrower_than_its_margin_takes_what_fits():
    assert level_margin(TINY.replace(edge_margin=16), layout=False, side=8) == 7
    result = run_synthesis(TINY.replace(width=8, height=8, steps=2, edge_margin=16), make_texture(48))
    assert result.image.shape == (8, 8, 3) and result.iterations == 2


@pytest.mark.parametrize("bad", [-1, 17, 2.5, True, "4"])
def test_edge_margin_out_of_range_is_refused(bad):
    with pytest.raises(ConfigError, match="edge_margin must be 0 to 16 px"):
        TINY.replace(edge_margin=bad)
