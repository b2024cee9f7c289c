"""Memory layout and reduced precision change speed, not results (bench/speed.py measures speed)."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from texstudio.engine import acceleration
from texstudio.engine.config import SynthConfig
from texstudio.engine.synthesis import run_synthesis, synthesize_and_score

from ..conftest import make_texture

TINY = SynthConfig(width=32, height=32, steps=5, layers=("relu1_1", "relu2_1"), device="cpu", preview_every=0)


def test_overrides_are_read_from_the_environment(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setenv("TEXSTUDIO_CHANNELS_LAST", "0")
    assert acceleration.channels_last(cpu) is False
    monkeypatch.setenv("TEXSTUDIO_CHANNELS_LAST", "1")
    assert acceleration.channels_last(cpu) is True
    monkeypatch.setenv("TEXSTUDIO_BF16", "1")
    assert acceleration.bf16_autocast(cpu) is True
    assert acceleration.bf16_autocast(torch.device("meta")) is False  # never where autocast has no bf16
    monkeypatch.setenv("TEXSTUDIO_BF16", "off")
    assert acceleration.bf16_autocast(cpu) is False


def test_channels_last_gives_the_same_loss_and_gradient(monkeypatch):
    from texstudio.engine.backbones import build_backbone
    from texstudio.engine.canvas import image_to_tensor
    from texstudio.engine.objective import TextureObjective

    # Compared on one evaluation, not on a whole run's image: a run that overshoots once
    # (this one's loss goes 0.44, 0.45, 1.38) turns rounding in the 5th digit into pixels
    # 0.005 apart by its 5th step, with either layout deterministic on its own.
    cpu = torch.device("cpu")
    config = TINY.replace(gram_weight=1.0, sw_weight=0.5)
    exemplar = image_to_tensor(make_texture(48), cpu)
    canvas = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    results = []
    for flag in ("0", "1"):
        monkeypatch.setenv("TEXSTUDIO_CHANNELS_LAST", flag)
        monkeypatch.setenv("TEXSTUDIO_BF16", "0")
        backbone = build_backbone(config.backbone)
        if flag == "1":
            backbone = backbone.to(memory_format=torch.channels_last)
        objective = TextureObjective(config, backbone, exemplar, 32, 32)
        assert objective.channels_last is (flag == "1")
        image = canvas.clone().requires_grad_(True)
        loss = float(sum(objective.loss_and_grad(image).values()))
        results.append((loss, image.grad.clone()))
    (loss_a, grad_a), (loss_b, grad_b) = results
    # Same arithmetic in another order: float rounding only.
    assert loss_a == pytest.approx(loss_b, rel=1e-5)
    assert (grad_a - grad_b).abs().max() < 1e-4 * grad_a.abs().max()


def test_bf16_autocast_runs_with_fp32_losses_and_lowers_the_loss(monkeypatch):
    monkeypatch.setenv("TEXSTUDIO_BF16", "1")
    result = run_synthesis(TINY.replace(steps=8, optimizer="adam", learning_rate=0.05), make_texture(48))
    assert np.isfinite(result.loss_history).all()
    assert result.loss_history[-1] < result.loss_history[0]
    assert result.sidecar()["precision"] == "bf16"
    monkeypatch.setenv("TEXSTUDIO_BF16", "0")
    assert run_synthesis(TINY.replace(steps=1), make_texture(48)).sidecar()["precision"] == "fp32"


def test_the_cpu_precision_is_the_same_in_every_process(monkeypatch):
    """The default choice is read off the CPU: a timed self-test used to flip between processes."""
    monkeypatch.delenv("TEXSTUDIO_BF16")
    probe = ("import torch; from texstudio.engine import acceleration; "
             "print(acceleration.precision(torch.device('cpu')))")
    answers = {subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
               for _ in range(3)}
    assert len(answers) == 1
    expected = "bf16" if acceleration.cpu_has_bf16() else "fp32"
    assert answers == {expected}


def test_the_sidecar_records_the_cpu_threads_a_replay_needs():
    """Another thread count changes oneDNN's sums and so the image: the sidecar says which ran."""
    assert run_synthesis(TINY.replace(steps=1), make_texture(48)).sidecar()["threads"] == torch.get_num_threads()
    probe = ("from tests.conftest import make_texture; from tests.engine.test_acceleration import TINY; "
             "from texstudio.engine.synthesis import run_synthesis; "
             "print(run_synthesis(TINY.replace(steps=1), make_texture(48)).sidecar()['threads'])")
    for threads in ("1", "2"):
        env = {**os.environ, "OMP_NUM_THREADS": threads}
        ran = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env)
        assert ran.stdout.strip() == threads


def test_scored_runs_carry_the_quality_report_into_the_sidecar():
    steps = synthesize_and_score(TINY.replace(tileable=True), make_texture(48))
    try:
        while True:
            next(steps)
    except StopIteration as done:
        result = done.value
    assert set(result.quality) == {"color_distance", "spectrum_distance", "patch_distance", "copy_fraction",
                                   "seam_score"}
    assert result.sidecar()["quality"] == result.quality
