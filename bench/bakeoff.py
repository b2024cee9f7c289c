"""Quality bake-off: backbones x losses x pyramid on real texture photos, same time budget each.

    .venv/bin/python bench/bakeoff.py [--textures ../shared/textures] [--budget 30] [--size 192]
        [--limit N] [--out docs/bakeoff]

Each photo is split: the left half is the exemplar, the right half is held out as the
reference the metrics compare against (so a method that copies the exemplar gains
nothing). Every method runs until its time budget is spent (the stop token ends it),
then is scored. Baselines: the exemplar's pixels shuffled, and the exemplar itself.
Writes results.json, results.md (the table) and contact_sheet.png into --out.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from texstudio.engine.cancel import StopToken  # noqa: E402
from texstudio.engine.config import SynthConfig  # noqa: E402
from texstudio.engine.imageio import load_image, resize_longest_side  # noqa: E402
from texstudio.engine.metrics import color_distance, copy_fraction, patch_distance, spectrum_distance  # noqa: E402
from texstudio.engine.synthesis import run_synthesis  # noqa: E402

LOSSES = {  # name -> config fields
    "gram": dict(gram_weight=1.0),
    "gram+spec": dict(gram_weight=1.0, spectrum_weight=1.0),
    "sw": dict(gram_weight=0.0, sw_weight=1.0),
    "sw+spec": dict(gram_weight=0.0, sw_weight=1.0, spectrum_weight=1.0),
}
BACKBONES = ("vgg19", "random-multiscale")
PYRAMIDS = (1, 3)


def methods(backbones, losses, pyramids):
    for backbone in backbones:
        for loss in losses:
            for levels in pyramids:
                yield f"{backbone}/{loss}/p{levels}", dict(backbone=backbone, pyramid_levels=levels, **LOSSES[loss])


def run_with_budget(config: SynthConfig, exemplar: np.ndarray, seconds: float) -> tuple[np.ndarray, int]:
    stop = StopToken()
    timer = threading.Timer(seconds, stop.set)
    timer.start()
    try:
        result = run_synthesis(config, exemplar, stop=stop)
    finally:
        timer.cancel()
    return result.image, result.iterations


def score(output: np.ndarray, exemplar: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    return {
        "color": color_distance(output, reference),
        "spectrum": spectrum_distance(output, reference),
        "patch": patch_distance(output, reference),
        "copy": copy_fraction(output, exemplar),
    }


def split_photo(path: Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Left half -> exemplar, right half -> held-out reference, both at the same scale."""
    photo = load_image(path)
    half = photo.shape[1] // 2
    scale_to = int(size * max(photo.shape[0], half) / min(photo.shape[0], half))
    left = resize_longest_side(photo[:, :half], scale_to)
    right = resize_longest_side(photo[:, half:2 * half], scale_to)
    return left, right


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--textures", type=Path, default=REPO.parent / "shared" / "textures")
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per run")
    parser.add_argument("--size", type=int, default=192, help="output and exemplar size (px)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N photos of the manifest")
    parser.add_argument("--only", default="", help="comma-separated photo names to run")
    parser.add_argument("--backbones", default=",".join(BACKBONES))
    parser.add_argument("--losses", default=",".join(LOSSES))
    parser.add_argument("--pyramids", default=",".join(map(str, PYRAMIDS)))
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "bakeoff")
    args = parser.parse_args()

    manifest = [line.split("\t") for line in (args.textures / "MANIFEST.tsv").read_text().splitlines()[1:]]
    photos = [(row[0], row[6]) for row in manifest if row and row[0]]
    if args.only:
        wanted = set(args.only.split(","))
        photos = [p for p in photos if p[0] in wanted]
    if args.limit:
        photos = photos[: args.limit]
    chosen = list(methods(args.backbones.split(","), args.losses.split(","), [int(p) for p in args.pyramids.split(",")]))
    args.out.mkdir(parents=True, exist_ok=True)
    rows, thumbs = [], {}
    for name, kind in photos:
        exemplar, reference = split_photo(args.textures / name, args.size)
        rng = np.random.default_rng(0)
        shuffled = exemplar.reshape(-1, 3)[rng.permutation(exemplar.shape[0] * exemplar.shape[1])].reshape(exemplar.shape)
        outputs = {"baseline/shuffled": (shuffled[: args.size, : args.size], 0),
                   "baseline/exemplar": (exemplar[: args.size, : args.size], 0)}
        for method, fields in chosen:
            config = SynthConfig(width=args.size, height=args.size, steps=100000, seed=0, device="cpu",
                                 preview_every=0, **fields)
            started = time.perf_counter()
            outputs[method] = run_with_budget(config, exemplar, args.budget)
            print(f"{name:32s} {method:32s} {outputs[method][1]:4d} steps {time.perf_counter() - started:5.1f} s",
                  flush=True)
        for method, (image, steps) in outputs.items():
            rows.append({"photo": name, "kind": kind, "method": method, "steps": steps,
                         **score(image, exemplar, reference)})
        thumbs[name] = {m: image for m, (image, _) in outputs.items()}
        (args.out / "results.json").write_text(json.dumps(rows, indent=1))
    write_table(rows, args)
    write_contact_sheet(thumbs, args.out / "contact_sheet.png")
    return 0


def write_table(rows: list[dict], args) -> None:
    by_method: dict[str, list[dict]] = {}
    for row in rows:
        by_method.setdefault(row["method"], []).append(row)
    photos = sorted({r["photo"] for r in rows})
    # Rank each method per photo on the patch distance (the metric closest to "looks like it").
    ranks: dict[str, list[int]] = {m: [] for m in by_method}
    for photo in photos:
        entries = sorted((r["patch"], r["method"]) for r in rows if r["photo"] == photo and not r["method"].startswith("baseline/exemplar"))
        for rank, (_, method) in enumerate(entries, start=1):
            ranks[method].append(rank)
    lines = [
        f"Bake-off: {len(photos)} photos, {args.size} px, {args.budget:.0f} s per run on this CPU "
        "(scores against the held-out right half of each photo; lower is better).",
        "",
        "| method | mean rank (patch) | patch | spectrum | colour | copy | steps in budget |",
        "|---|---|---|---|---|---|---|",
    ]
    for method, entries in sorted(by_method.items(), key=lambda kv: np.mean(ranks.get(kv[0]) or [99])):
        mean = lambda key: np.mean([e[key] for e in entries])  # noqa: E731
        rank = f"{np.mean(ranks[method]):.1f}" if ranks.get(method) else "-"
        lines.append(f"| {method} | {rank} | {mean('patch'):.4f} | {mean('spectrum'):.3f} | {mean('color'):.4f} "
                     f"| {mean('copy'):.3f} | {mean('steps'):.0f} |")
    (args.out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def write_contact_sheet(thumbs: dict, path: Path, cell: int = 128) -> None:
    photos = list(thumbs)
    methods_list = list(next(iter(thumbs.values())))
    label = 14
    sheet = Image.new("RGB", (cell * len(methods_list), (cell + label) * len(photos) + label), "white")
    draw = ImageDraw.Draw(sheet)
    for col, method in enumerate(methods_list):
        draw.text((col * cell + 2, 1), method.replace("random-multiscale", "rms").replace("baseline/", ""),
                  fill="black")
    for row, photo in enumerate(photos):
        top = label + row * (cell + label)
        draw.text((2, top + 1), photo, fill="black")
        for col, method in enumerate(methods_list):
            image = Image.fromarray((np.clip(thumbs[photo][method], 0, 1) * 255).astype(np.uint8))
            sheet.paste(image.resize((cell, cell)), (col * cell, top + label))
    sheet.save(path)


if __name__ == "__main__":
    raise SystemExit(main())
