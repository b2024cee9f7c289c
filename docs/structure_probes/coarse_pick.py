"""Probe, not shipped: how regular the coarsest layout level comes out, seed by seed.

    .venv/bin/python docs/structure_probes/coarse_pick.py PHOTO OUT.png 0,1,2,3,4,5 [K]

Runs the default on PHOTO's left half (shrunk to 256 px as the CLI does) up to the end of
its first pyramid level, for each seed, and prints that canvas's periodicity
(engine/periodicity.py; the exemplar's first) and its spectrum distance to the exemplar
shrunk alike. OUT.png: the canvases enlarged to 256 px, side by side. If one seed's
coarse layout had no faults, a run could try a few and keep the best. K multiplies that
level's layout steps (default 1): a longer anneal might let its regions grow into one.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from texstudio.engine import metrics, presets, synthesis  # noqa: E402
from texstudio.engine.cancel import StopToken  # noqa: E402
from texstudio.engine.generators import drive  # noqa: E402
from texstudio.engine.imageio import load_image, resize_longest_side, to_uint8  # noqa: E402
from texstudio.engine.periodicity import periodicity  # noqa: E402


def main() -> None:
    photo_path, out, seeds = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3].split(",")]
    times = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    plain_plan = synthesis.pyramid_plan

    def longer_first_level(config, shape=None):
        levels = plain_plan(config, shape)
        if config.layout_steps and len(levels) > 1:
            height, width, factor, steps = levels[0]
            levels = [(height, width, factor, steps * times)] + levels[1:]
        return levels

    synthesis.pyramid_plan = longer_first_level
    photo = load_image(photo_path)
    exemplar = resize_longest_side(photo[:, :photo.shape[1] // 2], 256)
    print("exemplar periodicity", round(periodicity(exemplar), 3))
    tiles = []
    for seed in seeds:
        stop, canvases = StopToken(), []

        def grab(record) -> None:
            if math.isnan(record.loss) and record.level == 1:  # level 1 starts from level 0's canvas
                canvases.append(record.preview)
                stop.set()

        config = presets.default_config(256, 256, "cpu").replace(seed=seed)
        drive(synthesis.synthesize(config, exemplar, stop), grab)
        canvas = canvases[0]
        shrunk = resize_longest_side(exemplar, max(canvas.shape[:2]) * max(exemplar.shape[:2]) // 256)
        print(seed, canvas.shape[:2], "periodicity", round(periodicity(canvas), 3),
              "spectrum", round(metrics.spectrum_distance(canvas, shrunk), 3), flush=True)
        tiles.append(Image.fromarray(to_uint8(canvas)).resize((256, 256), Image.BICUBIC))
    sheet = Image.new("RGB", (260 * len(tiles), 256), "white")
    for index, tile in enumerate(tiles):
        sheet.paste(tile, (260 * index, 0))
    sheet.save(out)


if __name__ == "__main__":
    main()
