"""Probe, not shipped: `texstudio synth` with a patch-layout level at full size before the feature steps.

    FINE_STEPS=200 .venv/bin/python docs/grass_blades/full_patch_probe.py EXEMPLAR -o OUT.png \
        --no-auto-layout --layout-steps 120 --pyramid 4 --steps 20

With the layout on, the pyramid plan gets one more level: FINE_STEPS Adam steps matching the
exemplar's raw 7x7 patches on the full-size canvas, then the feature steps (--steps counts
only those). The plan is docs/structure_probes/fine_layout_probe.py's, given to the CLI
instead of bench/levels.py.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "structure_probes"))

from fine_layout_probe import with_fine_level  # noqa: E402
from texstudio.engine import synthesis  # noqa: E402

if __name__ == "__main__":
    synthesis.pyramid_plan = with_fine_level
    from texstudio.cli import main

    sys.exit(main(["synth", *sys.argv[1:]]))
