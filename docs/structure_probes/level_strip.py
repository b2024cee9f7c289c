"""The default run on PHOTO's left half, level by level: a strip of each level's end canvas and the result.

    .venv/bin/python docs/structure_probes/level_strip.py PHOTO OUT.png SEED [JSON]

Runs presets.default_config (256 px, CPU) on PHOTO's left half shrunk to 256 px as the CLI
does; JSON overrides settings. OUT.png: the exemplar, then each pyramid level's last canvas
enlarged to 256 px (nearest neighbours), then the result. Prints the copy fraction per scale
(full, half, quarter) against the exemplar, the held-out right half's patch and spectrum
distances, and the run's seconds. The probes in this folder run it with one part of the
engine replaced (``run`` below).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from texstudio.engine import metrics, presets, synthesis  # noqa: E402
from texstudio.engine.generators import drive  # noqa: E402
from texstudio.engine.imageio import load_image, resize_longest_side, to_uint8  # noqa: E402


def run(argv: list[str]) -> None:
    photo_path, out, seed, *rest = argv
    photo = load_image(photo_path)
    half = photo.shape[1] // 2
    exemplar = resize_longest_side(photo[:, :half], 256)
    held_out = resize_longest_side(photo[:, half:], 256)
    config = presets.default_config(256, 256, "cpu").replace(seed=int(seed), **(json.loads(rest[0]) if rest else {}))
    frames = []

    def grab(record) -> None:
        if math.isnan(record.loss) and record.level > 0:  # a level's first record: the last level's canvas, enlarged
            frames.append(Image.fromarray(to_uint8(record.preview)).resize((256, 256), Image.NEAREST))

    result = drive(synthesis.synthesize(config, exemplar), grab)
    frames.append(Image.fromarray(to_uint8(result.image)))
    first = Image.fromarray(to_uint8(exemplar))
    sheet = Image.new("RGB", (first.width + 4 + 260 * len(frames), 256), "white")
    sheet.paste(first, (0, 0))
    for index, frame in enumerate(frames):
        sheet.paste(frame, (first.width + 4 + 260 * index, 0))
    sheet.save(out)
    copy = [round(x, 3) for x in metrics.copy_fraction_by_scale(result.image, exemplar)]
    print(out, seed, "copy", copy, "patch", round(metrics.patch_distance(result.image, held_out), 4),
          "spectrum", round(metrics.spectrum_distance(result.image, held_out), 3), "s", round(result.elapsed), flush=True)


if __name__ == "__main__":
    run(sys.argv[1:])
