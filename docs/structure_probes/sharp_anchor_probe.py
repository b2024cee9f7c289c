"""Probe, not shipped: the sharp shrink and the anchor together, for the parquet's cells.

    SHARP_GAIN=1 SHARP_FROM=8 ANCHOR_LW=10 ANCHOR_LK=2 .venv/bin/python \
        docs/structure_probes/sharp_anchor_probe.py PHOTO OUT.png SEED [JSON]

The sharp shrink (sharp_shrink_probe.py) lets the first layout level lay out the parquet's
cells, and the finer levels then erased them; the anchor (anchor_probe.py) holds each finer
layout level's coarse band to where the level started. Together the cells made at the first
level might survive to the result. Same environment variables as the two probes.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import anchor_probe  # noqa: E402,F401  (it replaces the objectives as it is imported)
import sharp_shrink_probe  # noqa: E402
from level_strip import run  # noqa: E402
from texstudio.engine import synthesis  # noqa: E402

if __name__ == "__main__":
    synthesis.phase_views = sharp_shrink_probe.sharp_views
    synthesis.layout_optimizer = sharp_shrink_probe.fine_optimizer
    run(sys.argv[1:])
