"""Probe, not shipped: the layout levels see the exemplar shrunk so that thin lines survive.

    SHARP_GAIN=1 SHARP_FROM=2 FINE_LR=1 .venv/bin/python docs/structure_probes/sharp_shrink_probe.py PHOTO OUT.png SEED [JSON]

level_strip.py with the layout levels' exemplar views (layout.phase_views, factor 2 and up)
made as: the plain shrink, plus GAIN times the largest rise of the grey level above its local
mean inside each shrunk pixel's block, minus GAIN times the largest dip below it. A joint 2 px wide is an
eighth of a 32 px level's pixel: the plain shrink averages it into the tile beside it, and
the layout never sees it (docs/bakeoff_energy). Here it stays a line of nearly its own
colour. Inside a block of grain, rise and dip are alike and cancel. SHARP_FROM: only views
shrunk by this factor or more are sharpened (8: the first level of a 256 px run alone).
FINE_LR scales the Adam rate of every layout level after the first (growing untouched), so
the finer levels refine the first level's layout rather than lay it out again.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from level_strip import run  # noqa: E402
from texstudio.engine import layout, synthesis  # noqa: E402

GAIN = float(os.environ.get("SHARP_GAIN", "1"))
FROM = int(os.environ.get("SHARP_FROM", "2"))
FINE_LR = float(os.environ.get("FINE_LR", "1"))
plain_views = layout.phase_views
plain_optimizer = synthesis.layout_optimizer
levels_seen = []


def sharpened(full: np.ndarray, view: np.ndarray, factor: int) -> np.ndarray:
    """``view``, a plain shrink of ``full`` by about ``factor``, with the blocks' extreme lines put back."""
    # On grey level, added to every channel alike: per channel, a red brick's light mortar
    # rises least in red, and the shrunk mortar came out cyan.
    image = torch.from_numpy(np.ascontiguousarray(full) @ np.float32([0.299, 0.587, 0.114]))[None, None]
    local = F.avg_pool2d(image, 2 * factor + 1, stride=1, padding=factor, count_include_pad=False)
    detail = image - local
    shape = view.shape[:2]
    rise = F.adaptive_max_pool2d(detail.clamp(min=0), shape)
    dip = F.adaptive_max_pool2d((-detail).clamp(min=0), shape)
    extra = (GAIN * (rise - dip))[0, 0, :, :, None].numpy()
    return np.clip(view + extra, 0.0, 1.0).astype(np.float32)


def sharp_views(exemplar: np.ndarray, factor: int, phases: int) -> list[np.ndarray]:
    views = plain_views(exemplar, factor, phases)
    if factor <= 1 or factor < FROM or GAIN == 0:
        return views
    offsets = sorted({index * factor // phases for index in range(max(1, phases))})
    parts = [exemplar[down:, across:] for down in offsets for across in offsets]
    # plain_views keeps the views in this order and leaves out only the too-small ones, at the end.
    return [sharpened(part, view, factor) for part, view in zip(parts, views)]


def fine_optimizer(canvas, steps):
    optimizer = plain_optimizer(canvas, steps)
    levels_seen.append(canvas.shape[-1])
    if len(levels_seen) > 1:
        optimizer.peak *= FINE_LR
        for group in optimizer.param_groups:
            group["lr"] *= FINE_LR
    return optimizer


if __name__ == "__main__":
    synthesis.phase_views = sharp_views
    synthesis.layout_optimizer = fine_optimizer
    run(sys.argv[1:])
