"""Issue 5's acceptance check on photos the project has never seen: default CLI runs, scored and shown.

    .venv/bin/python scripts/heldout_check.py [PHOTO...] --out docs/heldout [--tileable PHOTO...]

Each photo is split in two: the left half is the exemplar given to `texstudio synth` with
default settings (on a CPU: 256x256, the exemplar shrunk to 256 px) (plus `--tileable` for the photos named after --tileable), the right half
is the held-out second crop the output is scored against. The same metrics also score the
exemplar itself against that crop, as the floor a perfect synthesis could reach (two
crops of one photo are not identical either). Writes results.md (the table, whole-run
wall times) and sheet.png (exemplar | output | output tiled 2x2 | held-out crop) to --out,
and the outputs themselves to OUT/outputs (not in git; --reuse scores them again).

The photos in docs/heldout ship inside scikit-image's wheel: neither in this repository nor
in ../shared/textures, and at hand without any download beyond the package registry. Brick,
grass and gravel are greyscale texture photos (512x512); ihc (a stained tissue section,
512x512) and hubble_deep_field (galaxies, 1000x872) are in colour, so the colour distance
and the colours by eye are tested too:

    pip download scikit-image==0.26.0 --no-deps -d /tmp/sk
    unzip -j /tmp/sk/scikit_image-*.whl skimage/data/brick.png skimage/data/grass.png \
        skimage/data/gravel.png skimage/data/ihc.png skimage/data/hubble_deep_field.jpg -d /tmp/heldout
    .venv/bin/python scripts/heldout_check.py /tmp/heldout/{brick,grass,gravel,ihc}.png \
        /tmp/heldout/hubble_deep_field.jpg --tileable /tmp/heldout/brick.png --out docs/heldout

A second set, with the tiles, planks and painted bricks scikit-image lacks, ships inside
robosuite's wheel (MIT; textures for its simulated scenes): docs/heldout_robosuite.

    pip download robosuite==1.5.2 --no-deps -d /tmp/rs
    unzip -j /tmp/rs/robosuite-*.whl 'robosuite/models/assets/textures/*' -d /tmp/rst
    .venv/bin/python scripts/heldout_check.py /tmp/rst/{white-bricks,wood-tiles,wood-varnished-panels}.png \
        /tmp/rst/{dark-wood,light-gray-floor-tile,gray-felt,dirt,brass-ambra}.png \
        --tileable /tmp/rst/{white-bricks,wood-tiles}.png --out docs/heldout_robosuite

A third, with grids, checks, blocks, grills and more bricks, ships inside miniworld's wheel
(Apache-2.0; textures for its 3-D gridworld): docs/heldout_miniworld.

    pip download miniworld==2.1.0 --no-deps -d /tmp/pk
    unzip -j /tmp/pk/miniworld-*.whl 'miniworld/textures/*.png' -x 'miniworld/textures/chars/*' -d /tmp/mw
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
sys.path.insert(0, str(REPO))

from texstudio.engine.imageio import load_image, resize_longest_side  # noqa: E402
from texstudio.engine.presets import CPU_SIZE  # noqa: E402  (the side a CPU run shrinks its exemplar to)
from texstudio.engine.metrics import (  # noqa: E402
    color_distance, layout_copy_fraction, patch_distance, seam_score, spectrum_distance,
)

THUMB = 256


def split(photo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    half = photo.shape[1] // 2
    return photo[:, :half], photo[:, half:2 * half]


def scores(image: np.ndarray, exemplar: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    return {
        "colour": color_distance(image, reference),
        "spectrum": spectrum_distance(image, reference),
        "patch": patch_distance(image, reference),
        "copy": layout_copy_fraction(image, exemplar),
        "seam": seam_score(image),
    }


def thumb(image: np.ndarray) -> Image.Image:
    picture = Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8))
    picture.thumbnail((THUMB, THUMB), Image.LANCZOS)
    return picture


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="*", type=Path)
    parser.add_argument("--tileable", nargs="*", type=Path, default=[], help="photos also run with --tileable")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--reuse", action="store_true",
                        help="score the outputs of an earlier run (in OUT/outputs) again instead of synthesizing")
    args = parser.parse_args()
    if not args.photos and not args.tileable:
        parser.error("give photos to run, plain or after --tileable")
    args.out.mkdir(parents=True, exist_ok=True)
    runs = [(photo, []) for photo in args.photos] + [(photo, ["--tileable"]) for photo in args.tileable]
    rows, pictures = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for index, (photo, options) in enumerate(runs):
            exemplar, reference = split(load_image(photo))
            exemplar_file = Path(tmp) / f"exemplar{index}.png"
            Image.fromarray((exemplar * 255).round().astype(np.uint8)).save(exemplar_file)
            # The CLI shrinks the exemplar so its longer side is the canvas's (exemplar_size): score at
            # that scale, or every grain would be compared with grains twice its size.
            factor = min(1.0, CPU_SIZE / max(exemplar.shape[:2]))
            exemplar = resize_longest_side(exemplar, round(max(exemplar.shape[:2]) * factor))
            reference = resize_longest_side(reference, round(max(reference.shape[:2]) * factor))
            label = photo.stem + (" --tileable" if options else "")
            out = args.out / "outputs" / (label.replace(" --", "_") + ".png")
            timing = out.with_suffix(".seconds")
            if not (args.reuse and out.exists() and timing.exists()):
                out.parent.mkdir(exist_ok=True)
                started = time.perf_counter()
                command = [sys.executable, "-m", "texstudio", "synth", str(exemplar_file), "-o", str(out),
                           "--quiet", "--overwrite", *options]
                subprocess.run(command, check=True)
                timing.write_text(f"{time.perf_counter() - started:.1f}\n")
            seconds = float(timing.read_text())
            output = load_image(out)
            # The floor: the exemplar scored as if it were the output; for copying, the held-out crop,
            # which copies nothing (a photo tiled from one small tile does repeat, though).
            floor = {**scores(exemplar, exemplar, reference), "copy": layout_copy_fraction(reference, exemplar)}
            rows.append((label, seconds, scores(output, exemplar, reference), floor))
            print(f"{label}: {seconds:.0f} s, {rows[-1][2]}", flush=True)
            tiled = np.tile(output, (2, 2, 1))
            pictures.append((label, [thumb(exemplar), thumb(output), thumb(tiled), thumb(reference)]))
    write_sheet(pictures, args.out / "sheet.png")
    write_table(rows, args.out / "results.md", " ".join(sys.argv[1:]))
    return 0


TITLES = ("exemplar (left half)", "texstudio synth, defaults", "output tiled 2x2, half scale", "held-out right half")


def write_sheet(pictures: list, path: Path, titles: tuple[str, ...] = TITLES) -> None:
    """One row per photo: (name, thumbnails), a title over each column (the first also names the photo)."""
    label = 20
    sheet = Image.new("RGB", (THUMB * len(titles), (THUMB + label) * len(pictures)), "white")
    draw = ImageDraw.Draw(sheet)
    for row, (name, thumbs) in enumerate(pictures):
        top = row * (THUMB + label)
        for col, picture in enumerate(thumbs):
            sheet.paste(picture, (col * THUMB, top + label))
            draw.text((col * THUMB + 4, top + 4), f"{name}: {titles[col]}" if col == 0 else titles[col],
                      fill="black")
    sheet.save(path)


def write_table(rows: list, path: Path, arguments: str) -> None:
    lines = ["# Held-out check: default CLI runs on photos the project has never seen", "",
             f"`scripts/heldout_check.py {arguments}` (its docstring says where the photos come from). "
             "Lower is better; each photo's left half was the exemplar, the right half is what it is scored "
             "against, both at the scale the CLI synthesizes at.", "",
             "![exemplar, output, output tiled, held-out crop](sheet.png)", "",
             "| photo | whole CLI run | colour | spectrum | patch | copy | seam |", "|---|---|---|---|---|---|---|"]
    for label, seconds, ours, floor in rows:
        cells = " | ".join(f"{ours[k]:.4f} ({floor[k]:.4f})" for k in ("colour", "spectrum", "patch"))
        lines.append(f"| {label} | {seconds:.0f} s | {cells} | {ours['copy']:.3f} ({floor['copy']:.3f}) "
                     f"| {ours['seam']:.2f} |")
    lines += ["", "In brackets: the exemplar itself scored against the held-out crop, the floor a synthesis "
              "can hope for; for copy, the held-out crop's own share of patches counted as copied, which should be "
              "near 0. copy: share of near-verbatim exemplar patches, worst of three scales (patches that match one "
              "place in the exemplar much better than any other; docs/copy_metric). seam: "
              "step across the wrap-around edges relative to the output's own strongest lines (1 or less tiles "
              "seamlessly; engine/metrics.py)."]
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
