"""Cost of growing the first layout level (engine/growth.py) against that level's own steps.

    OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/python bench/grow_cost.py [--sizes 32,64,128] [--out bench/results]

One process, one torch thread, CPU seconds of this process. For each first-level size (32 px
is the CPU default's, 256 px output; 128 px that of a 2048 px output), the grown start
(``grow_canvas``, 60 steps a ring, the default) and the level's own 120 layout steps on the
whole canvas, measured in turns, three rounds, reported as the median ratio of the two
from the same round (this machine is noisy). The exemplar is the canvas's size, shrunk by
8 from one 8 times larger, as a held-out half's is at the 32 px level. Writes grow_cost.json
and grow_cost.md into --out.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from texstudio.engine.canvas import image_to_tensor  # noqa: E402
from texstudio.engine.generators import drive  # noqa: E402
from texstudio.engine.growth import grow_canvas  # noqa: E402
from texstudio.engine.imageio import resize_longest_side  # noqa: E402
from texstudio.engine.layout import PatchLayoutObjective, layout_optimizer  # noqa: E402
from texstudio.engine.presets import GROW_STEPS  # noqa: E402

LEVEL_STEPS = 120  # a CPU default run's layout steps per level


def timed(work) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


def level_steps(objective: PatchLayoutObjective, noise: torch.Tensor) -> None:
    canvas = noise.clone().requires_grad_(True)
    optimizer = layout_optimizer(canvas, LEVEL_STEPS)
    for _ in range(LEVEL_STEPS):
        optimizer.zero_grad(set_to_none=True)
        objective.loss_and_grad(canvas)
        optimizer.step()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="32,64,128")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        large = np.random.default_rng(0).random((8 * size, 8 * size, 3), dtype=np.float32)
        exemplar = image_to_tensor(resize_longest_side(large, size), torch.device("cpu"))
        noise = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(1))
        grown, own = [], []
        for _ in range(3):
            objective = PatchLayoutObjective(exemplar, seed=0, level=0, torus=False)
            grown.append(timed(lambda: drive(grow_canvas(noise, objective.loss_and_grad, GROW_STEPS))))
            own.append(timed(lambda: level_steps(objective, noise)))
        rows.append({"size": size, "grow_s": statistics.median(grown), "level_s": statistics.median(own),
                     "ratio": statistics.median(g / o for g, o in zip(grown, own))})
        print(json.dumps(rows[-1]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "grow_cost.json").write_text(json.dumps(rows, indent=1))
    lines = ["# Cost of growing the first layout level", "",
             f"CPU seconds, one torch thread: the grown start ({GROW_STEPS} steps a ring) and the level's own "
             f"{LEVEL_STEPS} layout steps; ratio measured in the same round, median of three (`bench/grow_cost.py`).",
             "", "| first level | growing, s | its own steps, s | ratio |", "|---|---|---|---|"]
    lines += [f"| {r['size']} px | {r['grow_s']:.2f} | {r['level_s']:.2f} | {r['ratio']:.2f} |" for r in rows]
    (args.out / "grow_cost.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
