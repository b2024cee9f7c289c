"""Tiled evaluation (engine/tiling.py): the same statistics and gradient as the whole canvas."""

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from tests.conftest import make_texture
from texstudio.engine import tiling
from texstudio.engine.backbones import SequentialBackbone, build_backbone
from texstudio.engine.config import SynthConfig
from texstudio.engine.models import TrainedBackbone
from texstudio.engine.canvas import image_to_tensor
from texstudio.engine.objective import TextureObjective
from texstudio.engine.synthesis import run_synthesis
from texstudio.engine.tiling import spans
from texstudio.engine.trainable import build_network

CPU = torch.device("cpu")


@pytest.mark.parametrize("torus", [False, True])
@pytest.mark.parametrize("length, tile, halo, jump", [(70, 24, 11, 1), (98, 32, 16, 8), (64, 32, 8, 8), (20, 32, 11, 1)])
def test_spans_cover_the_axis_once_with_aligned_interiors(length, tile, halo, jump, torus):
    result = spans(length, tile, halo, jump, torus)
    assert result[0].start == 0 and result[-1].stop == length
    assert all(a.stop == b.start for a, b in zip(result, result[1:]))
    assert all(s.start % jump == 0 for s in result)
    if len(result) == 1:
        assert (result[0].cut_start, result[0].cut_stop) == (0, length)  # whole axis, no halo
    elif torus:  # the halo wraps past the ends
        assert all((s.cut_start, s.cut_stop) == (s.start - halo, s.stop + halo) for s in result)
    else:  # clipped flush with the image's edges, where the network pads as it pads the whole image
        assert all((s.cut_start, s.cut_stop) == (max(0, s.start - halo), min(length, s.stop + halo)) for s in result)


def test_geometry_of_vgg19_and_the_multiscale_network():
    vgg = build_backbone("vgg19")
    # conv1_1 reaches 1 px; conv1_2 2; pool1 one more and stride 2; conv2_1 two more (1 map px = 2 image px).
    assert vgg.geometry(["relu1_1", "relu2_1"]) == {"relu1_1": (1, 1), "relu2_1": (5, 2)}
    assert build_backbone("random-multiscale").geometry(["relu_k3", "relu_k23"]) == {"relu_k3": (1, 1), "relu_k23": (11, 1)}


def test_a_network_with_an_unknown_stage_is_not_tiled():
    class Strided(SequentialBackbone):
        default_layers = ("conv",)

        def __init__(self):
            super().__init__()
            self.stages["conv"] = nn.Conv2d(3, 8, 3, stride=2, padding=1)
            self.freeze()

    backbone = Strided()
    assert backbone.geometry(["conv"]) is None
    config = SynthConfig(width=64, height=64, backbone="strided")
    objective = TextureObjective(config, backbone, image_to_tensor(make_texture(64), CPU), 64, 64, tile=16)
    assert objective.tiling is None  # evaluated whole, as before


def _trained(name: str, torus: bool):
    spec = {"name": name, **({"num_classes": 3} if name == "vgg-small" else {})}
    return TrainedBackbone(build_network(spec, torus=torus, seed=3), {}, Path("trained"))


CASES = [
    # backbone, torus, height, width, tile, extra config
    ("random-multiscale", False, 70, 90, 24, {"color_weight": 1.0}),
    ("random-multiscale", True, 70, 90, 24, {"color_weight": 1.0, "spectrum_weight": 0.5}),
    ("random-multiscale", False, 64, 64, 24, {"gap_weight": 1.0}),
    ("vgg19", False, 75, 98, 32, {"layers": ("relu1_1", "relu2_1", "relu3_1")}),
    ("vgg19", True, 64, 96, 32, {"layers": ("relu1_1", "relu2_1", "relu3_1"), "gap_weight": 0.5}),
    ("fcn-pyramid", False, 70, 90, 40, {}),
    ("fcn-lichen", True, 60, 60, 24, {}),
    # Sliced Wasserstein: every position is kept at these sizes, so tiles and whole sort the same points.
    ("random-multiscale", False, 70, 90, 24, {"gram_weight": 0.0, "sw_weight": 1.0, "color_weight": 1.0}),
    ("random-multiscale", True, 64, 64, 24, {"sw_weight": 0.5, "sw_directions": 16}),
    ("vgg19", False, 75, 98, 32, {"layers": ("relu1_1", "relu2_1", "relu3_1"), "sw_weight": 1.0}),
]


@pytest.mark.parametrize("name, torus, height, width, tile, extra", CASES)
def test_tiled_terms_and_gradient_equal_the_whole_canvas(name, torus, height, width, tile, extra):
    if name.startswith("fcn"):
        backbone, config_name = _trained(name, torus), "trained"
    else:
        backbone, config_name = build_backbone(name, "avg", torus, 0), name
    target_backbone = backbone.planar() if torus else backbone
    config = SynthConfig(width=width, height=height, backbone=config_name, tileable=torus, **extra)
    exemplar = image_to_tensor(make_texture(80), CPU)
    results = []
    for tile_side in (0, tile):
        objective = TextureObjective(config, backbone, exemplar, height, width, 0, target_backbone, tile=tile_side)
        canvas = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(1)).requires_grad_(True)
        terms = objective.loss_and_grad(canvas)
        with torch.no_grad():
            values = objective(canvas.detach())  # the value-only path, as the end-of-level check uses it
        grams = objective.canvas_grams(canvas)
        results.append((terms, values, canvas.grad.clone(), grams, objective))
    (whole, whole_values, whole_grad, whole_grams, plain), (tiled, tiled_values, tiled_grad, tiled_grams, split) = results
    assert plain.tiling is None and split.tiling is not None and len(split.tiling.tiles) >= 4
    assert list(whole) == list(tiled)  # the same terms, in the same order
    for key in whole:
        assert float(tiled[key]) == pytest.approx(float(whole[key]), rel=1e-5, abs=1e-9)
        assert float(tiled_values[key]) == pytest.approx(float(whole_values[key]), rel=1e-5, abs=1e-9)
    scale = float(whole_grad.abs().max())
    assert scale > 0
    # SW sums its sorted points in another order when they come tile by tile: 1e-5 of the
    # gradient's scale for sums over positions, 1e-4 with SW (measured 1.5e-5).
    tolerance = 1e-4 if extra.get("sw_weight") else 1e-5
    assert float((tiled_grad - whole_grad).abs().max()) <= tolerance * scale
    for layer in whole_grams or {}:  # None when Gram matching is off
        np.testing.assert_allclose(tiled_grams[layer], whole_grams[layer], rtol=1e-4, atol=1e-6)
    for layer in plain.target_grams:  # the exemplar (80 px) is tiled too, through the planar twin
        torch.testing.assert_close(split.target_grams[layer], plain.target_grams[layer], rtol=1e-4, atol=1e-6)


def test_tiles_agree_with_the_whole_canvas_under_bf16_autocast(monkeypatch):
    """On a CPU with bf16 instructions the default runs the backbone in bf16: the tiles must
    still give the whole canvas's terms and gradient, to bf16 rounding."""
    monkeypatch.setenv("TEXSTUDIO_BF16", "1")
    backbone = build_backbone("random-multiscale")
    config = SynthConfig(width=90, height=70, backbone="random-multiscale", color_weight=1.0)
    exemplar = image_to_tensor(make_texture(80), CPU)
    results = []
    for tile_side in (0, 24):
        objective = TextureObjective(config, backbone, exemplar, 70, 90, tile=tile_side)
        assert objective.bf16
        canvas = torch.rand(1, 3, 70, 90, generator=torch.Generator().manual_seed(1)).requires_grad_(True)
        terms = objective.loss_and_grad(canvas)
        results.append((terms, canvas.grad.clone()))
    (whole, whole_grad), (tiled, tiled_grad) = results
    for key in whole:
        assert float(tiled[key]) == pytest.approx(float(whole[key]), rel=1e-2)
    assert float((tiled_grad - whole_grad).abs().max()) <= 2e-2 * float(whole_grad.abs().max())


def test_losses_that_need_whole_maps_are_not_tiled():
    exemplar = image_to_tensor(make_texture(64), CPU)
    backbone = build_backbone("random-multiscale")
    config = SynthConfig(width=64, height=64, backbone="random-multiscale", corr_weight=1.0)
    assert TextureObjective(config, backbone, exemplar, 64, 64, tile=16).tiling is None


def test_tiled_sliced_wasserstein_samples_positions_and_follows_its_own_gradient(monkeypatch):
    """Above its budget the SW loss sorts a sample of positions, kept tile by tile: about the
    budget per layer, and the gradient the second pass gives is that sampled loss's own."""
    from texstudio.engine import objective as objective_module

    monkeypatch.setattr(objective_module, "SW_MAX_POINTS", 300)
    backbone = build_backbone("random-multiscale")
    config = SynthConfig(width=72, height=72, backbone="random-multiscale", gram_weight=0.0, sw_weight=1.0,
                         color_weight=0.0, layers=("relu_k3", "relu_k11"))
    objective = TextureObjective(config, backbone, image_to_tensor(make_texture(80), CPU), 72, 72, tile=24)
    assert objective.tiling is not None and len(objective.tiling.tiles) == 9
    assert all(280 <= points.shape[1] <= 320 for points in objective.target_points.values())
    canvas = torch.rand(1, 3, 72, 72, generator=torch.Generator().manual_seed(2))
    direction = torch.randn(canvas.shape, generator=torch.Generator().manual_seed(3))
    state = objective.generator.get_state()  # the same sample and directions for every evaluation below

    def loss(image):
        objective.generator.set_state(state)
        with torch.no_grad():
            return sum(float(v) for v in objective(image).values())

    objective.generator.set_state(state)
    leaf = canvas.clone().requires_grad_(True)
    objective.loss_and_grad(leaf)
    assert objective.generator.get_state().equal(state) is False  # it did draw a sample
    eps = 1e-3
    numeric = (loss(canvas + eps * direction) - loss(canvas - eps * direction)) / (2 * eps)
    analytic = float((leaf.grad * direction).sum())
    assert analytic == pytest.approx(numeric, rel=0.05)


def test_a_torus_whose_side_the_deepest_stride_does_not_divide_is_not_tiled():
    backbone = build_backbone("vgg19", "avg", True, 0)
    config = SynthConfig(width=70, height=64, backbone="vgg19", tileable=True, layers=("relu1_1", "relu3_1"))
    objective = TextureObjective(config, backbone, image_to_tensor(make_texture(64), CPU), 64, 70, 0,
                                 backbone.planar(), tile=32)
    assert objective.tiling is None  # 70 is not a multiple of relu3_1's stride of 4


def test_large_canvases_are_tiled_by_default_small_ones_not():
    config = SynthConfig(width=64, height=64, backbone="random-multiscale")
    backbone = build_backbone("random-multiscale")
    exemplar = image_to_tensor(make_texture(64), CPU)
    assert TextureObjective(config, backbone, exemplar, 64, 64).tiling is None
    side = int(tiling.TILE_ABOVE_PIXELS ** 0.5) + 1
    big = TextureObjective(config.replace(width=side, height=side), backbone, exemplar, side, side)
    assert big.tiling is not None and len(big.tiling.tiles) == 9


def test_a_gpu_tiles_by_free_memory_a_cpu_by_size():
    per_pixel = 4 * tiling.activation_floats_per_pixel("random-multiscale", [f"relu_k{k}" for k in (3, 5, 7, 11, 15, 23)])
    assert 2.5 * 1024 < per_pixel < 3.5 * 1024  # measured on an H200 in bf16: 2.9 KiB a pixel (bench/gpu.py)
    gib = 1 << 30
    whole_4096 = 4096 * 4096 * per_pixel  # 46.9 GiB measured
    assert not tiling.needs_tiles(4096, 4096, whole_4096, free_bytes=139 * gib)  # an H200: whole, 1.6x faster
    assert tiling.needs_tiles(4096, 4096, whole_4096, free_bytes=22 * gib)  # a 24 GiB card: tiles
    assert tiling.needs_tiles(2048, 2048, 2048 * 2048 * per_pixel, free_bytes=22 * gib)
    assert not tiling.needs_tiles(1024, 1024, 1024 * 1024 * per_pixel, free_bytes=22 * gib)
    # A CPU (no free_bytes) goes by size alone: tiles are smaller and faster there from 2048 px.
    assert tiling.needs_tiles(2048, 2048, 0.0) and not tiling.needs_tiles(1024, 1024, 1e15)
    vgg = 4 * tiling.activation_floats_per_pixel("vgg19", ["relu1_1", "relu5_1"])
    assert vgg > 4 * tiling.activation_floats_per_pixel("vgg19", ["relu1_1", "relu2_1"]) > 0


def test_a_tiled_run_learns_the_same_image(monkeypatch):
    """A whole run with every level tiled ends where the untiled run does (L-BFGS, 6 steps)."""
    config = SynthConfig(width=64, height=64, steps=6, backbone="random-multiscale", color_weight=1.0,
                         pyramid_levels=2, pyramid_noise=1.0, preview_every=3)
    exemplar = make_texture(64)
    whole = run_synthesis(config, exemplar)
    monkeypatch.setattr(tiling, "TILE_ABOVE_PIXELS", 16 * 16)
    monkeypatch.setattr("texstudio.engine.objective.TILE_SIDE", 24)
    records = []
    tiled = run_synthesis(config, exemplar, on_step=records.append)
    assert records[-1].grams is not None  # the Gram view is fed from the tiles
    assert tiled.iterations == whole.iterations == 6
    np.testing.assert_allclose(tiled.image, whole.image, atol=1e-3)
    assert tiled.loss_history == pytest.approx(whole.loss_history, rel=1e-3)
