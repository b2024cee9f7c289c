"""Does the seam score tell tiles from untiled results? The default, tileable and not, on shared photos.

Each photo's left half (the bake-off split) is synthesised twice with the default settings,
the same seed: once on a torus (``tileable``), once plainly. The untiled result has a seam
at its wrap-around edges, the tile should not. Both are scored by engine/metrics.py's
seam score and by the same ratio with other normalisers: the interior lines' mean step
(the score before 2026-12) and their 50th to 99th percentiles. Writes OUT/results.md,
OUT/results.json and OUT/tiled.jpg (each result repeated 2x2: tile, untiled).

    OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/python bench/seam.py --out docs/seam_score
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bakeoff import split_photo  # noqa: E402
from texstudio.engine.imageio import to_uint8  # noqa: E402
from texstudio.engine.metrics import _line_steps, seam_score  # noqa: E402
from texstudio.engine.presets import default_config  # noqa: E402
from texstudio.engine.synthesis import run_synthesis  # noqa: E402

PHOTOS = ("bricks-red-dcor25.png", "blockwall-dcor50.png", "checker-stone-dcor13.png", "honeycomb-nst214.jpg",
          "slates-dcor29.jpg", "treadplate-nst11.jpg", "weave-basket-nst182.jpg", "grass1-texturize.png",
          "gravel1-texturize.png", "foam-dtd-bubbly0139.png")
QUANTILES = (0.5, 0.75, 0.9, 0.95, 0.99)


def ratios(image: np.ndarray) -> dict[str, float]:
    """The wrap's step over each normaliser of the interior lines' steps, worse direction."""
    image = np.asarray(image, np.float64)
    per_axis = [_line_steps(image, axis) for axis in (0, 1)]
    out = {}
    for name, normalise in [("mean", np.mean)] + [(f"q{round(q * 100)}", lambda d, q=q: np.quantile(d, q))
                                                  for q in QUANTILES]:
        out[name] = max(steps[-1] / normalise(steps[:-1]) for steps in per_axis)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--textures", type=Path, default=REPO.parent / "shared" / "textures")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", default=",".join(PHOTOS))
    parser.add_argument("--save", action="store_true", help="also write each result to OUT/outputs as PNG")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows, tiles = [], []
    for name in args.only.split(","):
        exemplar, _ = split_photo(args.textures / name, args.size)
        pair = []
        for tileable in (True, False):
            config = default_config(args.size, args.size, "cpu").replace(
                seed=args.seed, tileable=tileable, exemplar_size=0, preview_every=0)
            started = time.process_time()
            image = run_synthesis(config, exemplar).image
            rows.append({"photo": name, "tileable": tileable, "cpu_s": round(time.process_time() - started, 1),
                         "seam_score": round(seam_score(image), 3),
                         **{k: round(v, 3) for k, v in ratios(image).items()}})
            print(json.dumps(rows[-1]), flush=True)
            picture = to_uint8(image)
            pair.append(np.tile(picture, (2, 2, 1)))
            if args.save:
                (args.out / "outputs").mkdir(exist_ok=True)
                Image.fromarray(picture).save(
                    args.out / "outputs" / f"{Path(name).stem}__{'tile' if tileable else 'plain'}.png")
        tiles.append(np.concatenate([np.pad(p, ((2, 2), (2, 2), (0, 0)), constant_values=255) for p in pair], 1))
    (args.out / "results.json").write_text(json.dumps(rows, indent=1))
    Image.fromarray(np.concatenate(tiles)).save(args.out / "tiled.jpg", quality=88)
    write_table(rows, args.out / "results.md", " ".join(sys.argv[1:]))
    return 0


def write_table(rows: list[dict], path: Path, command: str) -> None:
    keys = ["mean"] + [f"q{round(q * 100)}" for q in QUANTILES]
    lines = [f"# Seam score: tiles against untiled results (`bench/seam.py {command}`)", "",
             "The wrap's mean step over the interior lines' (mean, or a percentile of the per-line steps); "
             "the worse direction. q99 is `seam_score`.", "",
             "| photo | " + " | ".join(f"{k} tile / untiled" for k in keys) + " |",
             "|---|" + "---|" * len(keys)]
    for tile, plain in zip(rows[::2], rows[1::2]):
        lines.append(f"| {tile['photo']} | " + " | ".join(f"{tile[k]:.2f} / {plain[k]:.2f}" for k in keys) + " |")
    worst_tile = {k: max(r[k] for r in rows if r["tileable"]) for k in keys}
    best_plain = {k: min(r[k] for r in rows if not r["tileable"]) for k in keys}
    lines.append("| **highest tile / lowest untiled** | "
                 + " | ".join(f"**{worst_tile[k]:.2f} / {best_plain[k]:.2f}**" for k in keys) + " |")
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
