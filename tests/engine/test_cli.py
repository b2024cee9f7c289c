"""The headless CLI: a real round trip, and one clear line plus exit 2 for bad input."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from texstudio.cli import main
from texstudio.engine.config import SynthConfig
from texstudio.engine.imageio import load_image

from ..conftest import make_texture

FAST = ["--size", "32", "--steps", "4", "--backbone", "vgg19", "--layers", "relu1_1,relu2_1", "--device", "cpu", "--quiet"]


def run_cli(*args, cwd=None):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "texstudio", *map(str, args)], capture_output=True,
                          text=True, timeout=300, cwd=cwd, env=env)


def test_synth_round_trip_writes_image_and_sidecar(texture_file, tmp_path):
    out = tmp_path / "out.png"
    done = run_cli("synth", texture_file, "-o", out, "--size", "40x32", "--steps", "5", "--seed", "7",
                   "--backbone", "vgg19", "--layers", "relu1_1,relu2_1", "--device", "cpu", "--tileable",
                   "--loss", "gram,corr:0.5", "--no-auto-layout")  # the generated texture repeats
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    image = load_image(out)
    assert image.shape == (32, 40, 3)
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["seed"] == 7 and sidecar["iterations"] == 5
    config = SynthConfig.from_dict(sidecar["config"])
    assert (config.width, config.height, config.tileable) == (40, 32, True)
    assert (config.gram_weight, config.corr_weight, config.sw_weight) == (1.0, 0.5, 0.0)
    assert sidecar["exemplar"]["sha256"] and sidecar["backbone"].startswith("vgg19")
    assert {"color_distance", "patch_distance", "copy_fraction", "seam_score"} <= set(sidecar["quality"])


def test_a_result_that_copies_its_exemplar_is_written_with_a_warning(texture_file, tmp_path):
    # Started from the exemplar itself and barely moved: the result is the exemplar.
    out = tmp_path / "copy.png"
    done = run_cli("synth", texture_file, "-o", out, "--size", "64", "--steps", "1", "--optimizer", "adam",
                   "--lr", "1e-6", "--backbone", "vgg19", "--layers", "relu1_1", "--device", "cpu",
                   "--no-auto-layout", "--init", texture_file, "--quiet")
    assert done.returncode == 0 and out.exists(), done.stderr
    quality = json.loads(out.with_suffix(".json").read_text())["quality"]
    assert quality["copy_fraction"] > 0.9
    assert "warning: the result copies the exemplar" in done.stderr and "copy.json" in done.stderr


def test_no_options_means_the_offline_default_preset(texture_file, tmp_path):
    from texstudio.engine.presets import default_config

    assert main(["synth", str(texture_file), "-o", str(tmp_path / "d.png"), "--steps", "2", "--size", "30",
                 "--device", "cpu", "--quiet"]) == 0
    used = SynthConfig.from_dict(json.loads((tmp_path / "d.json").read_text())["config"])
    # The sidecar holds what ran: auto_layout resolved (at 30 px there is no level to lay out:
    # half of it is under the layout's 16 px), and the lighting (a canvas smaller than the 64 px exemplar keeps it).
    expected = default_config(30, 30, device="cpu").replace(steps=2, preview_every=0, auto_layout=False,
                                                            auto_lattice=False, lighting="keep")
    assert used == expected
    assert used.backbone == "random-multiscale" and used.gram_weight > 0 and used.color_weight > 0
    assert used.pyramid_levels > 1


def test_layout_steps_reach_the_run_and_its_sidecar(texture_file, tmp_path):
    assert main(["synth", str(texture_file), "-o", str(tmp_path / "l.png"), "--steps", "2", "--size", "64",
                 "--pyramid", "2", "--layout-steps", "3", "--layout-energy", "2", "--layout-context", "0.5",
                 "--copy-weight", "2", "--device", "cpu", "--quiet"]) == 0
    sidecar = json.loads((tmp_path / "l.json").read_text())
    assert sidecar["config"]["layout_steps"] == 3 and sidecar["config"]["layout_energy_weight"] == 2.0
    assert sidecar["config"]["layout_context_weight"] == 0.5 and sidecar["config"]["copy_weight"] == 2.0
    assert sidecar["iterations"] == 5  # 3 layout steps at 32 px, then the 2 feature steps at 64 px
    assert main(["synth", str(texture_file), "-o", str(tmp_path / "c.png"), "--steps", "2", "--size", "64",
                 "--pyramid", "3", "--layout-steps", "3", "--coarse-layout-steps", "4", "--layout-phases", "2",
                 "--layout-grow-steps", "2", "--device", "cpu", "--quiet"]) == 0
    sidecar = json.loads((tmp_path / "c.json").read_text())
    assert sidecar["config"]["coarse_layout_steps"] == 4 and sidecar["config"]["auto_layout"] is False
    assert sidecar["config"]["layout_phases"] == 2 and sidecar["config"]["layout_grow_steps"] == 2
    assert sidecar["iterations"] == 4 + 3 + 2  # 16 px: 4, 32 px: 3, then 64 px: 2


def test_edge_margin_reaches_the_run_and_its_sidecar(texture_file, tmp_path):
    assert main(["synth", str(texture_file), "-o", str(tmp_path / "m.png"), "--steps", "2", "--size", "40",
                 "--edge-margin", "3", "--device", "cpu", "--quiet"]) == 0
    sidecar = json.loads((tmp_path / "m.json").read_text())
    assert sidecar["config"]["edge_margin"] == 3
    assert Image.open(tmp_path / "m.png").size == (40, 40)


def test_a_coarse_layout_level_the_exemplar_is_too_small_for_is_left_out_unless_asked(tmp_path):
    half = tmp_path / "half.png"  # 32x64: at 16 px it keeps 20 patches against the canvas's 100
    Image.fromarray((make_texture(64)[:, :32] * 255).astype(np.uint8)).save(half)
    common = ["synth", str(half), "--steps", "2", "--size", "64", "--pyramid", "3", "--layout-steps", "3",
              "--layout-phases", "1", "--device", "cpu", "--quiet"]
    assert main([*common, "-o", str(tmp_path / "d.png")]) == 0
    sidecar = json.loads((tmp_path / "d.json").read_text())
    assert sidecar["config"]["layout_min_share"] == 0.5 and sidecar["iterations"] == 3 + 2  # 32 px, 64 px
    assert main([*common, "-o", str(tmp_path / "all.png"), "--layout-min-share", "0"]) == 0
    sidecar = json.loads((tmp_path / "all.json").read_text())
    assert sidecar["config"]["layout_min_share"] == 0.0 and sidecar["iterations"] == 3 + 3 + 2  # and 16 px


def test_a_repeating_exemplar_is_laid_out_by_default_and_says_so(tmp_path):
    from .test_periodicity import bricks

    exemplar = tmp_path / "bricks.png"
    Image.fromarray((bricks(64) * 255).astype(np.uint8)).save(exemplar)
    base = ["synth", exemplar, "--steps", "9", "--size", "64", "--device", "cpu"]
    # These bricks are a perfect lattice: by default they start from its mean cell (engine/lattice.py).
    done = run_cli(*base, "-o", tmp_path / "lattice.png")
    assert done.returncode == 0, done.stderr
    assert "the exemplar repeats on a lattice" in done.stderr and "mean cell tiled" in done.stderr
    config = json.loads((tmp_path / "lattice.json").read_text())["config"]
    assert (config["init"], config["pyramid_levels"], config["layout_steps"], config["steps"]) == ("lattice", 2, 0, 9)
    # Without the lattice start they are laid out from noise, the first level grown.
    done = run_cli(*base, "--no-auto-lattice", "-o", tmp_path / "auto.png")
    assert done.returncode == 0, done.stderr
    assert "the exemplar repeats (periodicity" in done.stderr and "--no-auto-layout" in done.stderr
    assert "growing the layout from the middle, step 1 of" in done.stderr  # the first level is grown, and says so
    sidecar = json.loads((tmp_path / "auto.json").read_text())
    assert sidecar["periodicity"] >= 0.4
    assert (sidecar["config"]["pyramid_levels"], sidecar["config"]["layout_steps"]) == (5, 6)
    assert sidecar["iterations"] == 6 + 6 + 2  # 64 px keeps two coarse levels (16 and 32 px) of the five
    # Turned off, or a pyramid chosen by hand: the run is as asked, and nothing is said.
    for option, levels in (("--no-auto-layout", 3), ("--pyramid=2", 2)):
        out = tmp_path / f"{option.strip('-').replace('=', '')}.png"
        done = run_cli(*base, option, "-o", out)
        assert done.returncode == 0 and "repeats" not in done.stderr, done.stderr
        config = json.loads(out.with_suffix(".json").read_text())["config"]
        assert (config["pyramid_levels"], config["layout_steps"], config["steps"]) == (levels, 0, 9)


def test_sidecar_reproduces_the_image(texture_file, tmp_path):
    assert main(["synth", str(texture_file), "-o", str(tmp_path / "a.png"), *FAST]) == 0
    config = SynthConfig.from_dict(json.loads((tmp_path / "a.json").read_text())["config"])
    from texstudio.engine.synthesis import run_synthesis

    again = run_synthesis(config, load_image(texture_file)).image
    first = load_image(tmp_path / "a.png")
    assert np.abs(again - first).max() <= 1 / 255 + 1e-6


def _bad(capsys, args):
    code = main(args)
    err = capsys.readouterr().err.strip()
    return code, err


@pytest.mark.parametrize("case", [
    "missing", "corrupt", "empty", "bad-size", "unknown-backbone", "bad-layer", "bad-suffix",
    "bad-loss", "no-output-folder",
])
def test_bad_input_is_one_line_and_exit_2_and_writes_nothing(case, tmp_path, texture_file, capsys):
    out = tmp_path / "out.png"
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    args = {
        "missing": ["synth", str(tmp_path / "nope.png"), "-o", str(out)],
        "corrupt": ["synth", str(corrupt), "-o", str(out)],
        "empty": ["synth", str(empty), "-o", str(out)],
        "bad-size": ["synth", str(texture_file), "-o", str(out), "--size", "12x0"],
        "unknown-backbone": ["synth", str(texture_file), "-o", str(out), "--backbone", "alexnet"],
        "bad-layer": ["synth", str(texture_file), "-o", str(out), "--layers", "relu9_1"],
        "bad-suffix": ["synth", str(texture_file), "-o", str(tmp_path / "out.gif")],
        "bad-loss": ["synth", str(texture_file), "-o", str(out), "--loss", "l2"],
        "no-output-folder": ["synth", str(texture_file), "-o", str(tmp_path / "no" / "out.png")],
    }[case]
    code, err = _bad(capsys, args + ["--quiet"])
    assert code == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("texstudio")
    assert not out.exists() and not out.with_suffix(".json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_existing_output_is_not_overwritten_unless_asked(texture_file, tmp_path, capsys):
    out = tmp_path / "keep.png"
    Image.new("RGB", (8, 8), (1, 2, 3)).save(out)
    before = out.read_bytes()
    code, err = _bad(capsys, ["synth", str(texture_file), "-o", str(out), *FAST])
    assert code == 2 and "already exists" in err
    assert out.read_bytes() == before
    assert main(["synth", str(texture_file), "-o", str(out), *FAST, "--overwrite"]) == 0
    assert out.read_bytes() != before


def test_missing_file_from_a_real_process_has_no_traceback(tmp_path):
    done = run_cli("synth", tmp_path / "nope.jpg", "-o", tmp_path / "o.png")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"texstudio: no such file: {tmp_path / 'nope.jpg'}"]


def test_help_documents_every_option():
    done = run_cli("synth", "--help")
    assert done.returncode == 0
    for option in ("--size", "--steps", "--seed", "--tileable", "--backbone", "--layers", "--loss",
                   "--spectrum", "--layout-steps", "--optimizer", "--device", "--overwrite", "--bit-depth"):
        assert option in done.stdout
    top = run_cli("--help")
    assert top.returncode == 0 and "synth" in top.stdout


def test_help_states_the_presets_defaults():
    # The CLI parser does not import torch (start-up time), so its help repeats the presets' numbers.
    from texstudio.engine.presets import CPU_STEPS, DEFAULT_BACKBONE, GPU_STEPS, default_config

    text = " ".join(run_cli("synth", "--help").stdout.split())
    assert f"default {CPU_STEPS} on CPU, {GPU_STEPS} on GPU" in text
    assert f"(default {DEFAULT_BACKBONE})" in text
    config = default_config(device="cpu")
    for option, value in (("spectrum constraint", config.spectrum_weight), ("colour-distribution", config.color_weight),
                          ("coarse-to-fine", config.pyramid_levels), ("fresh fine-scale", config.pyramid_noise),
                          ("lay out cells", config.layout_steps), ("learn PX more pixels", config.edge_margin),
                          ("grow the first layout level", config.layout_grow_steps)):
        help_line = text[text.index(option):]
        assert help_line.split("(default ", 1)[1].startswith(f"{value:g})"), option


@pytest.mark.skipif(sys.platform != "linux", reason="address-space limits via setrlimit are Linux-only here")
def test_out_of_memory_is_one_line_exit_1_and_writes_nothing(texture_file, tmp_path):
    import resource

    def limit_memory():  # 5 GiB of address space: torch loads, a 3000x3000 canvas's whole maps do not fit
        resource.setrlimit(resource.RLIMIT_AS, (5 << 30, 5 << 30))

    # The default losses are evaluated in tiles, in which 3000x3000 fits (slowly); the SW
    # feature loss still needs every layer's whole map (engine/tiling.py).
    out = tmp_path / "oom.png"
    done = subprocess.run(
        [sys.executable, "-m", "texstudio", "synth", str(texture_file), "-o", str(out), "--size", "3000",
         "--loss", "sw", "--steps", "2", "--device", "cpu", "--quiet"],
        preexec_fn=limit_memory, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert "out of memory at 3000x3000" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists() and not out.with_suffix(".json").exists()
