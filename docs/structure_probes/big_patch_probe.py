"""Probe, not shipped: the finer layout levels match larger patches, to see a joint run on.

    FINE_PATCH=11 SHARP_GAIN=0 .venv/bin/python docs/structure_probes/big_patch_probe.py PHOTO OUT.png SEED [JSON]
    FINE_PATCH=11 SHARP_GAIN=0 .venv/bin/python docs/structure_probes/big_patch_probe.py --out /tmp/lv --tag p11 ...

sharp_shrink_probe.py (SHARP_GAIN, SHARP_FROM, FINE_LR as there; SHARP_GAIN=0 is the plain
shrink) with the layout levels of 64 px and more matching FINE_PATCH px patches instead of
7 px ones. The first level and its growing keep 7 px. A 7 px patch of the 128 px level
spans 14 px of the result; a joint that runs on for 100 px and one that stops after 20
look the same to it. Given bench/levels.py's options (first argument ``--...``), it runs
that benchmark with the same changes, on the bake-off's halves.
"""

from __future__ import annotations

import os
import runpy
import sys
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))

import sharp_shrink_probe  # noqa: E402
from level_strip import run  # noqa: E402
from texstudio.engine import layout, synthesis  # noqa: E402

FINE_PATCH = int(os.environ.get("FINE_PATCH", "11"))
FINE_SIDE = 64  # px: levels whose canvas's shorter side is at least this match FINE_PATCH px patches


@contextmanager
def patch_size(size: int):
    plain = layout.LAYOUT_PATCH
    layout.LAYOUT_PATCH = size
    try:
        yield
    finally:
        layout.LAYOUT_PATCH = plain


class BigPatches(layout.PatchLayoutObjective):
    def __init__(self, exemplar, seed, level, torus, canvas_shape=None, *args, **kwargs):
        self.size = FINE_PATCH if canvas_shape and min(canvas_shape) >= FINE_SIDE else layout.LAYOUT_PATCH
        with patch_size(self.size):
            super().__init__(exemplar, seed, level, torus, canvas_shape, *args, **kwargs)

    def __call__(self, canvas):
        with patch_size(self.size):
            return super().__call__(canvas)


if __name__ == "__main__":
    synthesis.phase_views = sharp_shrink_probe.sharp_views
    synthesis.layout_optimizer = sharp_shrink_probe.fine_optimizer
    synthesis.PatchLayoutObjective = BigPatches
    if sys.argv[1].startswith("--"):
        sys.argv = [str(REPO / "bench" / "levels.py"), *sys.argv[1:]]
        sys.path.insert(0, str(REPO / "bench"))
        runpy.run_path(sys.argv[0], run_name="__main__")
    else:
        run(sys.argv[1:])
