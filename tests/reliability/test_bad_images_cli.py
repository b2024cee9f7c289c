"""Every awkward image through ``texstudio synth``: it works, or exit 2 with one line and nothing written.

The whole matrix runs through ``texstudio.cli.main`` in one fresh interpreter (stderr
taken at fd level, see faults.run_cli_many); a decompression bomb also runs as a
separate ``python -m texstudio`` process, the exact thing a user types.
"""

from __future__ import annotations

import json
import os

import pytest

from tests.reliability.badfiles import IMAGE_CASES, make_case
from tests.reliability.faults import assert_one_line_error, leftovers, run_cli, run_cli_many
from texstudio.engine.errors import ImageLoadError
from texstudio.engine.imageio import load_image

# A run that only builds the canvas and writes it: enough to prove the file is usable.
FAST = ["--size", "32", "--steps", "0", "--backbone", "vgg19", "--layers", "relu1_1", "--device", "cpu", "--quiet"]


def test_the_whole_image_matrix_through_the_cli(tmp_path):
    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    outputs.mkdir()
    names = list(IMAGE_CASES)
    argvs = [["synth", str(make_case(inputs, name)), "-o", str(outputs / f"{name}.png"), *FAST] for name in names]
    results = run_cli_many(argvs, tmp_path)
    for name, result in zip(names, results):
        _, _, outcome, shape = IMAGE_CASES[name]
        out = outputs / f"{name}.png"
        if outcome == "refused":
            line = assert_one_line_error(result["code"], result["stderr"])
            assert not out.exists() and not out.with_suffix(".json").exists(), name
            # The message says what is wrong with this file, not just that something failed.
            assert any(word in line for word in (IMAGE_CASES[name][0], "px", "megapixels")), (name, line)
        else:
            assert result["code"] == 0 and result["stderr"] == "", (name, result)
            sidecar = json.loads(out.with_suffix(".json").read_text())
            assert sidecar["exemplar"]["size"] == [shape[1], shape[0]], name  # width, height as loaded
    assert leftovers(outputs) == []


def test_a_decompression_bomb_in_a_real_process(tmp_path):
    """What a user types, in its own process (tests/engine/test_cli.py runs a real success)."""
    out = tmp_path / "result.png"
    done = run_cli("synth", make_case(tmp_path, "bomb"), "-o", out, *FAST)
    line = assert_one_line_error(done.returncode, done.stderr)
    assert "100000x100000" in line and "limit" in line
    assert not out.exists() and leftovers(tmp_path) == []


@pytest.mark.timeout(20)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_pipe_named_like_an_image_is_refused_without_blocking(tmp_path):
    """Opening a FIFO to read waits for a writer that never comes; the loader must not try."""
    pipe = tmp_path / "stream.png"
    os.mkfifo(pipe)
    with pytest.raises(ImageLoadError, match="not a regular file"):
        load_image(pipe)


def test_an_exemplar_shrunk_below_the_minimum_is_refused_before_any_work():
    """A 400x40 strip is fine as a photo; shrunk to a 64 px exemplar it would be 6 px high."""
    import numpy as np

    from texstudio.engine.config import SynthConfig
    from texstudio.engine.errors import ConfigError
    from texstudio.engine.synthesis import synthesize

    strip = np.random.default_rng(0).random((40, 400, 3)).astype(np.float32)
    with pytest.raises(ConfigError, match="64x6 px after shrinking its longer side to 64 px.*exemplar size"):
        next(synthesize(SynthConfig(width=32, height=32, exemplar_size=64, device="cpu"), strip))
