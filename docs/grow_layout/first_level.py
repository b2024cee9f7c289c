"""How regular the first layout level comes out, grown or from noise everywhere, seed by seed.

    .venv/bin/python docs/grow_layout/first_level.py PHOTO SEEDS [GROW_STEPS]

Runs the CPU default on PHOTO's left half (shrunk to 256 px, as the CLI does) up to the end
of its first pyramid level, once with layout_grow_steps 0 and once with GROW_STEPS (default
60), for each of SEEDS (e.g. 0,1,2), and prints that canvas's periodicity
(engine/periodicity.py) after the exemplar's own.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from texstudio.engine import presets, synthesis  # noqa: E402
from texstudio.engine.cancel import StopToken  # noqa: E402
from texstudio.engine.generators import drive  # noqa: E402
from texstudio.engine.imageio import load_image, resize_longest_side  # noqa: E402
from texstudio.engine.periodicity import periodicity  # noqa: E402


def first_level(exemplar, seed: int, grow_steps: int):
    stop, canvases = StopToken(), []

    def grab(record) -> None:
        if math.isnan(record.loss) and record.level == 1:  # level 1 starts from level 0's canvas
            canvases.append(record.preview)
            stop.set()

    config = presets.default_config(256, 256, "cpu").replace(seed=seed, layout_grow_steps=grow_steps)
    drive(synthesis.synthesize(config, exemplar, stop), grab)
    return canvases[0]


def main() -> None:
    photo = load_image(sys.argv[1])
    seeds = [int(s) for s in sys.argv[2].split(",")]
    grow = int(sys.argv[3]) if len(sys.argv) > 3 else 60
    exemplar = resize_longest_side(photo[:, :photo.shape[1] // 2], 256)
    print("exemplar periodicity", round(periodicity(exemplar), 3))
    for steps in (0, grow):
        print(f"layout_grow_steps {steps}:", [round(periodicity(first_level(exemplar, s, steps)), 3) for s in seeds],
              flush=True)


if __name__ == "__main__":
    main()
