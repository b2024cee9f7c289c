"""Computation only (no runs): which lattice the fit would keep if it ranked candidate pairs by held-out share.

    OMP_NUM_THREADS=1 .venv/bin/python docs/lattice_init/rank_by_held_out.py

The fit ranks the candidate pairs by their in-sample share (which favours larger cells:
fewer pixels a bin) and refines the six best. Here the six best by held-out share are
refined instead; for synthetic bricks and the ten lattice photos' left halves (paths as in
this README's commands) it prints both lattices, their cell areas, shares, whether each
fits a 256 px tile, and the seconds. docs/lattice_init, "Finer cells", has the output.
"""
import sys, time, itertools; sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parents[2]))
import numpy as np
import texstudio.engine.lattice as L
from texstudio.engine.imageio import load_image, resize_longest_side
from tests.engine.test_periodicity import bricks
def best_by_heldout(pixels, candidates, repeats, both):
    shape = pixels.shape
    pairs = [(L._share(pixels, p, q, True, repeats, both), p, q)
             for p, q in itertools.combinations(candidates, 2) if L._usable(shape, p, q, repeats)]
    best = None
    for _, p, q in sorted(pairs, key=lambda it: -it[0])[:L.REFINED]:
        v1, v2, _ = L._refine(pixels, p, q, repeats)
        if not L._usable(shape, v1, v2, repeats): continue
        sh = L._share(pixels, v1, v2, True, repeats, both)
        if best is None or sh > best.share: best = L.Lattice(v1, v2, sh)
    return best
S='/work/shared/textures/'; M='/tmp/mw/'
items = [('synthetic bricks', bricks(128, seed=3))]
for name, p in (('red bricks', S+'bricks-red-dcor25.png'), ('checker stone', S+'checker-stone-dcor13.png'), ('slates', S+'slates-dcor29.jpg'), ('tread', S+'treadplate-nst11.jpg'), ('brick wall', M+'brick_wall_1.png'), ('cinder', M+'cinder_blocks_1.png'), ('grill 1', M+'metal_grill_1.png'), ('grill 2', M+'metal_grill_2.png'), ('ceiling', M+'ceiling_tiles_1.png'), ('white floor', M+'floor_tiles_white.png')):
    im = load_image(p); items.append((name, resize_longest_side(im[:, :im.shape[1] // 2], 256)))
for name, ex in items:
    t = time.time()
    cur = L.fit_lattice(ex)
    t1 = time.time()
    new = best_by_heldout(L._Pixels.of(ex), L._candidates(ex), (L.MIN_REPEATS, np.inf), False)
    t2 = time.time()
    tor = lambda l: l is not None and L.fitted_to_torus(l, 256, 256) is not None
    print('%-16s now %s %s a=%.0f %.3f torus %s | by held-out %s %s a=%.0f %.3f torus %s | %.1fs vs %.1fs' % (name, cur.v1, cur.v2, cur.area, cur.share, tor(cur), new.v1, new.v2, new.area, new.share, tor(new), t1 - t, t2 - t1), flush=True)
