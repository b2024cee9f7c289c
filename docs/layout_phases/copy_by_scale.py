"""One default CLI run on a photo's left half, and its copy fraction at full, half and quarter scale.

    .venv/bin/python docs/layout_phases/copy_by_scale.py PHOTO OUT_DIR TAG [texstudio synth options...]

The left half is written to OUT_DIR/TAG_ex.png and given to `texstudio synth` (default
settings plus the options given, e.g. `--seed 1 --layout-phases 1`); the output goes to
OUT_DIR/TAG.png. Prints one line: the tag, the options, the copy fraction per scale
(`metrics.copy_fraction` against the exemplar as the run saw it, shrunk to 256 px), and
the run's wall time.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from texstudio.engine import metrics  # noqa: E402
from texstudio.engine.imageio import resize_longest_side  # noqa: E402
from texstudio.engine.presets import CPU_SIZE  # noqa: E402


def main() -> None:
    photo, out_dir, tag, *options = sys.argv[1:]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    image = Image.open(photo).convert("RGB")
    exemplar_path, output_path = out / f"{tag}_ex.png", out / f"{tag}.png"
    image.crop((0, 0, image.width // 2, image.height)).save(exemplar_path)
    started = time.time()
    subprocess.run([sys.executable, "-m", "texstudio", "synth", str(exemplar_path), "-o", str(output_path),
                    "--overwrite", "--quiet", *options], check=True, cwd=REPO)
    wall = time.time() - started
    output = np.asarray(Image.open(output_path).convert("RGB"), dtype=np.float32) / 255
    exemplar = resize_longest_side(np.asarray(Image.open(exemplar_path).convert("RGB"), dtype=np.float32) / 255,
                                   CPU_SIZE)
    per_scale = [round(fraction, 3) for fraction in metrics.copy_fraction_by_scale(output, exemplar)]
    print(tag, " ".join(options), "copy per scale", per_scale, f"{wall:.0f} s", flush=True)


if __name__ == "__main__":
    main()
