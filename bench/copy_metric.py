"""Calibrate the copy metric: second crops of a photo must not count as copies, copies must.

    .venv/bin/python bench/copy_metric.py --out docs/copy_metric [--results /tmp/b40/rows --tag now] [--shard I/N]
    .venv/bin/python bench/copy_metric.py --out docs/copy_metric --report
    OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/python bench/copy_metric.py --out docs/copy_metric --timing

For each photo of ../shared/textures (split as the bake-off splits it: left half the
exemplar, right half held out), three images (four with --results) are scored against
the exemplar at full, half and quarter scale:
- held: the held-out right half. Not a copy, whatever the photo: the metric should say 0
  (photos that are themselves tiled from one small tile do repeat verbatim, though);
- noise: the exemplar rolled by (37, 53) px, plus Gaussian noise of 0.02. A copy; a tenth
  of its patches straddle the roll's wrap, so 90 % is the most it can score;
- blur+noise: the same copy blurred by a 2x2 box (half a pixel off the grid, softer) first;
- result: with --results, the default's output from bench/levels.py's rows (ROWS/PHOTO__TAG.png).

--timing times layout_copy_fraction (the copy part of every quality report) against the
old rule's search alone, at 256, 512 and 1024 px (result and exemplar the same size), and
writes timing.md.

Every output patch's best correlation c1 and its best non-overlapping runner-up c2 are
kept (OUT/pairs, not in git), so the report can score the old rule (c1 >= 0.9, exemplar searched
every 2 px) and the ratio rule at several ratios from one pass. The report also measures each
exemplar's own chance share (metrics.self_copy_fraction, per scale) and scores the rule the
engine uses: the ratio rule, counting only scales where the share is at least
metrics.CHANCE_FACTOR times that. Writes results.md and results.json to --out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from levels import SIZE, photo_kinds, split_photo  # noqa: E402  (the bake-off's halves)
from texstudio.engine import metrics  # noqa: E402
from texstudio.engine.imageio import load_image, resize_longest_side  # noqa: E402

THRESHOLD = 0.9
RATIOS = (0.5, 0.6, 0.7, 0.8)
PATCH, STRIDE = 16, 8


def match_pairs(output: np.ndarray, exemplar: np.ndarray, step: int) -> list[list[float]]:
    """(c1, c2) for every textured output patch; c2 only where step is 1 (else c1 twice)."""
    ours, norms = metrics._unfold_centred(output, PATCH, STRIDE, 0, output.shape[0])
    ours = ours[metrics._textured(norms, ours.shape[1])]
    if len(ours) == 0:
        return []
    rows, columns = [(side - PATCH) // step + 1 for side in exemplar.shape[:2]]
    best, where = metrics._best_exemplar_match(ours, exemplar, PATCH, step, rows, columns)
    if step != 1:
        return [[b, b] for b in best.tolist()]
    runner_up, _ = metrics._best_exemplar_match(ours, exemplar, PATCH, step, rows, columns,
                                                exclude=[(where // columns * step, where % columns * step)])
    return np.stack([best.numpy(), runner_up.numpy()], 1).round(5).tolist()


def scale_pairs(output: np.ndarray, exemplar: np.ndarray) -> list[dict[str, list]]:
    """Per scale (full, half, quarter): the pairs at step 1 (new) and at step 2 (old)."""
    scales = []
    for _ in range(3):
        if min(output.shape[:2]) < 16 or min(exemplar.shape[:2]) < 16:
            break
        scales.append({"new": match_pairs(output, exemplar, 1), "old": match_pairs(output, exemplar, 2)})
        output, exemplar = metrics._halve(output), metrics._halve(exemplar)
    return scales


def images(path: Path, results: Path | None, tag: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    exemplar, held = split_photo(path, SIZE)
    rng = np.random.default_rng(0)
    rolled = np.roll(exemplar, (37, 53), (0, 1))
    blurred = (rolled + np.roll(rolled, 1, 0) + np.roll(rolled, 1, 1) + np.roll(rolled, (1, 1), (0, 1))) / 4
    found = {"held": held, "noise": rolled + rng.normal(0, 0.02, exemplar.shape),
             "blur+noise": blurred + rng.normal(0, 0.02, exemplar.shape)}
    if results is not None and (results / f"{path.stem}__{tag}.png").exists():
        row = np.asarray(Image.open(results / f"{path.stem}__{tag}.png").convert("RGB"), np.float32) / 255
        found["result"] = row[:, -SIZE:]  # a row's last cell is the result
    return exemplar, {k: np.clip(v, 0, 1).astype(np.float32) for k, v in found.items()}


def fraction(scales: list[dict], rule: str, ratio: float, chance: list[float] | None = None) -> float:
    """The metric from stored pairs: the worst scale's share of copied patches. With ``chance``
    (the exemplar's self_copy_fraction per scale), a scale counts only where its share is at
    least metrics.CHANCE_FACTOR times that, as layout_copy_fraction counts it."""
    worst = 0.0
    for index, scale in enumerate(scales):
        pairs = np.asarray(scale[rule], dtype=np.float64).reshape(-1, 2)
        if len(pairs) == 0:
            continue
        c1, c2 = pairs[:, 0], pairs[:, 1]
        copied = c1 >= THRESHOLD
        if rule == "new":
            copied &= (1 - c1) <= ratio ** 2 * (1 - c2)
        share = float(copied.mean())
        if chance is None or share >= metrics.CHANCE_FACTOR * chance[index]:
            worst = max(worst, share)
    return worst


def report(out: Path, textures: Path) -> None:
    data = {}
    for shard in sorted((out / "pairs").glob("pairs-*.json")):
        data.update(json.loads(shard.read_text()))
    kinds = photo_kinds(textures)
    columns = [k for k in ("held", "result", "noise", "blur+noise") if any(k in v for v in data.values())]
    chance = {photo: chance_by_scale(split_photo(textures / photo, SIZE)[0]) for photo in data}
    ratio = f"ratio {metrics.COPY_RATIO}"
    chosen = f"{ratio}, over chance"
    scores = {photo: {k: {"old": fraction(v[k], "old", 1.0), **{f"ratio {r}": fraction(v[k], "new", r) for r in RATIOS},
                          chosen: fraction(v[k], "new", metrics.COPY_RATIO, chance[photo])}
                      for k in columns if k in v} for photo, v in data.items()}
    rules = ["old"] + [f"ratio {r}" for r in RATIOS] + [chosen]
    lines = [f"# Copy metric calibration: {len(data)} shared photos (`bench/copy_metric.py`)", "",
             "Share of patches counted as copied (worst of three scales). `old`: best correlation at least "
             f"{THRESHOLD}, exemplar searched every 2 px. `ratio R`: the same, searched every pixel, and the "
             "best match at most R times as far as the best match that does not overlap it. held: the held-out "
             "right half; result: the default's output (bench/levels.py rows, docs/bakeoff_now); both should be "
             "near 0. noise and blur+noise: the exemplar rolled by (37, 53) px under noise of 0.02, blurred 2x2 "
             "first for the second; copies, at most 0.9. `over chance`: a scale counts only where its share "
             f"is at least {metrics.CHANCE_FACTOR:g} times the exemplar's own against itself "
             "(metrics.self_copy_fraction; the rule in texstudio/engine/metrics.py).", "",
             "| rule | " + " | ".join(f"{k} mean | {k} " + ("max" if k in ("held", "result") else "min")
                                     for k in columns) + " |",
             "|---|" + "---|---|" * len(columns)]
    for rule in rules:
        cells = []
        for k in columns:
            values = [scores[p][k][rule] for p in scores if k in scores[p]]
            worst = np.max(values) if k in ("held", "result") else np.min(values)
            cells.append(f"{np.mean(values):.3f} | {worst:.3f}")
        lines.append(f"| {rule} | " + " | ".join(cells) + " |")
    lines += ["", f"Per photo, `old` → `{ratio}` → `{chosen}`; chance: the exemplar's own share at full / half / "
              "quarter scale:", "",
              "| photo | kind | chance | " + " | ".join(columns) + " |", "|---|---|---|" + "---|" * len(columns)]
    for photo in sorted(scores, key=lambda p: (kinds.get(p, ""), p)):
        lines.append(f"| {photo} | {kinds.get(photo, '')} | {' / '.join(f'{c:.2f}' for c in chance[photo])} | "
                     + " | ".join(" → ".join(f"{scores[photo][k][rule]:.3f}" for rule in ("old", ratio, chosen))
                                  if k in scores[photo] else "–" for k in columns) + " |")
    (out / "results.md").write_text("\n".join(lines) + "\n")
    (out / "results.json").write_text(json.dumps(scores, indent=1))
    print("\n".join(lines[:12 + len(rules)]))


def chance_by_scale(exemplar: np.ndarray) -> list[float]:
    """The exemplar's self_copy_fraction at full, half and quarter scale."""
    chance = []
    for _ in range(3):
        chance.append(metrics.self_copy_fraction(exemplar))
        exemplar = metrics._halve(exemplar)
    return chance


OLD_MAX_PAIRS = 1 << 30  # the old rule's budget of patch pairs


def old_rule(output: np.ndarray, exemplar: np.ndarray) -> float:
    """The rule before 2026-12: best correlation at least 0.9, exemplar every 2 px, worst of three scales."""
    worst = 0.0
    for _ in range(3):
        ours, norms = metrics._unfold_centred(output, PATCH, STRIDE, 0, output.shape[0])
        rows, columns = [(side - PATCH) // 2 + 1 for side in exemplar.shape[:2]]
        if len(ours) * rows * columns > OLD_MAX_PAIRS:
            keep = max(1024, OLD_MAX_PAIRS // (rows * columns))
            ours, norms = ours[:keep], norms[:keep]
        textured = metrics._textured(norms, ours.shape[1])
        best, _ = metrics._best_exemplar_match(ours[textured], exemplar, PATCH, 2, rows, columns)
        worst = max(worst, float((best >= THRESHOLD).float().mean()))
        output, exemplar = metrics._halve(output), metrics._halve(exemplar)
    return worst


def ratio_alone(output: np.ndarray, exemplar: np.ndarray) -> float:
    """The worst scale by the ratio rule, every scale counting (layout_copy_fraction before the chance share)."""
    return max(metrics.copy_fraction_by_scale(output, exemplar), default=0.0)


def timing(out: Path, textures: Path) -> None:
    """Seconds per copy score, new rule against old, on one photo at three sizes."""
    photo = load_image(textures / "gravel1-texturize.png")
    lines = ["# Copy metric cost (`bench/copy_metric.py --timing`)", "",
             "layout_copy_fraction on a second crop of gravel1 against the first, both N x N, "
             "one thread; the old rule timed in the same run, and the ratio rule alone (every scale counts, "
             "no chance share: the rule of 2026-12-05). Last two columns: a copy (the exemplar rolled by "
             "(37, 53) px under noise of 0.02), where every scale finds copies and the exemplar's own chance "
             "share (self_copy_fraction) is measured at each.", "",
             "| N | old rule, s | ratio alone, s | new rule, s | new / old | ratio alone on a copy, s "
             "| new rule on a copy, s |", "|---|---|---|---|---|---|---|"]
    rng = np.random.default_rng(0)
    for size in (256, 512, 1024):
        image = resize_longest_side(photo, 2 * size)
        exemplar, other = image[:size, :size], image[-size:, -size:]
        copy = np.roll(exemplar, (37, 53), (0, 1)) + rng.normal(0, 0.02, exemplar.shape)
        copy = np.clip(copy, 0, 1).astype(np.float32)
        seconds = {}
        for name, rule, image in (("old", old_rule, other), ("ratio", ratio_alone, other),
                                  ("new", metrics.layout_copy_fraction, other), ("ratio copy", ratio_alone, copy),
                                  ("copy", metrics.layout_copy_fraction, copy)):
            started = time.perf_counter()
            rule(image, exemplar)
            seconds[name] = time.perf_counter() - started
        lines.append(f"| {size} | {seconds['old']:.1f} | {seconds['ratio']:.1f} | {seconds['new']:.1f} "
                     f"| {seconds['new'] / seconds['old']:.1f} | {seconds['ratio copy']:.1f} | {seconds['copy']:.1f} |")
        print(lines[-1], flush=True)
    (out / "timing.md").write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--textures", type=Path, default=REPO.parent / "shared" / "textures")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--results", type=Path, help="bench/levels.py's rows folder: score those results too")
    parser.add_argument("--tag", default="now", help="which rows of --results")
    parser.add_argument("--shard", default="0/1", help="I/N: every N-th photo starting at I")
    parser.add_argument("--report", action="store_true", help="merge the shard files into results.md and stop")
    parser.add_argument("--timing", action="store_true", help="time the new rule against the old and stop")
    args = parser.parse_args()
    (args.out / "pairs").mkdir(parents=True, exist_ok=True)  # not in git: 10 MB of numbers
    if args.report:
        report(args.out, args.textures)
        return 0
    if args.timing:
        timing(args.out, args.textures)
        return 0
    names = list(photo_kinds(args.textures))  # in the manifest's order
    index, count = map(int, args.shard.split("/"))
    pairs = {}
    for name in names[index::count]:
        exemplar, found = images(args.textures / name, args.results, args.tag)
        pairs[name] = {k: scale_pairs(image, exemplar) for k, image in found.items()}
        (args.out / "pairs" / f"pairs-{index}.json").write_text(json.dumps(pairs))
        print(name, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
