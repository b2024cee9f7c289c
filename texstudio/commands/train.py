"""``texstudio train``: train a feature network on a folder of photos, headless."""

from __future__ import annotations

import argparse
import re
import signal
import sys
from pathlib import Path

NAME = "train"


def add_parser(subparsers) -> None:
    train = subparsers.add_parser(
        "train",
        help="train a feature network on your own photos, for use as a synthesis backbone",
        description="Train an autoencoder (any folder of photos, searched recursively) or a classifier "
        "(one sub-folder per class) on random patches of your photos. The model folder it writes "
        "(model.safetensors + model.json, plus a checkpoint) can be passed to "
        "`texstudio synth --backbone MODEL_DIR`. Ctrl-C stops after saving a checkpoint; "
        "--resume continues from it.",
    )
    train.add_argument("folder", metavar="FOLDER",
                       help="folder of photos (sub-folders are classes for --objective classifier)")
    train.add_argument("-o", "--output", metavar="MODEL_DIR",
                       help="model folder to write (default: <user data folder>/models/<FOLDER name>-<architecture>)")
    train.add_argument("--objective", choices=("autoencoder", "classifier"), default="autoencoder",
                       help="reconstruct patches, or tell the sub-folders apart (default autoencoder)")
    train.add_argument("--arch", default="", metavar="fcn-pyramid|fcn-lichen|vgg-small",
                       help="network: fcn-pyramid (autoencoder with downsampling, the default), fcn-lichen "
                       "(the published FCN lichen autoencoder), vgg-small (the classifier)")
    train.add_argument("--epochs", type=int, default=2, metavar="N", help="passes over the photos (default 2)")
    train.add_argument("--patch-size", type=int, default=128, metavar="P",
                       help="side of the square training patches in px (default 128, for a CPU; the "
                       "reference FCN used 512)")
    train.add_argument("--crops-per-image", type=int, default=4, metavar="K",
                       help="random patches cut from each photo per epoch (default 4)")
    train.add_argument("--batch-size", type=int, default=8, metavar="B", help="patches per step (default 8)")
    train.add_argument("--lr", type=float, default=1e-3, metavar="RATE", help="Adam learning rate (default 1e-3)")
    train.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    train.add_argument("--val-fraction", type=float, default=0.2, metavar="F",
                       help="share of the photos held out for validation (default 0.2)")
    train.add_argument("--color-jitter", type=float, default=0.0, metavar="S",
                       help="random colour changes of strength 0 to 1 (default 0: off)")
    train.add_argument("--max-image-side", type=int, default=1024, metavar="PX",
                       help="shrink photos so their longer side is at most PX when loaded "
                       "(default 1024; 0 keeps them)")
    train.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto",
                       help="where to compute: auto picks cuda, then mps, then cpu (default auto)")
    train.add_argument("--resume", action="store_true",
                       help="continue the run checkpointed in MODEL_DIR (its settings are kept; --epochs may raise the total)")
    train.add_argument("--overwrite", action="store_true", help="train from scratch over an existing MODEL_DIR")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--debug", action="store_true", help="show a traceback for unexpected errors")


def default_output(folder: Path, architecture: str) -> Path:
    from texstudio.engine.models import models_dir

    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", folder.resolve().name).strip("-") or "model"
    return models_dir() / f"{stem}-{architecture}"


def config_from_args(args: argparse.Namespace):
    from texstudio.engine.training import TrainConfig

    return TrainConfig(
        objective=args.objective, architecture=args.arch, patch_size=args.patch_size, epochs=args.epochs,
        crops_per_image=args.crops_per_image, batch_size=args.batch_size, learning_rate=args.lr,
        seed=args.seed, device=args.device, val_fraction=args.val_fraction, color_jitter=args.color_jitter,
        max_image_side=args.max_image_side,
    )


def run(args: argparse.Namespace) -> int:
    from texstudio.engine.cancel import StopToken
    from texstudio.engine.dataset import scan_folder
    from texstudio.engine.training import check_out_dir, train

    config = config_from_args(args)
    folder = Path(args.folder).expanduser()
    # Bad folders fail here, in one line, before any output folder is made.
    summary = scan_folder(folder, config.objective)
    out_dir = Path(args.output).expanduser() if args.output else default_output(folder, config.resolved_architecture)
    check_out_dir(out_dir, args.resume, args.overwrite)
    if not args.quiet:
        print(f"training {config.resolved_architecture} ({config.objective}) on {folder}: {summary.describe()}",
              file=sys.stderr)

    stop = StopToken()

    def on_sigint(signum, frame) -> None:
        if stop.is_set():  # a second Ctrl-C means "now"
            raise KeyboardInterrupt
        stop.set()
        print("\nstopping after this batch and saving a checkpoint (Ctrl-C again to abort)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, on_sigint)
    progress = None
    try:
        steps = train(config, folder, out_dir, stop, resume=args.resume, overwrite=args.overwrite)
        result = None
        while True:
            try:
                record = next(steps)
            except StopIteration as finished:
                result = finished.value
                break
            if record.phase == "start" and not args.quiet:
                from tqdm import tqdm

                progress = tqdm(total=record.total_steps, initial=record.step, unit="batch", desc="train",
                                file=sys.stderr, dynamic_ncols=True)
            elif record.phase == "batch" and progress is not None:
                progress.update(1)
                progress.set_postfix_str(f"epoch {record.epoch}/{record.epochs} loss {record.train_loss:.4g}",
                                         refresh=False)
            elif record.phase == "validation" and progress is not None:
                progress.write(_epoch_line(record), file=sys.stderr)
    finally:
        signal.signal(signal.SIGINT, previous)
        if progress is not None:
            progress.close()

    if result.stopped:
        print(f"stopped at step {result.step}; checkpoint and model saved in {out_dir}; "
              f"continue with: texstudio train {args.folder} -o {out_dir} --resume", file=sys.stderr)
        return 130
    if not args.quiet:
        print(f"wrote model to {out_dir} ({result.epochs_done} epochs); use it with: "
              f"texstudio synth EXEMPLAR -o OUT --backbone {out_dir}", file=sys.stderr)
    return 0


def _epoch_line(record) -> str:
    parts = [f"epoch {record.epoch}/{record.epochs}: train loss {record.train_loss:.4g}"]
    if record.val_loss is not None:
        parts.append(f"validation loss {record.val_loss:.4g}")
    if record.train_accuracy is not None:
        parts.append(f"train accuracy {record.train_accuracy:.1%}")
    if record.val_accuracy is not None:
        parts.append(f"validation accuracy {record.val_accuracy:.1%}")
    return ", ".join(parts)
