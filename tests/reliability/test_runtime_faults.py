"""Faults during a run: NaN/Inf losses, running out of memory, being stopped at any moment.

Out of memory in the CLI is tests/engine/test_cli.py::test_out_of_memory_is_one_line_exit_1_and_writes_nothing;
here the window meets it, in its own address-space-limited process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import make_texture
from tests.reliability.faults import REPO, cli_env
from tests.reliability.poison import nan_features_after, nan_outputs_after
from texstudio.cli import main
from texstudio.engine.cancel import StopToken
from texstudio.engine.config import SynthConfig
from texstudio.engine.errors import ConfigError, NumericalError
from texstudio.engine.synthesis import pyramid_plan, run_synthesis, synthesize

TINY = SynthConfig(width=32, height=32, steps=10, layers=("relu1_1", "relu2_1"), gram_weight=1.0, sw_weight=0.0,
                   spectrum_weight=0.0, pyramid_levels=1, preview_every=1, device="cpu")
EXEMPLAR = make_texture(48, seed=11)


# --- NaN and Inf -------------------------------------------------------------------------------

@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
@pytest.mark.parametrize("healthy", [0, 3, 7])
def test_a_nan_rolls_back_to_the_last_finite_canvas(optimizer, healthy):
    """Features turn NaN after ``healthy`` evaluations; on a 2-level pyramid, 7 is on the fine level."""
    config = TINY.replace(width=64, height=64, pyramid_levels=2, optimizer=optimizer,
                          learning_rate=0.02 if optimizer == "adam" else 1.0)
    assert [level[3] for level in pyramid_plan(config)] == [5, 5]
    records = []
    with nan_features_after(healthy), pytest.raises(NumericalError) as raised:
        run_synthesis(config, EXEMPLAR, on_step=records.append)
    # Evaluation healthy+1 sees the canvas of iteration `healthy`: the last finite one is the one before.
    back = max(healthy - 1, 0)
    message = str(raised.value)
    assert f"at iteration {healthy + 1}" in message and f"rolled back to iteration {back}" in message
    assert "\n" not in message and "gram/relu" in message
    salvaged = raised.value.result
    assert salvaged.stopped and salvaged.iterations == back
    assert salvaged.image.shape == (64, 64, 3) and np.isfinite(salvaged.image).all()
    shown = [r.preview for r in records if r.iteration == back and r.preview is not None][-1]
    if shown.shape[0] == 64:  # the same canvas the user saw at that iteration, not a broken one
        assert np.array_equal(salvaged.image, shown)
    assert all(np.isfinite(r.loss) for r in records if r.losses)  # nothing non-finite was reported


def test_an_infinite_loss_weight_is_refused_before_any_work():
    with pytest.raises(ConfigError, match="finite"):
        TINY.replace(gram_weight=float("inf"))
    with pytest.raises(ConfigError, match="finite"):
        TINY.replace(learning_rate=float("nan"))


def test_a_loss_that_overflows_stops_the_cli_with_exit_1_and_writes_nothing(texture_file, tmp_path, capsys):
    """1e39 is a finite Python float but infinite in float32: the loss is inf at the first step."""
    out = tmp_path / "out.png"
    code = main(["synth", str(texture_file), "-o", str(out), "--loss", "gram:1e39", "--size", "32", "--steps", "3",
                 "--backbone", "vgg19", "--layers", "relu1_1", "--pyramid", "1", "--device", "cpu", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1
    assert "the loss became inf at iteration 1" in err and "smaller loss weights" in err
    assert not out.exists() and not out.with_suffix(".json").exists()


def test_a_nan_in_training_stops_and_keeps_the_last_whole_epoch(tmp_path, capsys):
    from PIL import Image

    from texstudio.engine.models import load_network
    from texstudio.engine.trainable import TrainableNet
    from texstudio.engine.training import TrainConfig, has_checkpoint, run_training

    folder = tmp_path / "photos"
    folder.mkdir()
    for seed in range(5):
        Image.fromarray((make_texture(48, seed) * 255).astype(np.uint8)).save(folder / f"{seed}.png")
    config = TrainConfig(architecture="fcn-lichen", epochs=1, patch_size=32, batch_size=4, crops_per_image=2,
                         device="cpu", preview_every=0, max_image_side=64)
    per_epoch = run_training(config, folder, tmp_path / "probe").step
    out = tmp_path / "model"
    with nan_outputs_after(per_epoch, TrainableNet), pytest.raises(NumericalError) as raised:
        run_training(config.replace(epochs=3), folder, out)
    assert f"at step {per_epoch + 1}" in str(raised.value) and "last whole epoch" in str(raised.value)
    # Epoch 1 was saved before the fault; nothing of the poisoned step reached the disk.
    assert has_checkpoint(out)
    net, metadata = load_network(out)
    assert metadata["metrics"]["epochs_done"] == 1
    assert all(torch.isfinite(value).all() for value in net.state_dict().values())
    assert not run_training(config.replace(epochs=3), folder, out, resume=True).stopped
    # The command line says the same in one line, exit 1.
    with nan_outputs_after(0, TrainableNet):
        code = main(["train", str(folder), "-o", str(tmp_path / "cli"), "--epochs", "1", "--patch-size", "32",
                     "--max-image-side", "64", "--device", "cpu", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "the training loss became nan at step 1" in err


# --- out of memory -------------------------------------------------------------------------------

def test_every_way_torch_and_python_say_out_of_memory_is_recognised():
    """The GPU kinds cannot be provoked on a CPU-only machine; their exception types can be."""
    from texstudio.engine.errors import is_out_of_memory

    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_out_of_memory(RuntimeError("MPS backend out of memory (MPS allocated: 9 GB)"))
    assert is_out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 9 GB"))
    assert is_out_of_memory(MemoryError())
    assert not is_out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not is_out_of_memory(ValueError("out of memory"))  # only allocators' own errors count


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS and /proc/self/status are Linux")
def test_the_window_survives_running_out_of_memory(tmp_path):
    report = tmp_path / "report.json"
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("oom_window.py")), str(report), str(2 << 30)],
                          capture_output=True, text=True, timeout=300, cwd=REPO,
                          env=cli_env(QT_QPA_PLATFORM="offscreen"))
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(report.read_text())
    assert result["big"] == "failed" and result["state_after_big"] == "idle"
    assert result["big_message"].startswith("out of memory at 3000x3000 on cpu")
    assert "smaller output size" in result["big_message"]
    assert result["tiny"] == "finished" and result["tiny_iterations"] == 3


# --- stopping at any moment -----------------------------------------------------------------------

@settings(max_examples=10, deadline=None)
@given(stop_at=st.integers(0, 12), optimizer=st.sampled_from(["lbfgs", "adam"]), tileable=st.booleans(),
       how=st.sampled_from(["token", "close"]))
def test_stopping_at_a_random_moment_ends_cleanly(stop_at, optimizer, tileable, how):
    """Stop (the Stop button's token) or abandon (close the generator) at any record, on any level."""
    config = TINY.replace(width=64, height=64, steps=8, pyramid_levels=2, optimizer=optimizer,
                          tileable=tileable, learning_rate=0.02 if optimizer == "adam" else 1.0, preview_every=3)
    assert len(pyramid_plan(config)) == 2  # records 0-4 on the 32 px level, 5-9 on the 64 px one
    stop = StopToken()
    steps = synthesize(config, EXEMPLAR, stop)
    seen = []
    try:
        while True:
            record = next(steps)
            seen.append(record)
            if len(seen) - 1 == stop_at:
                if how == "close":
                    steps.close()  # what dropping a run does: no exception, nothing left running
                    assert steps.gi_frame is None
                    return
                stop.set()
    except StopIteration as finished:
        result = finished.value
    assert result.image.shape == (64, 64, 3) and result.image.dtype == np.float32
    assert np.isfinite(result.image).all() and 0 <= result.image.min() and result.image.max() <= 1
    assert result.iterations == seen[-1].iteration
    assert result.stopped == (stop_at < len(seen) - 1 or result.iterations < config.steps)
    if result.stopped:
        # A stopped run continues from its canvas like any other: the GUI's Continue.
        more = run_synthesis(config.replace(steps=2, init="image"), EXEMPLAR, init=result.image)
        assert more.iterations == 2 and np.isfinite(more.image).all()
