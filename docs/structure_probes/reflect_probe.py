"""Probe, not shipped: the layout levels take the canvas's patches from it reflect-padded by 3 px.

    .venv/bin/python docs/structure_probes/reflect_probe.py PHOTO OUT.png SEED [JSON]

level_strip.py with every canvas pixel in as many 7 px patches as an inner one (a corner
pixel is otherwise in one patch, an inner one in 49), on layout levels off the torus.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from level_strip import run  # noqa: E402
from texstudio.engine import layout, synthesis  # noqa: E402

PAD = 3
plain = layout.sample_patches


def reflected_call(call, canvas):
    """``call(canvas)`` with the layout's canvas patches taken from ``canvas`` reflect-padded by PAD."""
    padded = F.pad(canvas, (PAD,) * 4, mode="reflect")
    layout.sample_patches = lambda image, *a, **k: plain(padded if image is canvas else image, *a, **k)
    try:
        return call(canvas)
    finally:
        layout.sample_patches = plain


class ReflectedPatches(layout.PatchLayoutObjective):
    def __call__(self, canvas):
        return super().__call__(canvas) if self.torus else reflected_call(super().__call__, canvas)


if __name__ == "__main__":
    synthesis.PatchLayoutObjective = ReflectedPatches
    run(sys.argv[1:])
