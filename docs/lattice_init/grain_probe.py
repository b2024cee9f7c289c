"""Probe (not shipped): the lattice start's first canvas plus noise at the exemplar's own spread.

    GRAIN=1 OMP_NUM_THREADS=1 .venv/bin/python docs/lattice_init/grain_probe.py synth HALF -o OUT.png

Runs `texstudio` with engine/synthesis.py's lattice_canvas replaced: the mean cell tiled as
before, plus Gaussian noise (seeded) whose per-channel standard deviation is that of the
exemplar's pixels around the mean cell, times GRAIN. GRAIN=0 is the default run bit for bit.
The question: do the mean cell's flat cells (the checker's squares without their marble
veins) get their grain back when the optimiser starts from grain rather than from flat
tone? docs/lattice_init, "Few repeats", has the answer (no).
"""

import os
import runpy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

import texstudio.engine.lattice as lattice_module  # noqa: E402
import texstudio.engine.synthesis as synthesis_module  # noqa: E402

SCALE = float(os.environ.get("GRAIN", "1"))
tiled_mean_cell = lattice_module.lattice_canvas


def grainy_canvas(image, lattice, height, width, rng, tiling=None):
    canvas = tiled_mean_cell(image, lattice, height, width, rng, tiling)
    means, bins = lattice_module.mean_cell(image, lattice)
    frac, _ = lattice_module._cells(image.shape[:2], lattice.v1, lattice.v2)
    residual = image.reshape(-1, image.shape[2]) - means[lattice_module._bin_index(frac, bins)]
    noise = np.random.default_rng(12345).normal(0.0, 1.0, canvas.shape) * residual.std(axis=0) * SCALE
    return (canvas + noise).clip(0, 1).astype(np.float32)


synthesis_module.lattice_canvas = grainy_canvas
sys.argv = ["texstudio"] + sys.argv[1:]
runpy.run_module("texstudio", run_name="__main__")
