"""Regenerate the pictures and numbers of docs/training_study.md.

    .venv/bin/python scripts/training_study.py [--textures ../shared/textures] [--minutes 2]

Trains the reference FCN lichen autoencoder and our fcn-pyramid variant for a fixed
wall-clock budget each on the photos in --textures (CPU, 64 px patches), then
synthesises small textures from a few exemplars with the GAP loss and with the Gram
loss on each network's features, beside the untrained backbones (random VGG19,
random multi-scale). Writes docs/images/training/*.png and results.json. The photos
are read in place, never copied; models go to --work (a temp folder by default).
About 10 minutes on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from texstudio.engine.cancel import StopToken  # noqa: E402
from texstudio.engine.config import SynthConfig  # noqa: E402
from texstudio.engine.imageio import load_image, resize_longest_side, to_uint8  # noqa: E402
from texstudio.engine.synthesis import run_synthesis  # noqa: E402
from texstudio.engine.training import TrainConfig, run_training  # noqa: E402

EXEMPLARS = ("lichen-dtd-blotchy0027.png", "bricks-red-dcor25.png")
NETWORKS = ("fcn-lichen", "fcn-pyramid")
CANVAS = 64  # px: small, so a dozen syntheses fit in a few CPU minutes
EXEMPLAR_SIDE = 96
SYNTH_STEPS = 50
THUMB = 112


def train_for(architecture: str, textures: Path, out: Path, minutes: float, seed: int) -> dict:
    """Train until the wall-clock budget is spent, then stop (which checkpoints and saves)."""
    config = TrainConfig(architecture=architecture, patch_size=64, batch_size=8, epochs=1000, crops_per_image=4,
                         learning_rate=1e-3, seed=seed, device="cpu", preview_every=0, max_image_side=512)
    stop = StopToken()
    started = time.perf_counter()
    batches: list[tuple[int, float]] = []
    epochs: list[dict] = []

    def on_progress(record) -> None:
        if record.phase == "batch":
            batches.append((record.step, record.train_loss))
        elif record.phase == "validation":
            epochs.append({"step": record.step, "train_loss": record.train_loss, "val_loss": record.val_loss})
        if time.perf_counter() - started > minutes * 60:
            stop.set()

    result = run_training(config, textures, out, stop=stop, on_progress=on_progress, overwrite=True)
    meta = json.loads((out / "model.json").read_text())
    print(f"{architecture}: {result.step} steps in {time.perf_counter() - started:.0f} s, "
          f"epochs {meta['metrics']['epochs_done']}, last epoch {epochs[-1] if epochs else None}", flush=True)
    return {"steps": result.step, "patches_seen": result.step * config.batch_size,
            "seconds": round(time.perf_counter() - started, 1), "epochs_done": meta["metrics"]["epochs_done"],
            "batches": batches, "epochs": epochs, "dataset": meta["dataset"]}


def synth(exemplar: np.ndarray, backbone: str, loss: str, seed: int = 0) -> tuple[np.ndarray, float]:
    config = SynthConfig(width=CANVAS, height=CANVAS, steps=SYNTH_STEPS, seed=seed, backbone=backbone,
                         gram_weight=1.0 if loss == "gram" else 0.0, gap_weight=1.0 if loss == "gap" else 0.0,
                         device="cpu", preview_every=0, exemplar_size=EXEMPLAR_SIDE)
    started = time.perf_counter()
    result = run_synthesis(config, exemplar)
    return result.image, time.perf_counter() - started


# --- measures that no compared network defines ---------------------------------------------

def colour_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean 1-D Wasserstein distance of the R, G, B value distributions (0 = same colours)."""
    q = np.linspace(0, 1, 257)[1:-1]
    return float(np.mean([np.abs(np.quantile(a[..., c], q) - np.quantile(b[..., c], q)).mean() for c in range(3)]))


def radial_log_spectrum(image: np.ndarray) -> np.ndarray:
    grey = image.mean(axis=2)
    grey = grey - grey.mean()
    power = np.abs(np.fft.fftshift(np.fft.fft2(grey))) ** 2
    h, w = grey.shape
    y, x = np.indices((h, w))
    radius = np.hypot(y - h // 2, x - w // 2).astype(int)
    sums = np.bincount(radius.ravel(), power.ravel())
    counts = np.bincount(radius.ravel())
    profile = sums[1:min(h, w) // 2] / counts[1:min(h, w) // 2]
    return np.log(profile + 1e-12)


def structure_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean |difference| of the radially averaged log power spectra of the grey images.

    The spectrum is where spatial structure shows (periods, edges, grain size); the
    mean colour does not enter it (the grey mean is removed).
    """
    return float(np.abs(radial_log_spectrum(a) - radial_log_spectrum(b)).mean())


# --- pictures -------------------------------------------------------------------------------

def draw_curves(runs: dict, path: Path) -> None:
    width, height, margin = 640, 300, 48
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    colours = {"fcn-lichen": (31, 119, 180), "fcn-pyramid": (214, 39, 40)}
    all_losses = [loss for run in runs.values() for _, loss in run["batches"]]
    all_losses += [e["val_loss"] for run in runs.values() for e in run["epochs"] if e["val_loss"]]
    top = float(np.quantile(all_losses, 0.98))
    steps = max(step for run in runs.values() for step, _ in run["batches"])

    def xy(step: float, loss: float) -> tuple[float, float]:
        x = margin + (width - 2 * margin) * step / steps
        y = height - margin - (height - 2 * margin) * min(loss, top) / top
        return x, y

    draw.line([(margin, margin), (margin, height - margin), (width - margin, height - margin)], fill="black")
    draw.text((margin, 10), "training loss (MSE per batch, thin) and validation loss (dots) vs step", fill="black")
    draw.text((width - margin - 30, height - margin + 8), f"{steps}", fill="black")
    draw.text((4, margin - 6), f"{top:.3f}", fill="black")
    draw.text((margin - 12, height - margin - 6), "0", fill="black")
    for row, (name, run) in enumerate(runs.items()):
        colour = colours[name]
        points = [xy(s, v) for s, v in run["batches"]]
        if len(points) > 1:
            draw.line(points, fill=tuple(int(c * 0.5 + 127) for c in colour), width=1)
        for epoch in run["epochs"]:
            if epoch["val_loss"] is not None:
                x, y = xy(epoch["step"], epoch["val_loss"])
                draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        draw.text((width - 190, margin + 14 * row), f"-- {name}", fill=colour)
    image.save(path)


def thumb(image: np.ndarray) -> Image.Image:
    return Image.fromarray(to_uint8(image)).resize((THUMB, THUMB), Image.NEAREST if image.shape[0] < THUMB
                                                   else Image.LANCZOS)


def draw_grid(rows: list[tuple[str, list[tuple[str, np.ndarray]]]], path: Path) -> None:
    label = 30
    columns = len(rows[0][1])
    sheet = Image.new("RGB", (columns * (THUMB + 4), len(rows) * (THUMB + label + 4) + 4), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (_, cells) in enumerate(rows):
        top = r * (THUMB + label + 4) + 4
        for c, (caption, image) in enumerate(cells):
            left = c * (THUMB + 4)
            for i, line in enumerate(caption.split("\n")[:2]):
                draw.text((left + 2, top + i * 12), line, fill="black")
            sheet.paste(thumb(image), (left, top + label))
    sheet.save(path, optimize=True)


def draw_reconstructions(models: dict[str, Path], textures: Path, path: Path) -> None:
    """Central 64 px patches of a few photos; under them each network's reconstruction."""
    from texstudio.engine.models import load_network

    names = ["gravel1-texturize.png", "lichen-dtd-blotchy0027.png", "bricks-red-dcor25.png", "fur-nst4.jpg"]
    patches = []
    for name in names:
        image = resize_longest_side(load_image(textures / name), 512)
        h, w = image.shape[:2]
        patches.append(image[h // 2 - 32:h // 2 + 32, w // 2 - 32:w // 2 + 32])
    rows = [("input", [(n.split("-")[0], p) for n, p in zip(names, patches)])]
    for architecture, folder in models.items():
        net, meta = load_network(folder)
        net.eval()
        mean = torch.tensor(meta["normalization"]["mean"]).view(1, 3, 1, 1)
        std = torch.tensor(meta["normalization"]["std"]).view(1, 3, 1, 1)
        batch = torch.from_numpy(np.stack(patches)).permute(0, 3, 1, 2).float()
        with torch.no_grad():
            out = net((batch - mean) / std).clamp(0, 1).permute(0, 2, 3, 1).numpy()
        rows.append((architecture, [(architecture, o) for o in out]))
    draw_grid(rows, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--textures", type=Path, default=REPO.parent / "shared" / "textures")
    parser.add_argument("--minutes", type=float, default=2.0, help="training budget per network (default 2)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "training")
    parser.add_argument("--work", type=Path, default=None, help="where the models go (default: a temp folder)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.work or Path(tempfile.mkdtemp(prefix="texstudio-training-study-"))
    results: dict = {"settings": {"minutes_per_network": args.minutes, "canvas": CANVAS,
                                  "exemplar_side": EXEMPLAR_SIDE, "synth_steps": SYNTH_STEPS,
                                  "patch_size": 64, "batch_size": 8, "threads": torch.get_num_threads()}}

    models = {name: work / name for name in NETWORKS}
    runs = {name: train_for(name, args.textures, models[name], args.minutes, args.seed) for name in NETWORKS}
    results["training"] = {name: {k: v for k, v in run.items() if k != "batches"} for name, run in runs.items()}
    draw_curves(runs, args.out / "curves.png")
    draw_reconstructions(models, args.textures, args.out / "reconstructions.png")

    variants = [("fcn-lichen", "gap"), ("fcn-lichen", "gram"), ("fcn-pyramid", "gap"), ("fcn-pyramid", "gram"),
                ("vgg19", "gram"), ("random-multiscale", "gram")]
    rows, measures = [], {}
    for name in EXEMPLARS:
        exemplar = resize_longest_side(load_image(args.textures / name), EXEMPLAR_SIDE)
        h, w = exemplar.shape[:2]
        reference = exemplar[(h - CANVAS) // 2:(h + CANVAS) // 2, (w - CANVAS) // 2:(w + CANVAS) // 2]
        # The floor: another crop of the photo itself scores what "as good as real" means.
        other = exemplar[:CANVAS, :CANVAS]
        cells = [(f"{name.split('-')[0]}\nexemplar", reference)]
        measures[name] = {"another crop": {"colour": colour_distance(other, reference),
                                           "structure": structure_distance(other, reference)}}
        for backbone, loss in variants:
            path = str(models[backbone]) if backbone in models else backbone
            image, seconds = synth(exemplar, path, loss, args.seed)
            key = f"{backbone} {loss}"
            measures[name][key] = {"colour": colour_distance(image, reference),
                                   "structure": structure_distance(image, reference), "seconds": round(seconds, 1)}
            print(f"{name} {key}: {measures[name][key]}", flush=True)
            cells.append((f"{backbone}\n{loss}", image))
        rows.append((name, cells))
    draw_grid(rows, args.out / "synthesis.png")
    results["synthesis"] = measures
    keys = list(measures[EXEMPLARS[0]])
    results["mean_over_exemplars"] = {
        key: {m: round(float(np.mean([measures[e][key][m] for e in EXEMPLARS])), 4) for m in ("colour", "structure")}
        for key in keys}
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    for key, value in results["mean_over_exemplars"].items():
        print(f"{key:28s} colour {value['colour']:.4f}  structure {value['structure']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
