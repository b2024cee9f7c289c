"""Probe, not shipped: hold each level's coarse band to where the level started.

    ANCHOR_W=100 ANCHOR_K=4 .venv/bin/python docs/structure_probes/anchor_probe.py PHOTO OUT.png SEED [JSON]
    ANCHOR_LW=10 ANCHOR_LK=2 .venv/bin/python docs/structure_probes/anchor_probe.py ...

level_strip.py with one more term: W * mean((avgpool_K(canvas) - avgpool_K(start))^2), where
start is the level's first canvas. ANCHOR_W/ANCHOR_K: on the full-size feature level of a
laid-out run; ANCHOR_LW/ANCHOR_LK: on every layout level but the first. 0 = off.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from level_strip import run  # noqa: E402
from texstudio.engine import synthesis  # noqa: E402
from texstudio.engine.losses import backward_sum  # noqa: E402


def anchored(base, weight: float, pool: int, applies):
    class Anchored(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.on = weight > 0 and applies(args)
            self.start = None

        def _anchor(self, canvas):
            if self.start is None:  # the first evaluation is of the level's first canvas
                self.start = F.avg_pool2d(canvas.detach(), pool)
            return weight * (F.avg_pool2d(canvas, pool) - self.start).square().mean()

        def __call__(self, canvas):
            terms = super().__call__(canvas)
            if self.on:
                terms["anchor"] = self._anchor(canvas)
            return terms

        def loss_and_grad(self, canvas):
            if not self.on:
                return super().loss_and_grad(canvas)
            return backward_sum({**super().__call__(canvas), "anchor": self._anchor(canvas)})

    return Anchored


# TextureObjective(config, backbone, exemplar, height, width, level, ...); PatchLayoutObjective(exemplar, seed, level, ...)
synthesis.TextureObjective = anchored(synthesis.TextureObjective, float(os.environ.get("ANCHOR_W", "0")),
                                      int(os.environ.get("ANCHOR_K", "4")),
                                      lambda a: bool(a[0].layout_steps) and a[5] > 0)
synthesis.PatchLayoutObjective = anchored(synthesis.PatchLayoutObjective, float(os.environ.get("ANCHOR_LW", "0")),
                                          int(os.environ.get("ANCHOR_LK", "2")), lambda a: a[2] > 0)

if __name__ == "__main__":
    run(sys.argv[1:])
