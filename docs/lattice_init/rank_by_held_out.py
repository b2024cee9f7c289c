"""Computation only (no runs): which lattice the fit would keep if it ranked candidate pairs by held-out share.

    OMP_NUM_THREADS=1 .venv/bin/python docs/lattice_init/rank_by_held_out.py

The fit ranks the candidate pairs by their in-sample share (which favours larger cells:
fewer pixels a bin) and refines the six best. Here the six best by held-out share are
refined instead; for synthetic bricks and the ten lattice photos' left halves (paths as in
this README's commands) it prints both lattices, their cell areas, shares, whether each
fits a 256 px tile, and the seconds. docs/lattice_init, "Finer cells", has the output.
"""
import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

import texstudio.engine.lattice as L  # noqa: E402
from tests.engine.test_periodicity import bricks  # noqa: E402
from texstudio.engine.imageio import load_image, resize_longest_side  # noqa: E402

SHARED, MINIWORLD = "/work/shared/textures/", "/tmp/mw/"
PHOTOS = (("red bricks", SHARED + "bricks-red-dcor25.png"), ("checker stone", SHARED + "checker-stone-dcor13.png"),
          ("slates", SHARED + "slates-dcor29.jpg"), ("tread", SHARED + "treadplate-nst11.jpg"),
          ("brick wall", MINIWORLD + "brick_wall_1.png"), ("cinder", MINIWORLD + "cinder_blocks_1.png"),
          ("grill 1", MINIWORLD + "metal_grill_1.png"), ("grill 2", MINIWORLD + "metal_grill_2.png"),
          ("ceiling", MINIWORLD + "ceiling_tiles_1.png"), ("white floor", MINIWORLD + "floor_tiles_white.png"))


def best_by_held_out(pixels, candidates, repeats, both_ways):
    """lattice._best_lattice with one change: the pairs ranked by held-out, not in-sample, share."""
    pairs = [(L._share(pixels, p, q, True, repeats, both_ways), p, q)
             for p, q in itertools.combinations(candidates, 2) if L._usable(pixels.shape, p, q, repeats)]
    best = None
    for _, p, q in sorted(pairs, key=lambda item: -item[0])[:L.REFINED]:
        v1, v2, _ = L._refine(pixels, p, q, repeats)
        if not L._usable(pixels.shape, v1, v2, repeats):
            continue
        share = L._share(pixels, v1, v2, True, repeats, both_ways)
        if best is None or share > best.share:
            best = L.Lattice(v1, v2, share)
    return best


def described(lattice):
    fits = lattice is not None and L.fitted_to_torus(lattice, 256, 256) is not None
    return f"{lattice.v1} {lattice.v2} a={lattice.area:.0f} {lattice.share:.3f} torus {fits}"


items = [("synthetic bricks", bricks(128, seed=3))]
for name, path in PHOTOS:
    photo = load_image(path)
    items.append((name, resize_longest_side(photo[:, :photo.shape[1] // 2], 256)))
for name, exemplar in items:
    started = time.time()
    fitted = L.fit_lattice(exemplar)
    middle = time.time()
    ranked = best_by_held_out(L._Pixels.of(exemplar), L._candidates(exemplar), (L.MIN_REPEATS, np.inf), False)
    print(f"{name:<16} now {described(fitted)} | by held-out {described(ranked)} | "
          f"{middle - started:.1f}s vs {time.time() - middle:.1f}s", flush=True)
