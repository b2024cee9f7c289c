"""fp32 against bf16 autocast for the backbone on this CPU: whole default runs, timed and scored.

    taskset -c 0 .venv/bin/python bench/precision.py [--photos grass1-texturize.png,...]
        [--seeds 0] [--out bench/results] [--name precision]

Each run is the CLI's default (``default_config("cpu")``, auto layout on) at 256 px on a
photo from ../shared/textures, in its own child process with one torch thread and
TEXSTUDIO_BF16 set to 0 or 1; fp32 and bf16 alternate, so a busy neighbour slows both
alike. Scored by the engine's quality report against the exemplar. Only meaningful on a
CPU with bf16 instructions (engine/acceleration.py): elsewhere bf16 is emulated and
about 10x slower. Writes NAME.json and NAME.md into --out, and each image as a JPEG
into NAME/ beside them, to look at.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "textures"
PHOTOS = "grass1-texturize.png,gravel1-texturize.png,bricks-red-dcor25.png,foam-dtd-bubbly0139.png"


def child(photo: str, seed: int, image_out: str) -> dict:
    import numpy as np
    from PIL import Image

    from texstudio.engine.generators import drive
    from texstudio.engine.imageio import load_image
    from texstudio.engine.presets import default_config
    from texstudio.engine.synthesis import synthesize_and_score

    exemplar = load_image(SHARED / photo)
    started = time.process_time()
    result = drive(synthesize_and_score(default_config("cpu").replace(seed=seed), exemplar), None)
    cpu_s = time.process_time() - started  # the quality report included, as a user waits for it
    Image.fromarray((result.image * 255).round().astype(np.uint8)).save(image_out, quality=90)
    return {"photo": photo, "seed": seed, "precision": result.precision, "cpu_s": cpu_s,
            "iterations": result.iterations, **result.quality}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--photos", default=PHOTOS)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--name", default="precision")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.child[2])))
        return 0
    images = args.out / args.name
    images.mkdir(parents=True, exist_ok=True)
    rows = []
    for photo in [p for p in args.photos.split(",") if p]:
        for seed in [int(s) for s in args.seeds.split(",") if s]:
            for flag in ("0", "1"):
                env = {**os.environ, "TEXSTUDIO_BF16": flag, "OMP_NUM_THREADS": "1"}
                image = images / f"{Path(photo).stem}.seed{seed}.{'bf16' if flag == '1' else 'fp32'}.jpg"
                done = subprocess.run([sys.executable, __file__, "--child", photo, str(seed), str(image)],
                                      capture_output=True, text=True, env=env)
                row = (json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else
                       {"photo": photo, "seed": seed, "error": (done.stderr.strip().splitlines() or ["failed"])[-1]})
                print(row, flush=True)
                rows.append(row)
    from texstudio.engine import acceleration

    results = {"cpu_has_bf16": acceleration.cpu_has_bf16(), "rows": rows}
    (args.out / f"{args.name}.json").write_text(json.dumps(results, indent=1))
    (args.out / f"{args.name}.md").write_text(markdown(results))
    print(markdown(results))
    return 0


def markdown(results: dict) -> str:
    keys = ("patch_distance", "spectrum_distance", "color_distance", "copy_fraction")
    lines = [f"CPU has bf16 instructions: {results['cpu_has_bf16']}. One torch thread per run.", "",
             "| photo | seed | precision | CPU s | iterations | patch | spectrum | colour | copy |",
             "|---|---|---|---|---|---|---|---|---|"]
    pairs: dict[tuple, dict] = {}
    for row in results["rows"]:
        if "error" in row:
            lines.append(f"| {row['photo']} | {row['seed']} | failed: {row['error']} | | | | | | |")
            continue
        pairs.setdefault((row["photo"], row["seed"]), {})[row["precision"]] = row
        lines.append(f"| {row['photo']} | {row['seed']} | {row['precision']} | {row['cpu_s']:.0f} | "
                     f"{row['iterations']} | " + " | ".join(f"{row[k]:.5f}" for k in keys) + " |")
    both = [pair for pair in pairs.values() if {"fp32", "bf16"} <= set(pair)]
    if both:
        lines += ["", "| bf16 / fp32 | CPU time | patch | spectrum | colour |", "|---|---|---|---|---|"]
        for pair in both:
            fp32, bf16 = pair["fp32"], pair["bf16"]
            ratios = [bf16["cpu_s"] / fp32["cpu_s"]] + [bf16[k] / fp32[k] if fp32[k] else float("nan") for k in keys[:3]]
            lines.append(f"| {fp32['photo']} seed {fp32['seed']} | " + " | ".join(f"{r:.2f}" for r in ratios) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
