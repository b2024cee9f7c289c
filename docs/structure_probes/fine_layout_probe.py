"""Probe, not shipped: a patch-layout level at full size, between the layout levels and the feature steps.

    FINE_STEPS=120 FINE_REFLECT=0 OMP_NUM_THREADS=1 taskset -c 1 .venv/bin/python \
        docs/structure_probes/fine_layout_probe.py --out /tmp/lv --tag fine120 \
        --set '{"auto_layout": false, "pyramid_levels": 5, "layout_steps": 120, "steps": 0}' \
        [--only bricks-red-dcor25.png,...]

bench/levels.py (same arguments) with the pyramid plan of a laid-out run given one more
level: FINE_STEPS patch-layout steps on the full-size canvas before its feature steps
(``steps`` in --set; 0 leaves the layout's canvas as the result). FINE_REFLECT=1 takes that
level's canvas patches from the canvas reflect-padded by 3 px (reflect_probe.py), so its edge pixels are in
as many patches as inner ones; FINE_REFLECT=all does that on every layout level (with
FINE_STEPS=0, the reflect probe of README.md on the bake-off's halves).
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from reflect_probe import reflected_call  # noqa: E402
from texstudio.engine import layout, synthesis  # noqa: E402

FINE_STEPS = int(os.environ.get("FINE_STEPS", "120"))
REFLECT = os.environ.get("FINE_REFLECT", "0")
planned = synthesis.pyramid_plan


def with_fine_level(config, exemplar_shape=None):
    plan = planned(config, exemplar_shape)
    if not (config.layout_steps and len(plan) > 1 and FINE_STEPS):
        return plan
    height, width, factor, _ = plan[-1]
    return plan[:-1] + [(height, width, factor, FINE_STEPS), plan[-1]]


class FullSizeReflected(layout.PatchLayoutObjective):
    """Layout objective whose full-size canvas is sampled reflect-padded (canvas_shape as the run's)."""

    full_shape: tuple[int, int] | None = None

    def __init__(self, exemplar, seed, level, torus, canvas_shape=None, *args, **kwargs):
        super().__init__(exemplar, seed, level, torus, canvas_shape, *args, **kwargs)
        self.padded_level = not torus and (REFLECT == "all" or (REFLECT == "1" and canvas_shape == self.full_shape))

    def __call__(self, canvas):
        return reflected_call(super().__call__, canvas) if self.padded_level else super().__call__(canvas)


if __name__ == "__main__":
    FullSizeReflected.full_shape = (256, 256)  # bench/levels.py's SIZE
    synthesis.pyramid_plan = with_fine_level
    synthesis.PatchLayoutObjective = FullSizeReflected
    sys.argv = [str(REPO / "bench" / "levels.py"), *sys.argv[1:]]
    sys.path.insert(0, str(REPO / "bench"))
    runpy.run_path(sys.argv[0], run_name="__main__")
