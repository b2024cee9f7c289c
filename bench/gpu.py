"""The engine on a CUDA GPU: time and memory per step, the GPU default, and 4096 px output.

    python bench/gpu.py --photos DIR --out DIR [--budget SECONDS]

Made for a short loan of a GPU machine, so it runs in order of value and writes its
results after every row (gpu.json, gpu.md), and stops starting new work when the next
piece would run past ``--budget`` seconds:
  steps     seconds and peak GPU memory per step of the default settings with every step at
            one size (one pyramid level, auto layout off), 256 to 4096 px, whole canvas
            against tiles (engine/tiling.py), bf16 autocast against fp32, and cuDNN's
            autotuner (cudnn.benchmark) on and off. The first step of each row (set-up,
            autotuning) is left out of the median.
  policy    the same per step at 512 to 4096 px, evaluated whole or tiled as the
            engine chooses on this GPU (tiling.needs_tiles: by free memory).
  defaults  the GPU default as a user gets it (presets.default_config on cuda: 512 px,
            600 evaluations), on every photo in --photos: wall seconds and a contact sheet
            (exemplar | output), to look at; the first photo twice, to see whether a seed
            repeats on the GPU. Then the same settings at 1024 px on the first photo.
  large     default runs at large sizes (--large; 4096 px gravel plain and foam
            tileable unless told), each only when the per-step times measured in the same
            run say it fits in the budget left; writes a 1:1 crop and a shrunk JPEG (for
            a tileable one, a 2x2 tiling of it).
DIR holds the photos (PNG/JPEG); the ../shared photos used for the results in
BENCHMARKS.md were gravel1-texturize, bricks-red-dcor25, honeycomb-nst214 and
foam-dtd-bubbly0139.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from texstudio.engine import tiling  # noqa: E402
from texstudio.engine.backbones import MULTISCALE_KERNELS  # noqa: E402
from texstudio.engine.errors import ResourceError  # noqa: E402
from texstudio.engine.imageio import load_image, to_uint8  # noqa: E402
from texstudio.engine.presets import default_config  # noqa: E402
from texstudio.engine.synthesis import synthesize  # noqa: E402

STEP_SIZES = (256, 512, 1024, 2048, 4096)
STEPS_AT = {256: 12, 512: 12, 1024: 10, 2048: 6, 4096: 4}
GPU_SHARE_DEFAULT = tiling.GPU_WHOLE_SHARE


class Budget:
    def __init__(self, seconds: float):
        self.deadline = time.perf_counter() + seconds

    def left(self) -> float:
        return self.deadline - time.perf_counter()


def has_cuda() -> bool:
    return torch.cuda.is_available()


def gib(nbytes: float) -> float:
    return round(nbytes / 2**30, 2)


def drive(config, exemplar: np.ndarray):
    """Run a synthesis to its end; returns (result, per-step seconds, per-level (size, steps, seconds))."""
    generator = synthesize(config, exemplar)
    step_times, levels, last, level_start = [], [], None, None
    try:
        while True:
            record = next(generator)
            now = time.perf_counter()
            if record.stage:  # growing the first layout level, before its start record
                continue
            if np.isnan(record.loss):  # a level's first record: its set-up is done
                if level_start is not None:
                    levels.append(level_start[:2] + (round(now - level_start[2], 2),))
                size = record.preview.shape[0] if record.preview is not None else 0
                level_start, last = (size, 0, now), None
                continue
            if last is not None:
                step_times.append(now - last)
            last = now
            level_start = (level_start[0], level_start[1] + 1, level_start[2])
    except StopIteration as stop:
        levels.append(level_start[:2] + (round(time.perf_counter() - level_start[2], 2),))
        return stop.value, step_times, levels


def set_mode(mode: str, bf16: bool, autotune: bool) -> None:
    """``mode``: "tiled" or "whole" forces it, "auto" is the engine's own choice (tiling.needs_tiles)."""
    tiling.GPU_WHOLE_SHARE = {"tiled": 0.0, "whole": float("inf")}.get(mode, GPU_SHARE_DEFAULT)
    os.environ["TEXSTUDIO_BF16"] = "1" if bf16 else "0"
    torch.backends.cudnn.benchmark = autotune


def default_mode() -> None:
    tiling.GPU_WHOLE_SHARE = GPU_SHARE_DEFAULT
    os.environ.pop("TEXSTUDIO_BF16", None)
    torch.backends.cudnn.benchmark = False


def step_plan(part: str) -> list[tuple[int, str, bool, bool]]:
    """(size, mode, bf16, cudnn.benchmark) rows: "steps" compares the ways, "policy" times the engine's choice."""
    if part == "policy":
        return [(size, "auto", True, False) for size in (512, 1024, 2048, 4096)]
    plan = []
    for size in STEP_SIZES:
        plan += [(size, "whole", True, False), (size, "tiled", True, False)]
    return plan + [(512, "whole", False, False), (2048, "tiled", False, False),
                   (512, "whole", True, True), (2048, "tiled", True, True)]


def step_rows(exemplar: np.ndarray, plan: list, budget: Budget, results: dict, save) -> None:
    for size, mode, bf16, autotune in plan:
        if budget.left() < 30:
            break
        set_mode(mode, bf16, autotune)
        config = default_config(size, size, device="cuda").replace(
            steps=STEPS_AT[size], pyramid_levels=1, auto_layout=False, preview_every=0)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        row = {"size": size, "mode": mode, "precision": "bf16" if bf16 else "fp32", "cudnn_benchmark": autotune}
        started = time.perf_counter()
        if mode == "auto":  # what the engine will choose, asked the way the objective asks it
            whole = size * size * 4 * tiling.activation_floats_per_pixel(
                config.backbone, [f"relu_k{k}" for k in MULTISCALE_KERNELS])
            row["mode"] = "auto: " + ("tiled" if tiling.needs_tiles(
                size, size, whole, tiling.gpu_free_bytes(torch.device("cuda"))) else "whole")
        try:
            _, times, _ = drive(config, exemplar)
            row.update(s_per_step=round(statistics.median(times[1:]), 4), first_step_s=round(times[0], 3),
                       wall_s=round(time.perf_counter() - started, 2),
                       peak_gib=gib(torch.cuda.max_memory_allocated()))
        except ResourceError as error:
            row["error"] = str(error)
        results["steps"].append(row)
        save(row)
    default_mode()


def default_runs(photos: list[Path], budget: Budget, results: dict, save, out: Path) -> None:
    from PIL import Image

    sheet_rows = []
    runs = [(p, 512) for p in photos] + [(photos[0], 512), (photos[0], 1024)]
    first_image = None
    for index, (photo, side) in enumerate(runs):
        if budget.left() < (90 if side == 1024 else 45):
            break
        exemplar = load_image(photo)
        config = default_config(side, side, device="cuda") if side != 512 else default_config(device="cuda")
        torch.cuda.reset_peak_memory_stats()
        result, _, levels = drive(config, exemplar)
        row = {"photo": photo.name, "size": side, "steps": result.iterations, "synth_s": round(result.elapsed, 2),
               "levels": levels, "precision": result.precision, "peak_gib": gib(torch.cuda.max_memory_allocated()),
               "laid_out": bool(result.config.layout_steps)}
        if side == 512 and index < len(photos):
            # Scored later, off the GPU machine, from the sheet's 8-bit outputs (as the CLI writes them).
            sheet_rows.append((exemplar, result.image))
            if index == 0:
                first_image = result.image
        elif side == 512:  # the repeat of the first photo
            row["max_abs_diff_to_first_run"] = float(np.abs(result.image - first_image).max())
            row["mean_abs_diff_to_first_run"] = float(np.abs(result.image - first_image).mean())
        results["defaults"].append(row)
        save(row)
    if sheet_rows:
        cell = 512
        sheet = Image.new("RGB", (2 * cell, cell * len(sheet_rows)), "white")
        for i, (exemplar, image) in enumerate(sheet_rows):
            left = Image.fromarray(to_uint8(exemplar))
            left.thumbnail((cell, cell))
            sheet.paste(left, (0, i * cell))
            sheet.paste(Image.fromarray(to_uint8(image)), (cell, i * cell))
        sheet.save(out / "defaults_sheet.png")


def estimate_run(results: dict, side: int, steps: int) -> float | None:
    """Seconds for a default run at ``side`` px: three levels, a third of the steps each,
    at the per-step times measured in this run ("auto" rows first: the engine's choice)."""
    per: dict[int, float] = {}
    for mode in ("tiled", "whole", "auto"):  # later modes win
        per.update({r["size"]: r["s_per_step"] for r in results["steps"] if r["mode"].startswith(mode) and
                    r.get("precision") == "bf16" and not r.get("cudnn_benchmark") and "s_per_step" in r})
    sizes = (side // 4, side // 2, side)
    if not all(size in per for size in sizes):
        return None
    return sum(per[size] * steps / 3 for size in sizes)


def large_runs(photos: list[Path], wanted: list[tuple[str, int, bool]], budget: Budget, results: dict, save,
               out: Path) -> None:
    from PIL import Image

    for name, side, tileable in wanted:
        photo = next((p for p in photos if name in p.name), photos[0])
        config = default_config(side, side, device="cuda").replace(tileable=tileable, preview_every=0)
        estimate = estimate_run(results, side, config.steps)
        row = {"photo": photo.name, "size": side, "tileable": tileable,
               "estimate_s": None if estimate is None else round(estimate, 1)}
        if estimate is None or estimate * 1.15 + 15 > budget.left():
            row["skipped"] = f"estimated {estimate} s, {budget.left():.0f} s left"
            results["large"].append(row)
            save(row)
            continue
        torch.cuda.reset_peak_memory_stats()
        result, times, levels = drive(config, load_image(photo))
        row.update(steps=result.iterations, synth_s=round(result.elapsed, 2), levels=levels,
                   peak_gib=gib(torch.cuda.max_memory_allocated()), precision=result.precision,
                   finite=bool(np.isfinite(result.image).all()))
        image = Image.fromarray(to_uint8(result.image))
        stem = f"{Path(photo.name).stem.split('-')[0]}_{side}{'_tileable' if tileable else ''}"
        image.crop((0, 0, 1024, 1024)).save(out / f"{stem}_crop.png")  # 1:1 detail
        if tileable:
            from texstudio.engine.metrics import seam_score

            row["seam_score"] = round(seam_score(result.image), 4)
            small = image.resize((1024, 1024), Image.LANCZOS)
            tiled = Image.new("RGB", (2048, 2048))
            for x in (0, 1024):
                for y in (0, 1024):
                    tiled.paste(small, (x, y))
            tiled.save(out / f"{stem}_2x2.jpg", quality=90)
        else:
            image.resize((min(side, 2048),) * 2, Image.LANCZOS).save(out / f"{stem}.jpg", quality=90)
        results["large"].append(row)
        save(row)


def markdown(results: dict) -> str:
    lines = [f"Machine: {results['machine']}.", "", "### Per step, default settings, one level", "",
             "| size | evaluation | precision | cudnn.benchmark | s/step | first step s | peak GPU GiB |",
             "|---|---|---|---|---|---|---|"]
    for r in results["steps"]:
        if "error" in r:
            lines.append(f"| {r['size']} | {r['mode']} | {r['precision']} | {r['cudnn_benchmark']} | "
                         f"failed: {r['error']} | | |")
        else:
            lines.append(f"| {r['size']} | {r['mode']} | {r['precision']} | {r['cudnn_benchmark']} | "
                         f"{r['s_per_step']:.4f} | {r['first_step_s']:.2f} | {r['peak_gib']} |")
    lines += ["", "### Default runs (presets.default_config on cuda)", "",
              "| photo | size | evaluations | synth s | peak GPU GiB | laid out | quality / repeat |",
              "|---|---|---|---|---|---|---|"]
    for r in results["defaults"]:
        extra = r.get("quality") or {k: r[k] for k in r if k.endswith("to_first_run")}
        lines.append(f"| {r['photo']} | {r['size']} | {r['steps']} | {r['synth_s']} | {r['peak_gib']} "
                     f"| {r['laid_out']} | {json.dumps(extra)} |")
    lines += ["", "### Large runs", "", "| photo | tileable | estimate s | synth s | peak GPU GiB | levels (px, steps, s) | note |",
              "|---|---|---|---|---|---|---|"]
    for r in results["large"]:
        lines.append(f"| {r['photo']} | {r['tileable']} | {r['estimate_s']} | {r.get('synth_s', '')} "
                     f"| {r.get('peak_gib', '')} | {r.get('levels', '')} "
                     f"| {r.get('skipped', '') or ('seam ' + str(r['seam_score']) if 'seam_score' in r else '')} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--budget", type=float, default=480.0, help="seconds; no new work starts past it")
    parser.add_argument("--parts", default="steps,defaults,large", help="of steps, policy, defaults, large")
    parser.add_argument("--large", default="gravel:4096,foam:4096:tileable",
                        help="large runs, PHOTO:SIDE[:tileable],... (PHOTO: part of a file name)")
    parser.add_argument("--name", default="gpu", help="results go to NAME.json and NAME.md in --out")
    args = parser.parse_args()
    if not has_cuda():
        print("bench/gpu.py needs a CUDA GPU", file=sys.stderr)
        return 2
    budget = Budget(args.budget)
    photos = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    photos.sort(key=lambda p: "gravel" not in p.name)  # gravel first: the step rows and the repeat use it
    args.out.mkdir(parents=True, exist_ok=True)
    results = {"machine": f"{torch.cuda.get_device_name()}, torch {torch.__version__}, "
                          f"cuDNN {torch.backends.cudnn.version()}, TF32 convolutions "
                          f"{torch.backends.cudnn.allow_tf32}", "steps": [], "defaults": [], "large": []}

    def save(row: dict) -> None:
        (args.out / f"{args.name}.json").write_text(json.dumps(results, indent=1))
        (args.out / f"{args.name}.md").write_text(markdown(results))
        print(json.dumps(row), flush=True)

    parts = args.parts.split(",")
    for part in ("steps", "policy"):
        if part in parts:
            step_rows(load_image(photos[0]), step_plan(part), budget, results, save)
    if "defaults" in parts:
        default_runs(photos, budget, results, save, args.out)
    if "large" in parts:
        wanted = [(spec.split(":")[0], int(spec.split(":")[1]), spec.endswith(":tileable"))
                  for spec in args.large.split(",") if spec]
        large_runs(photos, wanted, budget, results, save, args.out)
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
