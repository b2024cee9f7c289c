"""Quality bake-off: backbones x losses x pyramid on real texture photos, same time budget each.

    rm -f docs/bakeoff/results-*.json    # --merge combines every shard file it finds
    OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/python bench/bakeoff.py --shard 0/2 &
    OMP_NUM_THREADS=1 taskset -c 1 .venv/bin/python bench/bakeoff.py --shard 1/2 &
    wait; .venv/bin/python bench/bakeoff.py --merge       # table and contact sheet

Methods added later run on every photo with --methods and their own --name, e.g. the
random multi-scale Gram runs and the earlier VGG19 default (each line once per shard I of 2):

    B=".venv/bin/python bench/bakeoff.py --shard I/2 --full ''"
    $B --name rms-I --backbones random-multiscale --pyramids 3 --losses gram,gram+color,gram+spec+color \
       --methods random-multiscale/gram/p3,random-multiscale/gram+color/p3,random-multiscale/gram+spec+color/p3
    $B --name vggcolor-I --backbones vgg19 --pyramids 3 --losses sw+spec+color --methods vgg19/sw+spec+color/p3

A pyramid named ``3n`` adds fresh detail noise as each level is enlarged (pyramid_noise 1,
the current default); ``3`` enlarges plainly:

    $B --name rmsnoise-I --steps 60 --backbones random-multiscale --pyramids 3,3n --losses gram+color \
       --methods random-multiscale/gram+color/p3,random-multiscale/gram+color/p3n

(run again after the last-step fix, so both rows come from the same engine, with the same
60 evaluations: the budget's one-photo timing had given them 48 and 56; the merge keeps
the row from the file that sorts last, and rmsnoise sorts after rms.)

The same two at the CLI's own size (docs/bakeoff256: 10 photos, two of each kind, 256 px,
90 evaluations each; merge with the same --size, --budget and --out):

    $B --name noise256-I --size 256 --budget 120 --steps 90 --out docs/bakeoff256 \
       --only olives-nst407.jpg,peppers-red-nst409.jpg,flagstones-dcor19.png,scalestones-dcor54.png,\
bark-nst212.jpg,lichen-dtd-blotchy0027.png,grass3-texturize.png,gravel8-texturize.png,blockwall-dcor50.png,\
bricks-red-dcor25.png --backbones random-multiscale --pyramids 3,3n --losses gram+color \
       --methods random-multiscale/gram+color/p3,random-multiscale/gram+color/p3n

Later probes (shifted Grams, detail noise at 0.5 (a ``3n0.5`` pyramid sets the strength), no 23 px filters)
have their commands in docs/bakeoff_probes/README.md; the 4-level pyramid's in docs/bakeoff_p4/README.md.
A pyramid named ``4nL60`` lays out its 3 coarse levels with 60 raw-patch steps each
(layout_steps, engine/layout.py): docs/bakeoff_layout/README.md. Give such methods --steps:
the budget's timing (steps_for_budget) does not count layout steps. A pyramid named ``3nA``
is ``3n`` with auto_layout, the default since docs/bakeoff_auto/README.md (its commands there).

The network trained in the app joins as ALIAS=MODEL_DIR, trained on the exemplar halves
only (so the held-out halves stay unseen):

    # every photo's left half as a PNG in /tmp/lefthalves, then (the run in results.md did 8
    # epochs first and then --resume --epochs 24):
    .venv/bin/texstudio train /tmp/lefthalves -o /tmp/fcn-lefthalves --arch fcn-pyramid --epochs 24 \
        --patch-size 96 --crops-per-image 4 --max-image-side 512 --device cpu
    $B --name fcn-I --backbones trained-fcn=/tmp/fcn-lefthalves --pyramids 3 --losses gram,gram+color,sw+spec \
       --methods trained-fcn/gram/p3,trained-fcn/gram+color/p3,trained-fcn/sw+spec/p3

Each photo is split: the left half is the exemplar, the right half is held out as the
reference the metrics compare against (so a method that copies the exemplar gains
nothing). Every method runs until its budget of CPU seconds is spent (the stop token
ends it), then is scored. CPU time, not wall time: this machine is shared and noisy,
and a method slowed by a neighbour must not lose steps for it. Every photo gets the
core methods; the photos named by --full get the whole matrix. Baselines: the
exemplar's pixels shuffled, and the exemplar itself (a copy: scores well, is not a
synthesis). Writes results-shard*.json, then results.md and contact_sheet*.jpg into --out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from texstudio.engine.cancel import StopToken  # noqa: E402
from texstudio.engine.config import SynthConfig  # noqa: E402
from texstudio.engine.errors import NumericalError  # noqa: E402
from texstudio.engine.imageio import load_image, resize_longest_side  # noqa: E402
from texstudio.engine.metrics import color_distance, copy_fraction, patch_distance, spectrum_distance  # noqa: E402
from texstudio.engine.synthesis import pyramid_plan, run_synthesis  # noqa: E402

LOSSES = {  # name -> config fields
    "gram": dict(gram_weight=1.0),
    "gram+spec": dict(gram_weight=1.0, spectrum_weight=1.0),
    "sw": dict(gram_weight=0.0, sw_weight=1.0),
    "sw+spec": dict(gram_weight=0.0, sw_weight=1.0, spectrum_weight=1.0),
    "sw+spec+color": dict(gram_weight=0.0, sw_weight=1.0, spectrum_weight=1.0, color_weight=1.0),
    "gram+color": dict(gram_weight=1.0, color_weight=1.0),
    "gram+spec+color": dict(gram_weight=1.0, spectrum_weight=1.0, color_weight=1.0),
    "gram+color+corr": dict(gram_weight=1.0, color_weight=1.0, corr_weight=1.0),
    "gram+color+corr10": dict(gram_weight=1.0, color_weight=1.0, corr_weight=10.0),
    # The multi-scale network without its largest (23 px) filters: cheaper steps, more of them.
    "gram+color-k23": dict(gram_weight=1.0, color_weight=1.0,
                           layers=("relu_k3", "relu_k5", "relu_k7", "relu_k11", "relu_k15")),
}
BACKBONES = ("vgg19", "random-multiscale")
PYRAMIDS = (1, 3)
# Every photo: the textbook setting, the candidates for the default, the other backbone.
CORE = ("vgg19/gram/p1", "vgg19/gram+spec/p3", "vgg19/sw+spec/p3", "random-multiscale/sw+spec/p3")
# The whole matrix on a spread of kinds: stochastic (gravel, foam), structured (bricks, cells).
FULL_PHOTOS = ("gravel1-texturize.png", "foam-dtd-bubbly0139.png", "bricks-red-dcor25.png",
               "honeycomb-nst214.jpg")


def pyramid_fields(spec: str) -> dict:
    """``3`` -> 3 levels upsampled plainly; ``3n`` -> 3 levels with fresh detail noise at each
    (strength 1); ``3n0.5`` -> the same at strength 0.5; ``4nL60`` -> 4 levels with noise, the
    3 below full size laid out by 60 patch-matching steps each (engine/layout.py); ``3nA`` ->
    ``3n`` with auto_layout, so an exemplar that repeats gets the structured split instead."""
    spec = str(spec)
    auto = spec.endswith("A")
    spec, _, layout = spec.removesuffix("A").partition("L")
    levels, noisy, strength = spec.partition("n")
    noise = float(strength or 1.0) if noisy else 0.0
    return dict(pyramid_levels=int(levels), pyramid_noise=noise, layout_steps=int(layout or 0), auto_layout=auto)


def methods(backbones, losses, pyramids):
    """(name, config fields) for each combination; a backbone given as ``alias=MODEL_DIR`` is named by its alias."""
    for backbone in backbones:
        alias, _, path = backbone.partition("=")
        for loss in losses:
            for pyramid in pyramids:
                yield f"{alias}/{loss}/p{pyramid}", dict(backbone=path or alias, **pyramid_fields(pyramid), **LOSSES[loss])


def run_with_budget(config: SynthConfig, exemplar: np.ndarray, cpu_seconds: float) -> tuple[np.ndarray, int]:
    stop = StopToken()
    started = time.process_time()

    def on_step(_record) -> None:
        if time.process_time() - started >= cpu_seconds:
            stop.set()

    try:
        result = run_synthesis(config, exemplar, stop=stop, on_step=on_step)
    except NumericalError as error:
        # What a user gets too: the message, and the canvas rolled back to its last finite loss.
        print(f"  {error}", flush=True)
        result = error.result
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


def steps_for_budget(fields: dict, size: int, exemplar: np.ndarray, cpu_seconds: float) -> int:
    """Evaluations that fit the budget: full-size steps timed once, levels weighted by their area.

    A pyramid shares its steps equally between levels, so a run stopped by the clock alone
    would spend the budget on the coarse levels and never reach full size.
    """
    probe = SynthConfig(width=size, height=size, steps=4, seed=0, device="cpu", preview_every=0,
                        **{**fields, "pyramid_levels": 1, "pyramid_noise": 0.0})
    times = []
    last = None

    def on_step(record) -> None:
        nonlocal last
        now = time.process_time()
        if record.iteration > 0 and last is not None:
            times.append(now - last)
        last = now

    run_synthesis(probe, exemplar, on_step=on_step)
    per_step = float(np.median(times[1:] or times))
    config = SynthConfig(width=size, height=size, steps=300, seed=0, device="cpu", **fields)
    plan = pyramid_plan(config)
    cost = sum(steps * (h * w) / (size * size) for h, w, _, steps in plan) / config.steps  # per evaluation
    return max(4, int(cpu_seconds / (per_step * cost)))


def photo_kinds(textures: Path) -> dict[str, str]:
    """Photo name -> its kind in the manifest (stochastic, structured, ...), in the manifest's order."""
    rows = [line.split("\t") for line in (textures / "MANIFEST.tsv").read_text().splitlines()[1:]]
    return {row[0]: row[6] for row in rows if row and row[0]}


def photo_list(args) -> list[tuple[str, str]]:
    photos = list(photo_kinds(args.textures).items())
    if args.only:
        wanted = set(args.only.split(","))
        photos = [p for p in photos if p[0] in wanted]
    if args.limit:
        photos = photos[: args.limit]
    index, count = (int(x) for x in args.shard.split("/"))
    return photos[index::count]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--textures", type=Path, default=REPO.parent / "shared" / "textures")
    parser.add_argument("--budget", type=float, default=20.0, help="CPU seconds per run")
    parser.add_argument("--size", type=int, default=128, help="output and exemplar size (px)")
    parser.add_argument("--steps", type=int, default=0,
                        help="the same evaluations for every method, instead of fitting each to --budget (for "
                        "methods of equal cost: the budget's one-photo timing is noisy)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N photos of the manifest")
    parser.add_argument("--only", default="", help="comma-separated photo names to run")
    parser.add_argument("--full", default=",".join(FULL_PHOTOS),
                        help="photos that get every backbone x loss x pyramid, not only the core methods")
    parser.add_argument("--backbones", default=",".join(BACKBONES),
                        help="comma-separated; a trained model as ALIAS=MODEL_DIR (see docs/bakeoff/results.md)")
    parser.add_argument("--methods", default="",
                        help="run only these backbone/loss/pPYRAMID names on every photo (instead of CORE + --full)")
    parser.add_argument("--losses", default="gram,gram+spec,sw,sw+spec")
    parser.add_argument("--pyramids", default=",".join(map(str, PYRAMIDS)))
    parser.add_argument("--shard", default="0/1", help="I/N: run every N-th photo starting at I")
    parser.add_argument("--name", default="", help="results file suffix (default: the shard)")
    parser.add_argument("--merge", action="store_true", help="combine the shards' results into the table")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "bakeoff")
    args = parser.parse_args()
    (args.out / "images").mkdir(parents=True, exist_ok=True)  # raw outputs, for the contact sheets
    if args.merge:
        return merge(args)

    every = list(methods(args.backbones.split(","), args.losses.split(","),
                         args.pyramids.split(",")))
    full = set(args.full.split(","))
    budgets: dict[str, int] = {}
    rows = []
    shard_name = args.name or args.shard.replace("/", "of")
    for name, kind in photo_list(args):
        exemplar, reference = split_photo(args.textures / name, args.size)
        rng = np.random.default_rng(0)
        shuffled = exemplar.reshape(-1, 3)[rng.permutation(exemplar.shape[0] * exemplar.shape[1])].reshape(exemplar.shape)
        outputs = {"baseline/shuffled": (shuffled[: args.size, : args.size], 0),
                   "baseline/exemplar": (exemplar[: args.size, : args.size], 0)}
        for method, fields in every:
            if args.methods:
                if method not in args.methods.split(","):
                    continue
            elif name not in full and method not in CORE:
                continue
            if method not in budgets:  # timed once, on the first photo: the cost does not depend on it
                budgets[method] = args.steps or steps_for_budget(fields, args.size, exemplar, args.budget)
            config = SynthConfig(width=args.size, height=args.size, steps=budgets[method], seed=0, device="cpu",
                                 preview_every=0, **fields)
            started = time.process_time()
            outputs[method] = run_with_budget(config, exemplar, 1.5 * args.budget)  # the clock is a safety net
            print(f"{name:32s} {method:32s} {outputs[method][1]:4d} steps {time.process_time() - started:5.1f} "
                  "CPU s", flush=True)
        for method, (image, steps) in outputs.items():
            rows.append({"photo": name, "kind": kind, "method": method, "steps": steps, "full": name in full,
                         **score(image, exemplar, reference)})
            np.save(args.out / "images" / f"{Path(name).stem}__{method.replace('/', '_')}.npy",
                    (np.clip(image, 0, 1) * 255).astype(np.uint8))
        (args.out / f"results-{shard_name}.json").write_text(json.dumps(rows, indent=1))
    return 0


def merge(args) -> int:
    unique: dict[tuple[str, str], dict] = {}
    for path in sorted(args.out.glob("results-*.json")):
        for row in json.loads(path.read_text()):
            # Every run scores the baselines again: one row per photo and method.
            unique[(row["photo"], row["method"])] = row
    rows = list(unique.values())
    write_table(rows, args)
    core = everywhere(rows)
    thumbs: dict[str, dict[str, np.ndarray]] = {}
    for row in rows:
        path = args.out / "images" / f"{Path(row['photo']).stem}__{row['method'].replace('/', '_')}.npy"
        if path.exists() and row["method"] in core:
            thumbs.setdefault(row["photo"], {})[row["method"]] = np.load(path).astype(np.float32) / 255
    write_contact_sheet(thumbs, args.out / "contact_sheet.jpg", cell=96)
    full = {row["photo"] for row in rows if row.get("full")}
    full_thumbs: dict[str, dict[str, np.ndarray]] = {}
    for row in rows:
        path = args.out / "images" / f"{Path(row['photo']).stem}__{row['method'].replace('/', '_')}.npy"
        if row["photo"] in full and path.exists():
            full_thumbs.setdefault(row["photo"], {})[row["method"]] = np.load(path).astype(np.float32) / 255
    if full_thumbs:
        write_contact_sheet(full_thumbs, args.out / "contact_sheet_full.jpg", cell=96)
    return 0


def table(rows: list[dict], title: str) -> list[str]:
    """Methods ranked per photo on the patch distance (the metric closest to "looks like it")."""
    by_method: dict[str, list[dict]] = {}
    for row in rows:
        by_method.setdefault(row["method"], []).append(row)
    ranks: dict[str, list[int]] = {m: [] for m in by_method}
    for photo in sorted({r["photo"] for r in rows}):
        entries = sorted((r["patch"], r["method"]) for r in rows
                         if r["photo"] == photo and r["method"] != "baseline/exemplar")
        for rank, (_, method) in enumerate(entries, start=1):
            ranks[method].append(rank)
    lines = [title, "", "| method | mean rank (patch) | patch | spectrum | colour | copy | steps in budget |",
             "|---|---|---|---|---|---|---|"]
    for method, entries in sorted(by_method.items(), key=lambda kv: np.mean(ranks.get(kv[0]) or [99])):
        mean = lambda key: np.mean([e[key] for e in entries])  # noqa: E731
        rank = f"{np.mean(ranks[method]):.2f}" if ranks.get(method) else "- (a copy)"
        lines.append(f"| {method} | {rank} | {mean('patch'):.4f} | {mean('spectrum'):.3f} | {mean('color'):.4f} "
                     f"| {mean('copy'):.3f} | {mean('steps'):.0f} |")
    return lines + [""]


def everywhere(rows: list[dict]) -> set[str]:
    """The methods run on every photo: the core ones, the baselines and any added with --methods."""
    photos = {r["photo"] for r in rows}
    by_method: dict[str, set[str]] = {}
    for row in rows:
        by_method.setdefault(row["method"], set()).add(row["photo"])
    return {m for m, seen in by_method.items() if seen == photos}


def write_table(rows: list[dict], args) -> None:
    photos = sorted({r["photo"] for r in rows})
    core = everywhere(rows)
    core_rows = [r for r in rows if r["method"] in core]
    lines = [f"# Bake-off: {len(photos)} photos, {args.size} px, {args.budget:.0f} CPU seconds per run", "",
             "Scores against the held-out right half of each photo (the left half is the exemplar); lower is "
             "better. `copy` is the share of near-verbatim exemplar patches. Regenerate with the commands at "
             "the top of `bench/bakeoff.py`.", ""]
    lines += table(core_rows, f"## Core methods, all {len(photos)} photos")
    for kind in sorted({r["kind"] for r in rows}):
        kind_rows = [r for r in core_rows if r["kind"] == kind]
        lines += table(kind_rows, f"### {kind} ({len({r['photo'] for r in kind_rows})} photos)")
    full_photos = {r["photo"] for r in rows if r.get("full")}
    full_rows = [r for r in rows if r["photo"] in full_photos]
    if full_rows:
        lines += table(full_rows, f"## Every backbone x loss x pyramid, {len({r['photo'] for r in full_rows})} "
                                  "photos: " + ", ".join(sorted({r['photo'] for r in full_rows})))
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
    sheet.save(path, quality=88)  # JPEG: a 40-row sheet as PNG would be several MB in git


if __name__ == "__main__":
    raise SystemExit(main())
