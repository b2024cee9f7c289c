"""The probe that was not shipped: the 16 px layout level also matching mirrored views of the exemplar.

    .venv/bin/python docs/coarse_share/flipped_views_probe.py PHOTO OUT_DIR TAG FACTORS SEED [JSON]

Runs the default (presets.default_config, 256 px, CPU) on PHOTO's left half, shrunk to 256 px
as the CLI does, with the layout levels whose shrink factor is in FACTORS (comma-separated,
e.g. 16; "-" for none) also taking patches from the views flipped across, down and both.
JSON overrides settings, e.g. '{"layout_min_share": 0}' for the default before
docs/coarse_share. Prints the copy fraction per scale (full, half, quarter) against the
exemplar and the largest against its three mirror images, and the held-out right half's
patch and spectrum distances; writes OUT_DIR/TAG.png.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from texstudio.engine import metrics, presets, synthesis  # noqa: E402
from texstudio.engine.generators import drive  # noqa: E402
from texstudio.engine.imageio import load_image, resize_longest_side, to_uint8  # noqa: E402


# Across, down, both: in this order, after the plain views.
MIRRORS = (lambda v: v[:, ::-1], lambda v: v[::-1], lambda v: v[::-1, ::-1])


def main() -> None:
    photo_path, out_dir, tag, factors_text, seed, *rest = sys.argv[1:]
    factors = {int(f) for f in factors_text.split(",") if f.isdigit()}
    plain_views = synthesis.phase_views

    def with_mirrors(exemplar, factor, phases):
        views = plain_views(exemplar, factor, phases)
        if factor in factors and phases > 1:
            views = views + [np.ascontiguousarray(flip(v)) for flip in MIRRORS for v in views]
        return views

    synthesis.phase_views = with_mirrors  # the probe's one change; the engine is otherwise as committed
    photo = load_image(photo_path)
    half = photo.shape[1] // 2
    exemplar = resize_longest_side(photo[:, :half], 256)
    held_out = resize_longest_side(photo[:, half:], 256)
    config = presets.default_config(256, 256, "cpu").replace(seed=int(seed), **(json.loads(rest[0]) if rest else {}))
    result = drive(synthesis.synthesize(config, exemplar))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    Image.fromarray(to_uint8(result.image)).save(out / f"{tag}.png")
    copy = [round(x, 3) for x in metrics.copy_fraction_by_scale(result.image, exemplar)]
    mirrors = [np.ascontiguousarray(flip(exemplar)) for flip in MIRRORS]
    mirrored = [round(max(x), 3) for x in zip(*(metrics.copy_fraction_by_scale(result.image, m) for m in mirrors))]
    print(tag, factors_text, seed, "copy", copy, "mirrored", mirrored,
          "patch", round(metrics.patch_distance(result.image, held_out), 4),
          "spectrum", round(metrics.spectrum_distance(result.image, held_out), 3), flush=True)


if __name__ == "__main__":
    main()
