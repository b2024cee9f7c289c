"""Probe (not shipped): replace the fitted lattice by the finest lattice under it that explains as much.

    OMP_NUM_THREADS=1 .venv/bin/python docs/lattice_init/finer_probe.py synth HALF -o OUT.png [--tileable]

Runs `texstudio` with the lattice fit wrapped: after fit_lattice, each lattice of index 2
or 3 under the fitted one (the fitted cell split into two or three) is scored by its
held-out share, and the best replaces the fitted one while it is within TOL (0.01) of it,
down to the finest. The question: the fit often keeps a cell of two or three true cells
(metal grill 2: three rows of dots), whose vectors rarely divide a tile's sides, so the
tileable run falls back to the layout; is the finer cell better? docs/lattice_init,
"Finer cells", has the answer (not safely: a wrong split that loses a running bond's head
joints scores as high on clean synthetic bricks).
"""

import runpy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

import texstudio.engine.lattice as lattice_module  # noqa: E402
import texstudio.engine.layout as layout_module  # noqa: E402
import texstudio.engine.synthesis as synthesis_module  # noqa: E402

TOL = 0.01
fitted = lattice_module.fit_lattice


def finer_bases(v1, v2, n):
    """The n + 1 lattices holding (v1, v2)'s as a sublattice of prime index n."""
    a, b = np.asarray(v1, dtype=float), np.asarray(v2, dtype=float)
    yield a / n, b
    for k in range(n):
        yield a, (b + k * a) / n


def finest(pixels, lattice, both_ways):
    while True:
        tried = []
        for n in (2, 3):
            for a, b in finer_bases(lattice.v1, lattice.v2, n):
                v1, v2 = (float(a[0]), float(a[1])), (float(b[0]), float(b[1]))
                share = lattice_module._share(pixels, v1, v2, True, (lattice_module.FEW_REPEATS, np.inf), both_ways)
                tried.append((share, v1, v2))
        share, v1, v2 = max(tried)
        if share < lattice.share - TOL:
            return lattice
        lattice = lattice_module.Lattice(v1, v2, share)


def fit_finest(image, repeating=None):
    lattice = fitted(image, repeating)
    if lattice is None:
        return None
    assert max(image.shape[:2]) <= lattice_module.FIT_SIDE, "the probe handles exemplars of 256 px or less"
    # A few-repeat lattice (under MIN_REPEATS cells) came from the pass held out both ways.
    both_ways = lattice.area > image.shape[0] * image.shape[1] / lattice_module.MIN_REPEATS
    found = finest(lattice_module._Pixels.of(image), lattice, both_ways)
    print("finer probe:", lattice, "->", found, file=sys.stderr)
    return found


layout_module.fit_lattice = fit_finest
synthesis_module.fit_lattice = fit_finest
sys.argv = ["texstudio"] + sys.argv[1:]
runpy.run_module("texstudio", run_name="__main__")
