"""The lattice each photo gets, and a hash of its first canvas, from one checkout: for comparing two.

    python docs/lattice_init/compare_fits.py CHECKOUT PHOTO_LIST > fits.txt

CHECKOUT is the repository whose texstudio is imported (this one, or a worktree of an older
commit); PHOTO_LIST a file of photo paths. For each photo, its left half and the whole photo
at 256 px: the fitted lattice (vectors, held-out share) or None, the md5 of the 256 x 256
canvas lattice_canvas draws from it at seed 0, and the fit's seconds. Two such files from
two checkouts, compared line by line (ignoring the seconds), give stop 45's "Which photos
change" (README, "Few repeats").
"""

import hashlib
import sys
import time

sys.path.insert(0, sys.argv[1])

import numpy as np  # noqa: E402

import texstudio.engine.lattice as lattice_module  # noqa: E402
from texstudio.engine.imageio import load_image, resize_longest_side  # noqa: E402

for path in open(sys.argv[2]).read().split():
    image = load_image(path)
    for tag, source in (("half", image[:, :image.shape[1] // 2]), ("full", image)):
        exemplar = resize_longest_side(source, 256)
        started = time.time()
        lattice = lattice_module.fit_lattice(exemplar)
        seconds = time.time() - started
        digest = None
        if lattice is not None:
            canvas = lattice_module.lattice_canvas(exemplar, lattice, 256, 256, np.random.default_rng(0))
            digest = hashlib.md5(canvas.tobytes()).hexdigest()[:10]
        found = None if lattice is None else (lattice.v1, lattice.v2, repr(lattice.share))
        print(path.split("/")[-1], tag, found, digest, f"{seconds:.2f}", flush=True)
