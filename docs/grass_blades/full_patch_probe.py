"""Probe, not shipped: `texstudio synth` with a patch-layout level at full size before the feature steps.

    FINE_STEPS=200 .venv/bin/python docs/grass_blades/full_patch_probe.py EXEMPLAR -o OUT.png \
        --no-auto-layout --layout-steps 120 --pyramid 4 --steps 20

With the layout on, the pyramid plan gets one more level: FINE_STEPS Adam steps matching the
exemplar's raw 7x7 patches on the full-size canvas, then the feature steps (--steps counts
only those). As docs/structure_probes/fine_layout_probe.py, for the CLI.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from texstudio.engine import synthesis  # noqa: E402

FINE_STEPS = int(os.environ.get("FINE_STEPS", "120"))
planned = synthesis.pyramid_plan


def with_fine_level(config, exemplar_shape=None):
    plan = planned(config, exemplar_shape)
    if not (config.layout_steps and len(plan) > 1 and FINE_STEPS):
        return plan
    height, width, factor, _ = plan[-1]
    return plan[:-1] + [(height, width, factor, FINE_STEPS), plan[-1]]


if __name__ == "__main__":
    synthesis.pyramid_plan = with_fine_level
    from texstudio.cli import main

    sys.exit(main(["synth", *sys.argv[1:]]))
