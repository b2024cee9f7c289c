"""Bands along the edges of an output larger than its exemplar, with the lighting kept and removed.

    OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/python bench/lighting.py
        [--photos foam-dtd-bubbly0139.png,gravel1-texturize.png] [--exemplar 64] [--canvas 256]
        [--out bench/results] [--name lighting] [--sheet docs/lighting/sheet.png]

Each photo from ../shared/textures is shrunk to --exemplar px and learned onto a --canvas
px canvas with the default settings (auto layout off), once with ``lighting="keep"`` and
once with ``"remove"`` (engine/lighting.py). Reported per run: the mean grey of the 6 px
along each edge minus the interior's (0 = no band; the range is 0 to 1), the exemplar's
own lighting (top quarter minus bottom quarter, left minus right), and the quality report
against the exemplar each run learned from. Writes NAME.json, NAME.md and a sheet (exemplar
| kept | removed per photo).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from texstudio.engine.imageio import load_image, resize_longest_side, to_uint8  # noqa: E402
from texstudio.engine.generators import drive  # noqa: E402
from texstudio.engine.presets import default_config  # noqa: E402
from texstudio.engine.synthesis import synthesize_and_score  # noqa: E402

SHARED = REPO.parent / "shared" / "textures"


def bands(image: np.ndarray, width: int = 6) -> dict[str, float]:
    grey = image.mean(axis=2)
    inner = grey[16:-16, 16:-16].mean()
    edges = {"top": grey[:width], "bottom": grey[-width:], "left": grey[:, :width], "right": grey[:, -width:]}
    return {side: round(float(edge.mean() - inner), 4) for side, edge in edges.items()}


def own_lighting(exemplar: np.ndarray) -> dict[str, float]:
    grey = exemplar.mean(axis=2)
    quarter_y, quarter_x = grey.shape[0] // 4, grey.shape[1] // 4
    return {"top_minus_bottom": round(float(grey[:quarter_y].mean() - grey[-quarter_y:].mean()), 4),
            "left_minus_right": round(float(grey[:, :quarter_x].mean() - grey[:, -quarter_x:].mean()), 4)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", default="foam-dtd-bubbly0139.png,gravel1-texturize.png")
    parser.add_argument("--exemplar", type=int, default=64)
    parser.add_argument("--canvas", type=int, default=256)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--name", default="lighting")
    parser.add_argument("--sheet", type=Path, default=None)
    args = parser.parse_args()
    rows, sheet_rows = [], []
    for name in args.photos.split(","):
        exemplar = resize_longest_side(load_image(SHARED / name), args.exemplar)
        config = default_config(args.canvas, args.canvas, device="cpu").replace(preview_every=0, auto_layout=False)
        images = []
        for lighting in ("keep", "remove"):
            started = time.process_time()
            result = drive(synthesize_and_score(config.replace(lighting=lighting), exemplar))
            row = {"photo": name, "exemplar_px": args.exemplar, "canvas_px": args.canvas, "lighting": lighting,
                   "cpu_s": round(time.process_time() - started, 1), "exemplar_lighting": own_lighting(exemplar),
                   "bands": bands(result.image), "quality": result.quality}
            print(json.dumps(row), flush=True)
            rows.append(row)
            images.append(result.image)
        sheet_rows.append((exemplar, *images))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(rows, indent=1))
    lines = ["| photo | lighting | exemplar: top - bottom, left - right | bands: top, bottom, left, right "
             "| patch distance | spectrum distance |", "|---|---|---|---|---|---|"]
    for r in rows:
        own, band, q = r["exemplar_lighting"], r["bands"], r["quality"]
        lines.append(f"| {r['photo']} | {r['lighting']} | {own['top_minus_bottom']:+.3f}, {own['left_minus_right']:+.3f} "
                     f"| {band['top']:+.3f}, {band['bottom']:+.3f}, {band['left']:+.3f}, {band['right']:+.3f} "
                     f"| {q['patch_distance']:.4f} | {q['spectrum_distance']:.3f} |")
    (args.out / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if args.sheet:
        from PIL import Image

        side = args.canvas
        sheet = Image.new("RGB", (3 * side, side * len(sheet_rows)), "white")
        for i, (exemplar, kept, removed) in enumerate(sheet_rows):
            sheet.paste(Image.fromarray(to_uint8(exemplar)), (0, i * side))
            sheet.paste(Image.fromarray(to_uint8(kept)), (side, i * side))
            sheet.paste(Image.fromarray(to_uint8(removed)), (2 * side, i * side))
        args.sheet.parent.mkdir(parents=True, exist_ok=True)
        sheet.save(args.sheet)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
