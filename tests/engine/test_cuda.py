"""The CUDA path: the same engine on a GPU. Skipped where torch sees no CUDA device.

CI has no GPU, so these run only where one is lent (bench/gpu.py runs them first and
records the outcome in bench/results/gpu.md). They check what can go wrong only on a
GPU: tensors left on the wrong device (seeded CPU generators, numpy round trips), tiles
cut and summed on the device, bf16 autocast, and the patch layout's and the trainer's
device handling.
"""

import numpy as np
import pytest
import torch

from tests.conftest import make_texture
from texstudio.engine import tiling
from texstudio.engine.backbones import build_backbone
from texstudio.engine.canvas import image_to_tensor
from texstudio.engine.config import SynthConfig
from texstudio.engine.objective import TextureObjective
from texstudio.engine.presets import default_config
from texstudio.engine.synthesis import run_synthesis

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

CUDA = torch.device("cuda")
CPU = torch.device("cpu")


def terms_and_grad(config: SynthConfig, device: torch.device, tile: int = 0, height: int = 70, width: int = 90):
    backbone = build_backbone(config.backbone, "avg", config.tileable, 0).to(device)
    target_backbone = backbone.planar() if config.tileable else backbone
    exemplar = image_to_tensor(make_texture(80), device)
    objective = TextureObjective(config, backbone, exemplar, height, width, 0, target_backbone, tile=tile)
    canvas = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(1)).to(device)
    canvas.requires_grad_(True)
    terms = objective.loss_and_grad(canvas)
    return {k: float(v) for k, v in terms.items()}, canvas.grad.detach().cpu(), objective


@pytest.mark.parametrize("backbone, torus", [("random-multiscale", False), ("random-multiscale", True),
                                             ("vgg19", False)])
def test_cuda_gives_the_cpu_terms_and_gradient(backbone, torus):
    # fp32 on both (conftest sets TEXSTUDIO_BF16=0) and no TF32: the arithmetic, not its
    # rounding (with cuDNN's default TF32 the VGG19 gradient differed by 6% of its largest
    # value, measured on an H200; the default runs in bf16 anyway).
    extra = {"layers": ("relu1_1", "relu2_1", "relu3_1")} if backbone == "vgg19" else {}
    config = SynthConfig(width=90, height=70, backbone=backbone, tileable=torus, color_weight=1.0,
                         spectrum_weight=0.5, **extra)
    cpu_terms, cpu_grad, _ = terms_and_grad(config, CPU)
    with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        cuda_terms, cuda_grad, _ = terms_and_grad(config, CUDA)
    assert list(cpu_terms) == list(cuda_terms)
    for key in cpu_terms:
        assert cuda_terms[key] == pytest.approx(cpu_terms[key], rel=1e-4, abs=1e-9), key
    scale = float(cpu_grad.abs().max())
    assert float((cuda_grad - cpu_grad).abs().max()) <= 1e-3 * scale


@pytest.mark.parametrize("torus", [False, True])
def test_tiles_on_cuda_give_the_whole_canvas(torus):
    config = SynthConfig(width=90, height=70, backbone="random-multiscale", tileable=torus, color_weight=1.0)
    with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):  # as above: the arithmetic
        whole, whole_grad, plain = terms_and_grad(config, CUDA)
        tiled, tiled_grad, split = terms_and_grad(config, CUDA, tile=24)
    assert plain.tiling is None and split.tiling is not None and len(split.tiling.tiles) >= 4
    for key in whole:
        assert tiled[key] == pytest.approx(whole[key], rel=1e-5, abs=1e-9), key
    assert float((tiled_grad - whole_grad).abs().max()) <= 1e-5 * float(whole_grad.abs().max())


def test_a_gpu_tiles_only_what_would_not_fit_in_its_free_memory(monkeypatch):
    config = SynthConfig(width=2048, height=2048, backbone="random-multiscale", color_weight=1.0)
    backbone = build_backbone("random-multiscale").to(CUDA)
    exemplar = image_to_tensor(make_texture(64), CUDA)
    monkeypatch.setattr(tiling, "GPU_WHOLE_SHARE", 1e9)  # everything fits: whole, unlike on a CPU
    assert TextureObjective(config, backbone, exemplar, 2048, 2048).tiling is None
    monkeypatch.setattr(tiling, "GPU_WHOLE_SHARE", 0.0)  # nothing fits: tiles, even at 64 px
    assert TextureObjective(config, backbone, exemplar, 64, 64).tiling is not None


def test_the_default_run_on_cuda_is_bf16_and_learns(monkeypatch):
    monkeypatch.delenv("TEXSTUDIO_BF16")  # the engine's own choice, as a user gets it
    config = default_config(64, 64, device="cuda").replace(steps=24, preview_every=8)
    records = []
    result = run_synthesis(config, make_texture(64), on_step=records.append)
    assert result.device.startswith("cuda") and result.precision == "bf16"
    assert result.image.shape == (64, 64, 3) and np.isfinite(result.image).all()
    assert 0.0 <= result.image.min() and result.image.max() <= 1.0
    losses = [r.loss for r in records if np.isfinite(r.loss) and r.level == records[-1].level]
    assert losses[-1] < losses[0]
    assert records[-1].preview is not None and records[-1].grams  # the GUI's views come back as numpy


def test_a_repeating_exemplar_is_laid_out_on_cuda():
    y, x = np.mgrid[0:96, 0:96]
    checker = (((y // 12) + (x // 12)) % 2).astype(np.float32)
    exemplar = np.stack([0.2 + 0.6 * checker, 0.3 + 0.4 * checker, 0.5 - 0.3 * checker], axis=-1)
    config = default_config(96, 96, device="cuda").replace(steps=12, preview_every=0)
    result = run_synthesis(config, exemplar)
    assert result.config.layout_steps > 0  # the patch layout ran on the GPU
    assert np.isfinite(result.image).all()


def test_a_tileable_adam_run_on_cuda():
    config = default_config(64, 64, device="cuda").replace(steps=10, tileable=True, optimizer="adam", auto_layout=False,
                                                           learning_rate=0.02, preview_every=0)
    result = run_synthesis(config, make_texture(64))
    assert result.iterations == 10 and np.isfinite(result.image).all()


def test_training_runs_on_cuda(tmp_path):
    from PIL import Image

    from texstudio.engine.training import TrainConfig, run_training

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(5):
        Image.fromarray((make_texture(48, seed=i) * 255).astype(np.uint8)).save(folder / f"{i}.png")
    config = TrainConfig(architecture="fcn-pyramid", epochs=2, patch_size=32, crops_per_image=2, batch_size=4,
                         device="cuda", preview_every=0)
    records = []
    result = run_training(config, folder, tmp_path / "model", on_progress=records.append)
    assert result.epochs_done == 2 and (tmp_path / "model" / "model.json").exists()
    losses = [r.train_loss for r in records if r.phase == "batch"]
    assert losses and all(np.isfinite(losses))
