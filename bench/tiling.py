"""Peak memory and time per step of tiled against whole-canvas evaluation (engine/tiling.py).

    OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/python bench/tiling.py [--sizes 1024,2048]
        [--tiled-only 4096] [--whole-only 2048] [--set '{"sw_weight": 1.0}'] [--out bench/results] [--name tiling]

Default settings with every step at full size (one pyramid level, auto layout off: the
worst case), on an exemplar as large as the canvas (the gravel photo mirrored out to the
size, or seeded noise without ../shared), so the exemplar's targets are tiled too. Each
run is its own child process, so its peak RSS is its own; at each size the whole and the
tiled run go one after the other, and their ratio is what to compare.

L-BFGS's history fills over its first 20 steps, which a short run does not reach: the
table adds what the full history would hold (2 x 20 canvas-sized vectors), computed.
Each row records the backbone's precision (engine/acceleration.py: bf16 on CPUs with
bf16 instructions); set TEXSTUDIO_BF16=0 or 1 to measure either.
--set overrides settings of the default as JSON (the sliced-Wasserstein loss above).
Writes NAME.json and NAME.md into --out.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

STEPS = {512: 5, 1024: 4, 2048: 3, 4096: 2}


def exemplar_array(size: int) -> np.ndarray:
    from texstudio.engine.imageio import load_image

    photo = REPO.parent / "shared" / "textures" / "gravel1-texturize.png"
    if not photo.exists():
        return np.random.default_rng(0).random((size, size, 3), dtype=np.float32)
    image = load_image(photo)
    reps = math.ceil(size / min(image.shape[:2]))
    # Mirrored, not repeated: no seams, so it stays a plausible (if periodic) exemplar.
    return np.pad(image, ((0, image.shape[0] * (reps - 1)), (0, image.shape[1] * (reps - 1)), (0, 0)),
                  mode="symmetric")[:size, :size]


def child(mode: str, size: int, steps: int, overrides: dict) -> dict:
    import torch

    from texstudio.engine import acceleration, tiling
    from texstudio.engine.presets import default_config
    from texstudio.engine.synthesis import synthesize

    # The one switch: tile every canvas and exemplar, or none.
    tiling.TILE_ABOVE_PIXELS = 0 if mode == "tiled" else 1 << 62
    config = default_config(size, size, device="cpu").replace(steps=steps, preview_every=0, pyramid_levels=1,
                                                              auto_layout=False, **overrides)
    times, last = [], None
    started = time.perf_counter()
    for record in synthesize(config, exemplar_array(size)):
        now = time.perf_counter()
        if record.iteration == 0:
            setup = now - started
        elif last is not None:
            times.append(now - last)
        last = now
    return {"s_per_step": statistics.median(times[1:] or times), "setup_s": setup,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "lbfgs_full_history_mib": 2 * config.lbfgs_history * 3 * size * size * 4 / 2**20, "steps": steps,
            "precision": acceleration.precision(torch.device("cpu"))}


def run_child(mode: str, size: int, overrides: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", mode, str(size), str(STEPS.get(size, 2)),
                           "--set", overrides], capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="1024,2048")
    parser.add_argument("--tiled-only", default="")
    parser.add_argument("--whole-only", default="")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--name", default="tiling")
    parser.add_argument("--set", default="{}", help="settings to override, as JSON")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), int(args.child[2]), json.loads(args.set))))
        return 0
    import os
    import platform

    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    results = {"machine": f"{cpu}, {len(os.sched_getaffinity(0))} core(s) available, "
                          f"{torch.get_num_threads()} torch threads, torch {torch.__version__}",
               "settings": json.loads(args.set), "rows": []}
    plan = [(int(s), mode) for s in args.sizes.split(",") if s for mode in ("whole", "tiled")]
    plan += [(int(s), "tiled") for s in args.tiled_only.split(",") if s]
    plan += [(int(s), "whole") for s in args.whole_only.split(",") if s]
    for size, mode in plan:
        row = {"size": size, "mode": mode, **run_child(mode, size, args.set)}
        print(row, flush=True)
        results["rows"].append(row)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(results, indent=1))
    (args.out / f"{args.name}.md").write_text(markdown(results))
    print(markdown(results))
    return 0


def markdown(results: dict) -> str:
    lines = [f"Machine: {results['machine']}.", f"Default settings with {results.get('settings') or 'no changes'}.", "",
             "| size | evaluation | precision | s/step | set-up s | peak RSS MiB | + full L-BFGS history MiB |",
             "|---|---|---|---|---|---|---|"]
    for row in results["rows"]:
        if "error" in row:
            lines.append(f"| {row['size']} | {row['mode']} | | failed: {row['error']} | | | |")
        else:
            lines.append(f"| {row['size']} | {row['mode']} | {row.get('precision', 'not recorded')} "
                         f"| {row['s_per_step']:.1f} | {row['setup_s']:.1f} "
                         f"| {row['peak_rss_mib']:.0f} | {row['lbfgs_full_history_mib']:.0f} |")
    by_size: dict[int, dict] = {}
    for row in results["rows"]:
        by_size.setdefault(row["size"], {})[row["mode"]] = row
    ratios = [(size, pair) for size, pair in sorted(by_size.items())
              if "whole" in pair and "tiled" in pair and "error" not in pair["whole"] and "error" not in pair["tiled"]]
    if ratios:
        lines += ["", "| size | tiled / whole, time per step | tiled / whole, peak RSS |", "|---|---|---|"]
        for size, pair in ratios:
            lines.append(f"| {size} | {pair['tiled']['s_per_step'] / pair['whole']['s_per_step']:.2f} "
                         f"| {pair['tiled']['peak_rss_mib'] / pair['whole']['peak_rss_mib']:.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
