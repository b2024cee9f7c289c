"""Where a run's copies appear: the copy fraction of the canvas after each pyramid level.

    .venv/bin/python docs/anti_copy/copy_by_level.py PHOTO SEED [JSON]

Runs the default (presets.default_config, 256 px, CPU) on PHOTO's left half, shrunk to 256 px
as the CLI does; JSON overrides settings. Each level starts from the previous one's canvas
enlarged, which the engine yields as that level's first preview: that canvas, enlarged to
256 px, is scored by metrics.copy_fraction_by_scale (full, half and quarter scale) against
the exemplar, and so is the result. Prints one line per level and one for the result.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from texstudio.engine import metrics, presets, synthesis  # noqa: E402
from texstudio.engine.generators import drive  # noqa: E402
from texstudio.engine.imageio import load_image, resize_longest_side, to_uint8  # noqa: E402


def enlarged(image: np.ndarray, side: int) -> np.ndarray:
    """``image`` resized to side x side (bicubic), as float RGB."""
    if image.shape[:2] == (side, side):
        return image
    return np.asarray(Image.fromarray(to_uint8(image)).resize((side, side), Image.BICUBIC), dtype=np.float32) / 255.0


def main() -> None:
    photo_path, seed, *rest = sys.argv[1:]
    photo = load_image(photo_path)
    exemplar = resize_longest_side(photo[:, :photo.shape[1] // 2], 256)
    config = presets.default_config(256, 256, "cpu").replace(seed=int(seed), **(json.loads(rest[0]) if rest else {}))
    name = Path(photo_path).name

    def score_level_start(record) -> None:
        if math.isnan(record.loss) and record.level > 0:  # a level's first record: the last level's canvas
            copy = metrics.copy_fraction_by_scale(enlarged(record.preview, 256), exemplar)
            print(name, seed, "after level", record.level - 1, "copy", [round(x, 3) for x in copy], flush=True)

    result = drive(synthesis.synthesize(config, exemplar), score_level_start)
    copy = metrics.copy_fraction_by_scale(result.image, exemplar)
    print(name, seed, "result", "copy", [round(x, 3) for x in copy], flush=True)


if __name__ == "__main__":
    main()
