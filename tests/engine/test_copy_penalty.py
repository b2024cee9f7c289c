"""The layout levels' copy term (engine/copy_penalty.py)."""

import pytest
import torch

from texstudio.engine.canvas import image_to_tensor
from texstudio.engine.config import SynthConfig
from texstudio.engine.backbones import build_backbone
from texstudio.engine.copy_penalty import (
    COPY_WINDOW, EXEMPLAR_WINDOWS, FULL_SIZE_SCALE, FULL_SIZE_WINDOW, CopyPenalty, pooling,
)
from texstudio.engine.objective import TextureObjective
from texstudio.engine.errors import ConfigError
from texstudio.engine.synthesis import full_size_copy, run_synthesis

from ..conftest import make_texture
from .test_layout import checkerboard


def test_a_verbatim_crop_is_penalised_and_noise_is_not():
    exemplar = image_to_tensor(make_texture(48, seed=3), "cpu")
    penalty = CopyPenalty(exemplar, torus=False, seed=0, level=0)
    crop = exemplar[:, :, 5:37, 9:41]
    assert float(penalty(crop)) > 0.1  # every window matches one place at correlation 1
    noise = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert float(penalty(noise)) == 0.0


def test_a_canvas_smaller_than_a_window_copies_nothing():
    # The square a first layout level is grown from can be under a window once pooled.
    exemplar = image_to_tensor(make_texture(48, seed=3), "cpu")
    penalty = CopyPenalty(exemplar, torus=False, seed=0, level=0, pool=2)
    small = exemplar[:, :, 5:5 + 2 * COPY_WINDOW - 2, 9:9 + 2 * COPY_WINDOW - 2].clone().requires_grad_(True)
    value = penalty(small)
    value.backward()
    assert float(value.detach()) == 0.0 and small.grad is not None and not small.grad.any()
    assert float(penalty(exemplar[:, :, 5:5 + 2 * COPY_WINDOW + 8, 9:9 + 2 * COPY_WINDOW + 8])) > 0.1  # one that fits


def test_a_lattice_copied_is_not_a_distinctive_match():
    # Every window of a checkerboard matches many places alike: no copy to push off, so a
    # regular board is not pushed off its squares.
    board = image_to_tensor(checkerboard(48, 6), "cpu")
    penalty = CopyPenalty(board, torus=False, seed=0, level=0)
    assert float(penalty(board[:, :, 6:38, 12:44])) == 0.0


def test_its_gradient_moves_a_copy_off_the_exemplar():
    exemplar = image_to_tensor(make_texture(48, seed=5), "cpu")
    penalty = CopyPenalty(exemplar, torus=True, seed=0, level=0)
    canvas = exemplar[:, :, :32, :32].clone().requires_grad_(True)
    optimizer = torch.optim.Adam([canvas], lr=0.02)
    first = float(penalty(canvas).detach())
    for _ in range(30):
        optimizer.zero_grad()
        penalty(canvas).backward()
        optimizer.step()
    assert float(penalty(canvas).detach()) < 0.5 * first


def test_large_exemplars_are_searched_on_a_coarser_grid_and_canvases_sampled():
    small = CopyPenalty(torch.rand(1, 3, 64, 64), torus=False, seed=0, level=0)
    assert small.stride == 1 and len(small.theirs) == (64 - COPY_WINDOW + 1) ** 2
    large = CopyPenalty(torch.rand(1, 3, 300, 300), torus=False, seed=0, level=0)
    assert large.stride == 2 and len(large.theirs) <= EXEMPLAR_WINDOWS
    assert large(torch.rand(1, 3, 256, 256)).shape == ()  # sampled windows, bounded memory


def test_coarse_levels_whose_canvas_outnumbers_the_exemplar_get_it_the_half_size_one_pooled():
    # A held-out half shrunk by 4 and 8 against a 256 px output's 64 and 32 px canvases.
    assert pooling(4, (64, 32), (64, 64)) == 1 and pooling(8, (32, 16), (32, 32)) == 1
    # Half size: seen at quarter size, where its patches rebuild copies (docs/anti_copy).
    assert pooling(2, (128, 64), (128, 128)) == 2
    assert pooling(8, (COPY_WINDOW, 40), (64, 64)) == 0  # no room for a window
    assert pooling(2, (2 * COPY_WINDOW, 80), (128, 128)) == 0  # nor once pooled
    # A whole photo as large as the output: each window is asked for once; left as it was.
    assert pooling(4, (64, 64), (64, 64)) == 0 and pooling(2, (128, 128), (128, 128)) == 0


def test_the_pooled_term_sees_a_copy_at_the_coarser_scale():
    # A half-size level's exemplar (here one enlarged by 2) is searched pooled back to quarter size.
    exemplar = image_to_tensor(make_texture(48, seed=3), "cpu")
    level = torch.nn.functional.interpolate(exemplar, scale_factor=2, mode="nearest")
    penalty = CopyPenalty(level, torus=False, seed=0, level=0, pool=2)
    assert len(penalty.theirs) == (48 - COPY_WINDOW + 1) ** 2
    assert float(penalty(level[:, :, 10:74, 18:82])) > 0.1  # a crop of it: a copy, pooled too
    noise = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    assert float(penalty(noise)) == 0.0


def test_a_run_reports_the_term_on_its_layout_levels_only():
    config = SynthConfig(width=128, height=128, steps=2, backbone="random-multiscale", layers=("relu_k3",),
                         gram_weight=1.0, pyramid_levels=3, layout_steps=3, layout_copy_weight=1.0,
                         device="cpu", preview_every=1)
    terms_by_level: dict[int, set] = {}
    run_synthesis(config, make_texture(96, seed=1),
                  on_step=lambda r: terms_by_level.setdefault(r.level, set()).update(r.losses))
    assert "copy" in terms_by_level[0]  # 32 px: a quarter of the output
    assert {"copy", "patch"} <= terms_by_level[1]  # 64 px: half, seen pooled to quarter size
    assert not any(name == "copy" for name in terms_by_level[2])
    whole: set = set()  # an exemplar as large as the output at half size: no copy term there
    run_synthesis(config, make_texture(128, seed=1),
                  on_step=lambda r: whole.update(r.losses) if r.level == 1 else None)
    assert "patch" in whole and "copy" not in whole
    plain = config.replace(layout_copy_weight=0.0)
    off: set = set()
    run_synthesis(plain, make_texture(128, seed=1), on_step=lambda r: off.update(r.losses))
    assert "copy" not in off


@pytest.mark.parametrize("bad", [-1.0, float("inf"), float("nan"), "1"])
@pytest.mark.parametrize("field", ["layout_copy_weight", "copy_weight"])
def test_a_bad_copy_weight_is_refused(field, bad):
    with pytest.raises(ConfigError, match=f"{field} must be a finite number"):
        SynthConfig(**{field: bad})


def test_the_full_size_level_sees_it_at_half_size_where_the_exemplar_is_smaller():
    # A held-out half against a 256 px output: halved, 128x64 px against 128x128.
    assert pooling(1, (256, 128), (256, 256), FULL_SIZE_SCALE) == 2
    assert pooling(1, (256, 256), (256, 256), FULL_SIZE_SCALE) == 0  # a whole photo: left alone
    assert pooling(1, (256, 128), (256, 256), FULL_SIZE_SCALE, FULL_SIZE_WINDOW) == 2  # its 16 px windows fit
    assert pooling(1, (64, 30), (256, 256), FULL_SIZE_SCALE, FULL_SIZE_WINDOW) == 0  # 15 px once halved: they do not
    assert pooling(1, (64, 30), (256, 256), FULL_SIZE_SCALE) == 2  # 11 px ones would


def full_size_objective(copy_weight: float, exemplar: torch.Tensor, side: int, margin: int = 0, tile=None):
    config = SynthConfig(width=side, height=side, backbone="random-multiscale", layers=("relu_k3",),
                         gram_weight=1.0, copy_weight=copy_weight, device="cpu")
    penalty = full_size_copy(config, exemplar, 1, 0)  # as a run builds it
    return TextureObjective(config, build_backbone(config.backbone, config.pooling, False, 0), exemplar,
                            side + 2 * margin, side + 2 * margin, tile=tile, copy_penalty=penalty, margin=margin)


def test_the_full_size_objective_charges_a_copied_canvas_but_not_its_margin():
    exemplar = image_to_tensor(make_texture(64, seed=3), "cpu")
    copied = exemplar.repeat(1, 1, 2, 2)  # 128 px of the exemplar four times over: copies everywhere
    noise = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    assert float(full_size_objective(1.0, exemplar, 128)(copied)["copy"]) > 0.1
    assert float(full_size_objective(1.0, exemplar, 128)(noise)["copy"]) == 0.0
    assert "copy" not in full_size_objective(0.0, exemplar, 128)(copied)  # weight 0: no term
    # Noise inside a 24 px margin of copies: the margin is cut off, so nothing there is a copy.
    framed = exemplar.repeat(1, 1, 3, 3)[:, :, :176, :176].clone()
    framed[:, :, 24:152, 24:152] = noise
    assert float(full_size_objective(1.0, exemplar, 128, margin=24)(framed)["copy"]) == 0.0
    # Evaluated in tiles, the statistics are gathered piece by piece; the term still reads the whole canvas.
    tiled = full_size_objective(1.0, exemplar, 128, tile=64)
    assert tiled.tiling is not None
    canvas = copied.clone().requires_grad_(True)
    terms = tiled.loss_and_grad(canvas)
    assert float(terms["copy"]) > 0.1 and canvas.grad is not None and canvas.grad.abs().sum() > 0


def test_a_run_reports_it_on_the_full_size_level_of_a_small_exemplar():
    config = SynthConfig(width=96, height=96, steps=2, backbone="random-multiscale", layers=("relu_k3",),
                         gram_weight=1.0, pyramid_levels=2, copy_weight=1.0, device="cpu", preview_every=1)
    terms_by_level: dict[int, set] = {}
    run_synthesis(config, make_texture(64, seed=1),
                  on_step=lambda r: terms_by_level.setdefault(r.level, set()).update(r.losses))
    assert "copy" in terms_by_level[1] and "copy" not in terms_by_level[0]
    whole: set = set()  # an exemplar as large as the output: none
    run_synthesis(config, make_texture(96, seed=1), on_step=lambda r: whole.update(r.losses))
    assert "gram/relu_k3" in whole and "copy" not in whole


def test_its_sample_of_a_large_canvas_is_seeded():
    exemplar, canvas = torch.rand(1, 3, 300, 300), torch.rand(1, 3, 256, 256)
    canvas[:, :, :100, :100] = exemplar[:, :, 50:150, 50:150]  # a copied corner, so the value is not 0
    values = [float(CopyPenalty(exemplar, False, seed, level)(canvas)) for seed, level in ((0, 0), (0, 0), (0, 1))]
    assert values[0] == values[1] > 0 and values[2] != values[0]


@pytest.mark.parametrize("window", [COPY_WINDOW, FULL_SIZE_WINDOW])
@pytest.mark.parametrize("side", [40, 300])  # every window, and every 2nd (EXEMPLAR_WINDOWS)
def test_the_windows_left_out_of_the_runner_up_are_exactly_those_overlapping_the_best(side, window):
    penalty = CopyPenalty(torch.rand(1, 3, side, side + 13, generator=torch.Generator().manual_seed(0)), False, 0, 0,
                          window=window)
    where = torch.tensor([0, penalty.columns - 1, len(penalty.theirs) - 1, len(penalty.theirs) // 2 + 3])
    index = torch.arange(len(penalty.theirs))
    tops, lefts = index // penalty.columns * penalty.stride, index % penalty.columns * penalty.stride
    expected = ((tops[None] - tops[where][:, None]).abs() < window) \
        & ((lefts[None] - lefts[where][:, None]).abs() < window)
    marked = torch.zeros(len(where), len(penalty.theirs)).scatter_(1, penalty._overlapping(where), 1.0).bool()
    assert torch.equal(marked, expected) and expected.sum(dim=1).min() > 1
