"""Cost of one evaluation with each optional loss term, or without the largest filters.

    OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/python bench/term_cost.py [--sizes 128,256] [--out bench/results]

One process, one torch thread, CPU seconds of this process: the default settings (pyramid
off, so every step is at full size) and the same with one term switched on, measured in
turns, three rounds each, and reported as the median ratio to the default measured in the
same round; so is one step of the patch layout (--layout-steps) at the same size, with one
view of the exemplar, with 4 x 4 (--layout-phases 4), with the copy term, and with the
copy term seen pooled by 2 as the half-size level has it, and with each patch's context
(--layout-context 1; levels of 64 px and up) (this machine is noisy; absolute
seconds drift between runs). Use the ratio to
give two methods the same budget in evaluations (bench/bakeoff.py --steps). Writes
term_cost.json and term_cost.md into --out.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# The default's own full-size copy term (copy_weight 1) runs only for an exemplar with fewer
# windows than the canvas at half size: this variant's is half the canvas's width, as a photo's half.
COPY_VARIANT = "+ its copy term (exemplar half the width; --copy-weight 0 = off)"
# Each variant: the SynthConfig fields it changes over the default.
VARIANTS = {
    "default (Gram + colour)": {},
    "+ shifted Grams (corr 1)": {"corr_weight": 1.0},
    "+ spectrum 1": {"spectrum_weight": 1.0},
    "+ sliced Wasserstein 1": {"sw_weight": 1.0},
    "without the 23 px filters": {"layers": ("relu_k3", "relu_k5", "relu_k7", "relu_k11", "relu_k15")},
    COPY_VARIANT: {},
}


def seconds_per_evaluation(size: int, fields: dict, steps: int = 6, exemplar_width: int | None = None) -> float:
    from texstudio.engine.presets import default_config
    from texstudio.engine.synthesis import synthesize

    exemplar = np.random.default_rng(0).random((size, exemplar_width or size, 3), dtype=np.float32)
    config = default_config(size, size, device="cpu").replace(steps=steps, preview_every=0, pyramid_levels=1,
                                                               **fields)
    times, last = [], None
    for record in synthesize(config, exemplar):
        now = time.process_time()
        if record.iteration > 1 and last is not None:  # the first evaluation warms up
            times.append(now - last)
        last = now
    return statistics.median(times)


def seconds_per_layout_step(size: int, steps: int = 6, phases: int = 1, copy_weight: float = 0.0,
                            copy_pool: int = 1, context_weight: float = 0.0) -> float:
    """One Adam step of the patch layout (engine/layout.py) on a size x size canvas: what a
    pyramid level below full size costs per step with --layout-steps. The exemplar is the
    canvas's size, shrunk by 4 from one 4 times larger; with ``phases``, that many views of
    it per axis (layout.phase_views), given to the objective whatever a run would choose (a
    run takes them only for an exemplar with fewer patches than the canvas, phases_needed).
    With ``copy_weight``, the copy term too (engine/copy_penalty.py), which a run gives the
    levels a quarter of the output's size and coarser, and, pooled by ``copy_pool`` 2, the
    half-size one (copy_penalty.pooling). With ``context_weight``, every patch with its
    blurred context (layout.context_patches), as levels of 64 px and up have it."""
    import torch

    from texstudio.engine.copy_penalty import CopyPenalty
    from texstudio.engine.layout import PatchLayoutObjective, layout_optimizer, phase_views
    from texstudio.engine.canvas import image_to_tensor

    large = np.random.default_rng(0).random((4 * size, 4 * size, 3), dtype=np.float32)
    views = [image_to_tensor(view, torch.device("cpu")) for view in phase_views(large, 4, phases)]
    objective = PatchLayoutObjective(views[0], seed=0, level=0, torus=False, canvas_shape=(size, size),
                                     shifted_views=views[1:], copy_weight=copy_weight,
                                     copy_penalty=CopyPenalty(views[0], False, 0, 0, copy_pool) if copy_weight else None,
                                     context_weight=context_weight)
    canvas = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(1)).requires_grad_(True)
    optimizer = layout_optimizer(canvas, steps)
    times = []
    for step in range(steps):
        started = time.process_time()
        optimizer.zero_grad()
        sum(objective(canvas).values()).backward()
        optimizer.step()
        if step:  # the first step warms up
            times.append(time.process_time() - started)
    return statistics.median(times)


LAYOUT_STEP = "one patch-layout step (Adam), for comparison"
LAYOUT_VIEWS_STEP = "one patch-layout step with 4 x 4 exemplar views (--layout-phases 4)"
LAYOUT_COPY_STEP = "one patch-layout step with the copy term (--layout-copy-weight 1)"
LAYOUT_POOLED_COPY_STEP = "the same with the copy term pooled by 2 (the half-size level's)"
LAYOUT_CONTEXT_STEP = "one patch-layout step with each patch's context (--layout-context 1)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="128,256")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    rows = []
    for size in [int(s) for s in args.sizes.split(",") if s]:
        ratios: dict[str, list[float]] = {name: [] for name in VARIANTS}
        seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
        for _ in range(args.rounds):
            base = None
            for name, fields in VARIANTS.items():
                measured = seconds_per_evaluation(size, fields,
                                                  exemplar_width=size // 2 if name == COPY_VARIANT else None)
                base = measured if base is None else base
                seconds[name].append(measured)
                ratios[name].append(measured / base)
            for name, phases, copy_weight, copy_pool, context in (
                    (LAYOUT_STEP, 1, 0.0, 1, 0.0), (LAYOUT_VIEWS_STEP, 4, 0.0, 1, 0.0),
                    (LAYOUT_COPY_STEP, 1, 1.0, 1, 0.0), (LAYOUT_POOLED_COPY_STEP, 1, 1.0, 2, 0.0),
                    (LAYOUT_CONTEXT_STEP, 1, 0.0, 1, 1.0)):
                measured = seconds_per_layout_step(size, phases=phases, copy_weight=copy_weight,
                                                   copy_pool=copy_pool, context_weight=context)
                seconds.setdefault(name, []).append(measured)
                ratios.setdefault(name, []).append(measured / base)
        for name in seconds:
            rows.append({"size": size, "variant": name, "s_per_evaluation": statistics.median(seconds[name]),
                         "ratio_to_default": statistics.median(ratios[name])})
            print(json.dumps(rows[-1]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "term_cost.json").write_text(json.dumps(rows, indent=1))
    lines = ["# Cost of one evaluation per optional loss term", "",
             "CPU seconds per evaluation, one torch thread, pyramid off; ratio to the default measured in the "
             "same round (`bench/term_cost.py`).", "", "| size | variant | s per evaluation | ratio to default |",
             "|---|---|---|---|"]
    lines += [f"| {r['size']} | {r['variant']} | {r['s_per_evaluation']:.2f} | {r['ratio_to_default']:.2f} |"
              for r in rows]
    (args.out / "term_cost.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
