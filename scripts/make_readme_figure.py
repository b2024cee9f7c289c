"""Regenerate docs/images/readme_result.png: exemplar, synthesized texture, and a 2x2 tiling.

    .venv/bin/python scripts/make_readme_figure.py [--textures ../shared/textures]

Uses the CLI's defaults (256x256, 180 steps on a CPU, the random multi-scale network), so
the picture shows what a new user gets offline. About two minutes per row on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent
ROWS = (  # (file in the textures folder, extra CLI options, label)
    ("foam-dtd-bubbly0139.png", ["--tileable"], "foam, --tileable"),
    ("gravel1-texturize.png", [], "gravel"),
)
THUMB = 256


def synth(exemplar: Path, out: Path, options: list[str]) -> None:
    command = [sys.executable, "-m", "texstudio", "synth", str(exemplar), "-o", str(out), "--quiet", *options]
    subprocess.run(command, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--textures", type=Path, default=REPO.parent / "shared" / "textures")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "readme_result.png")
    args = parser.parse_args()
    label_height = 22
    sheet = Image.new("RGB", (THUMB * 3, (THUMB + label_height) * len(ROWS)), "white")
    draw = ImageDraw.Draw(sheet)
    with tempfile.TemporaryDirectory() as tmp:
        for row, (name, options, label) in enumerate(ROWS):
            out = Path(tmp) / f"row{row}.png"
            started = time.perf_counter()
            synth(args.textures / name, out, options)
            print(f"{name} {' '.join(options)}: {time.perf_counter() - started:.0f} s (whole CLI run)", flush=True)
            exemplar = Image.open(args.textures / name).convert("RGB")
            exemplar.thumbnail((THUMB, THUMB))
            result = Image.open(out).convert("RGB")
            # The 2x2 tiling at half scale: any seam would show as a cross in the middle.
            tiled = Image.fromarray(np.tile(np.asarray(result), (2, 2, 1))).resize((THUMB, THUMB), Image.LANCZOS)
            top = row * (THUMB + label_height)
            for col, (picture, text) in enumerate((
                    (exemplar, f"exemplar: {label}"),
                    (result, "texstudio synth (defaults)"),
                    (tiled, "result tiled 2x2, half scale"))):
                sheet.paste(picture, (col * THUMB, top + label_height))
                draw.text((col * THUMB + 4, top + 5), text, fill="black")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
