"""What each pyramid level made: the default run on bake-off exemplar halves, level by level.

A structured run that ends badly may have lost its cells in the layout levels or in the
full-size level after them; the final image alone cannot tell which. This runs the
default (auto layout on) on each photo's left half, keeps the canvas at the end of every
level, and writes one row per photo: the exemplar, each level's canvas enlarged to full
size, the result. Scores are the bake-off's, against the held-out right half.

    # the photos auto layout lays out, two variants, one pinned core each
    # (docs/bakeoff_auto/noise/README.md has every command of that study):
    L="OMP_NUM_THREADS=1 taskset -c I .venv/bin/python bench/levels.py --out /tmp/lv"
    $L --tag noise1 --set '{"pyramid_noise": 1.0}'      # I = 0
    $L --tag noise0 --set '{"pyramid_noise": 0.0}'      # I = 1
    .venv/bin/python bench/levels.py --out /tmp/lv --sheet noise1,noise0

``--set`` changes the default's fields before auto layout decides (its split keeps them);
the seed is 0 unless it names one (give each seed its own --tag).
Rows go to OUT/rows/ (not committed), results to OUT/results-TAG-SHARD.json, the sheet
to OUT/levels.jpg: for every photo, one row per tag.
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

from bakeoff import photo_kinds, score, split_photo  # noqa: E402
from texstudio.engine.imageio import resize_longest_side, to_uint8  # noqa: E402
from texstudio.engine.periodicity import REPEATING, periodicity  # noqa: E402
from texstudio.engine.presets import default_config  # noqa: E402
from texstudio.engine.synthesis import synthesize  # noqa: E402

SIZE = 256


def to_bytes(image: np.ndarray, side: int = SIZE) -> np.ndarray:
    """(H, W, 3) in [0, 1] -> uint8, enlarged with nearest neighbours so coarse pixels stay visible."""
    pixels = Image.fromarray(to_uint8(image))
    return np.asarray(pixels.resize((side, side), Image.NEAREST) if pixels.size != (side, side) else pixels)


def exemplar_cell(exemplar: np.ndarray) -> np.ndarray:
    """The exemplar's top-left SIZE x SIZE, padded with black: at its own scale, not stretched."""
    cell = np.zeros((SIZE, SIZE, 3), np.uint8)
    crop = to_uint8(exemplar[:SIZE, :SIZE])
    cell[:crop.shape[0], :crop.shape[1]] = crop
    return cell


def run_photo(path: Path, changes: dict, exemplar_size: int) -> tuple[np.ndarray, dict]:
    exemplar, reference = split_photo(path, SIZE)
    # exemplar_size 0, as in the bake-off, keeps the half's scale. The CLI's 256 shrinks a
    # tall half's longer side to 256 px, and its texture with it, as a user's photo is shrunk.
    config = default_config(SIZE, SIZE, "cpu").replace(
        **{"seed": 0, "preview_every": 1, "exemplar_size": exemplar_size, **changes})
    level_ends: dict[int, np.ndarray] = {}
    started = time.process_time()
    steps = synthesize(config, exemplar)
    try:
        while True:
            record = next(steps)
            if record.preview is not None:
                level_ends[record.level] = record.preview
    except StopIteration as finished:
        result = finished.value
    cpu = time.process_time() - started
    # Shown and scored at the scale the run saw: the engine shrank the exemplar to
    # exemplar_size, and the held-out half (the same shape) is shrunk alike.
    seen, held_out = (resize_longest_side(image, result.config.exemplar_size) for image in (exemplar, reference))
    row = np.concatenate([exemplar_cell(seen)] + [to_bytes(level_ends[level]) for level in sorted(level_ends)]
                         + [to_bytes(result.image)], axis=1)
    scores = {key: round(float(value), 4) for key, value in score(result.image, seen, held_out).items()}
    return row, {"photo": path.name, "cpu_s": round(cpu, 1), "levels": len(level_ends),
                 "layout_steps": result.config.layout_steps, "steps": result.config.steps,
                 "pyramid_noise": result.config.pyramid_noise, "precision": result.precision, **scores}


def laid_out_photos(textures: Path) -> list[Path]:
    """The photos whose exemplar half auto layout lays out (periodicity REPEATING or more)."""
    photos = [textures / name for name in photo_kinds(textures)]
    return [p for p in photos if periodicity(split_photo(p, SIZE)[0]) >= REPEATING]


def write_sheet(out: Path, tags: list[str], results_only: bool = False) -> None:
    """levels.jpg: for every photo, one row per tag. With results_only, results.jpg: the
    exemplar and each tag's result, two photos to a row (a sheet of 40 photos stays small)."""
    rows_dir = out / "rows"
    photos = sorted({p.name.rsplit("__", 1)[0] for p in rows_dir.glob("*__*.png")})
    rows = []
    for photo in photos:
        cells = []
        for tag in tags:
            path = rows_dir / f"{photo}__{tag}.png"
            if path.exists():
                row = np.asarray(Image.open(path).convert("RGB"))
                if not results_only:
                    rows.append(row)
                    continue
                cells += ([row[:, :SIZE]] if not cells else []) + [row[:, -SIZE:]]
        if cells:
            rows.append(np.concatenate([np.pad(c, ((0, 0), (0, 2), (0, 0)), constant_values=255) for c in cells], 1))
    if results_only:
        rows += [np.full_like(rows[-1], 255)] * (len(rows) % 2)
        rows = [np.concatenate([rows[i], np.full((SIZE, 12, 3), 255, np.uint8), rows[i + 1]], 1)
                for i in range(0, len(rows), 2)]
    width = max(row.shape[1] for row in rows)
    sheet = np.concatenate([np.pad(row, ((0, 4), (0, width - row.shape[1]), (0, 0)), constant_values=255)
                            for row in rows])
    image = Image.fromarray(sheet)
    image = image.resize((image.width // 2, image.height // 2), Image.LANCZOS)
    name = "results.jpg" if results_only else "levels.jpg"
    image.save(out / name, quality=85)
    print(f"wrote {out / name}: {len(photos)} photos x {len(tags)} tags")


METRICS = ("patch", "spectrum", "color", "copy")


def load_results(out: Path, tag: str) -> dict[str, dict]:
    """A tag's rows by photo; ``GLOB@METHOD`` reads bench/bakeoff.py's result files instead
    (GLOB relative to the repository, the rows of that method)."""
    if "@" in tag:
        pattern, method = tag.split("@", 1)
        return {row["photo"]: row for path in sorted(REPO.glob(pattern)) for row in json.loads(path.read_text())
                if row.get("method") == method}
    return {row["photo"]: row for path in sorted(out.glob(f"results-{tag}-*.json"))
            for row in json.loads(path.read_text())}


def write_comparison(out: Path, before: str, after: str, kinds: dict[str, str]) -> None:
    """Per photo and per kind: each metric before -> after, and on how many photos it got better."""
    a, b = load_results(out, before), load_results(out, after)
    photos = sorted(set(a) & set(b), key=lambda p: (kinds.get(p, ""), p))
    lines = [f"# {before} -> {after}: {len(photos)} photos (`bench/levels.py --compare {before},{after}`)", "",
             "Lower is better for every metric. Better on: photos where the second run scores lower.", "",
             "| photos | n | " + " | ".join(f"{m} mean | better on" for m in METRICS) + " |",
             "|---|---|" + "---|---|" * len(METRICS)]
    groups = [("all", photos)] + [(kind, [p for p in photos if kinds.get(p) == kind])
                                  for kind in sorted({kinds.get(p, "") for p in photos})]
    for name, group in groups:
        cells = []
        for m in METRICS:
            mean_a = np.mean([a[p][m] for p in group])
            mean_b = np.mean([b[p][m] for p in group])
            better = sum(b[p][m] < a[p][m] for p in group)
            worse = sum(b[p][m] > a[p][m] for p in group)
            cells.append(f"{mean_a:.4f} → {mean_b:.4f} | {better} ({worse} worse)")
        lines.append(f"| {name} | {len(group)} | " + " | ".join(cells) + " |")
    lines += ["", "| photo | kind | " + " | ".join(METRICS) + " | CPU s |", "|---|---|" + "---|" * (len(METRICS) + 1)]
    for p in photos:
        cpu = " → ".join(f"{row[p]['cpu_s']:.0f}" if "cpu_s" in row[p] else "–" for row in (a, b))
        lines.append(f"| {p} | {kinds.get(p, '')} | " + " | ".join(f"{a[p][m]:.4f} → {b[p][m]:.4f}" for m in METRICS)
                     + f" | {cpu} |")
    label = {tag: tag.split("@")[-1].replace("/", "_") for tag in (before, after)}
    path = out / f"compare-{label[before]}-{label[after]}.md"
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--textures", type=Path, default=REPO.parent / "shared" / "textures")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tag", default="default", help="names this variant's rows and results")
    parser.add_argument("--set", default="{}", help="JSON object of SynthConfig fields to change")
    parser.add_argument("--only", default="", help="comma-separated photo names (default: those laid out)")
    parser.add_argument("--shard", default="0/1", help="I/N: every N-th photo starting at I")
    parser.add_argument("--exemplar-size", type=int, default=0,
                        help="the engine's exemplar_size: 0 keeps the half's scale (the bake-off's), 256 is the CLI's")
    parser.add_argument("--sheet", default="", help="comma-separated tags: write levels.jpg and stop")
    parser.add_argument("--results-only", action="store_true",
                        help="with --sheet: results.jpg, the exemplar and each tag's result only")
    parser.add_argument("--compare", default="", help="BEFORE,AFTER tags: write compare-BEFORE-AFTER.md and stop")
    args = parser.parse_args()
    if args.sheet:
        write_sheet(args.out, args.sheet.split(","), args.results_only)
        return 0
    if args.compare:
        write_comparison(args.out, *args.compare.split(","), kinds=photo_kinds(args.textures))
        return 0
    changes = json.loads(args.set)
    photos = ([args.textures / name for name in args.only.split(",")] if args.only
              else laid_out_photos(args.textures))
    index, count = map(int, args.shard.split("/"))
    (args.out / "rows").mkdir(parents=True, exist_ok=True)
    results = []
    for path in photos[index::count]:
        row, entry = run_photo(path, changes, args.exemplar_size)
        Image.fromarray(row).save(args.out / "rows" / f"{path.stem}__{args.tag}.png")
        results.append({"tag": args.tag, "set": changes, "exemplar_size": args.exemplar_size, **entry})
        print(json.dumps(results[-1]), flush=True)
        (args.out / f"results-{args.tag}-{index}.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
