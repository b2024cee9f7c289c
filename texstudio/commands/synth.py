"""``texstudio synth``: learn a texture from an exemplar photo, headless."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from texstudio.engine.config import LIGHTINGS

NAME = "synth"
# A stage reports every step, hundreds a second at 32 px: its line is redrawn at most this often (s).
STAGE_REFRESH = 0.2


def parse_size(text: str) -> tuple[int, int]:
    """``256`` or ``512x256`` (width x height) -> (width, height), for argparse."""
    from texstudio.engine.config import parse_size as parse
    from texstudio.engine.errors import ConfigError

    try:
        return parse(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(subparsers) -> None:
    synth = subparsers.add_parser(
        "synth",
        help="synthesize a texture from an exemplar photo, headless",
        description="Learn a new image whose CNN statistics match the exemplar's, and save it "
        "(PNG or TIFF) with a JSON sidecar holding every setting and the seed.",
    )
    synth.add_argument("exemplar", metavar="EXEMPLAR", help="the texture photo to learn from")
    synth.add_argument("-o", "--output", metavar="OUT", required=True,
                       help="output image (.png, .tif or .tiff); the sidecar is OUT with .json")
    add_synth_options(synth)
    synth.add_argument("--overwrite", action="store_true", help="replace OUT and its sidecar if they exist")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    synth.add_argument("--debug", action="store_true", help="show a traceback for unexpected errors")


def add_synth_options(parser: argparse.ArgumentParser) -> None:
    """The options that make a SynthConfig (read back by ``config_from_args``): synth and batch share them."""
    parser.add_argument("--size", type=parse_size, default=None, metavar="WxH",
                        help="output size in pixels, e.g. 256 or 512x256 (default 256x256 on CPU, 512x512 on GPU)")
    parser.add_argument("--steps", type=int, default=None, metavar="N",
                        help="forward-backward evaluations of the network, all pyramid levels together "
                        "(default 180 on CPU, 600 on GPU: engine/presets.py)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    parser.add_argument("--tileable", action="store_true",
                        help="synthesize on a torus so the output tiles with no seam")
    parser.add_argument("--backbone", default=None, metavar="random-multiscale|vgg19|PATH",
                        help="feature network: random-multiscale (random filters of six sizes, no download), "
                        "vgg19 (ImageNet weights if present locally, else seeded random weights), a VGG19 "
                        "weights file or a model folder from `texstudio train` (default random-multiscale)")
    parser.add_argument("--pooling", choices=("avg", "max"), default=None, help="pooling in VGG19 (default avg)")
    parser.add_argument("--layers", metavar="L1,L2,...",
                        help="layers to match, e.g. relu1_1,relu2_1,relu3_1 (default: the backbone's own set)")
    parser.add_argument("--layer-weights", metavar="W1,W2,...",
                        help="relative weight per layer, in the order of --layers")
    parser.add_argument("--loss", default=None, metavar="TERM[:WEIGHT],...",
                        help="feature losses, combinable with weights: gram (Gatys 2015), gap (channel "
                        "means), sw (sliced Wasserstein, Heitz 2021), corr (Grams of features with their "
                        "shifted copies, Berger & Memisevic 2017: keeps rows and lattices); e.g. gram, sw, "
                        "gram:1,sw:0.5, gram,corr (default gram)")
    parser.add_argument("--spectrum", type=float, default=None, metavar="WEIGHT",
                        help="weight of the Fourier spectrum constraint (Liu et al. 2016); 0 = off (default 0)")
    parser.add_argument("--color", type=float, default=None, metavar="WEIGHT",
                        help="weight of a colour-distribution match on the pixels; 0 = off (default 1)")
    parser.add_argument("--pyramid", type=int, default=None, metavar="LEVELS",
                        help="coarse-to-fine levels, each half the size of the next; 1 = off (default 3)")
    parser.add_argument("--pyramid-noise", type=float, default=None, metavar="STRENGTH",
                        help="fresh fine-scale noise added as each pyramid level is enlarged, in units of "
                        "the exemplar's spread; 0 = plain enlarging (default 1)")
    parser.add_argument("--sw-directions", type=int, default=None, metavar="N",
                        help="random directions per layer for sw; 0 = one per channel (default)")
    parser.add_argument("--layout-steps", type=int, default=None, metavar="N",
                        help="lay out cells, rows and checks first: N steps matching the exemplar's raw pixel "
                        "patches at each pyramid level below full size, which then gets all of --steps; "
                        "0 = off (default 0)")
    parser.add_argument("--coarse-layout-steps", type=int, default=None, metavar="N",
                        help="layout steps on each level below the finest laid-out one; 0 = as --layout-steps "
                        "(default 0); 3 times --layout-steps keeps tiles and joints cleaner but copies more of a "
                        "small exemplar")
    parser.add_argument("--layout-grow-steps", type=int, default=None, metavar="N",
                        help="grow the first layout level from a small square in its middle outwards, N layout "
                        "steps per ring, so a lattice grows from one place, with fewer faults; 0 = start from noise "
                        "everywhere (default 60)")
    parser.add_argument("--layout-phases", type=int, default=None, metavar="K",
                        help="layout levels take patches from K x K views of the shrunk exemplar, each started "
                        "a pixel or more further in, so a small exemplar is copied less; 1 = the one plain "
                        "shrink (default 4)")
    parser.add_argument("--layout-min-share", type=float, default=None, metavar="F",
                        help="run a coarse layout level only where the shrunk exemplar keeps at least F of its "
                        "7 px patches relative to the share the canvas keeps; below that the canvas is built "
                        "from repeats of a few patches and copies the exemplar; 0 = every level (default 0.5)")
    parser.add_argument("--layout-copy-weight", type=float, default=None, metavar="WEIGHT",
                        help="on the layout levels (the half-size one seen at quarter size), push windows of the "
                        "canvas off places they copy from the exemplar (not off a lattice's repeats); 0 = off "
                        "(default 1)")
    parser.add_argument("--copy-weight", type=float, default=None, metavar="WEIGHT",
                        help="on the full-size level, seen at half size, push windows of the canvas off places "
                        "they copy from an exemplar smaller than the output; 0 = off (default 1)")
    parser.add_argument("--layout-context", type=float, default=None, metavar="WEIGHT",
                        help="on the layout levels of 64 px and up, match each pixel patch together with the "
                        "blurred canvas around it, so brick rows run on rather than bend or break; copies "
                        "more of a small exemplar; 0 = off (default 0)")
    parser.add_argument("--layout-energy", type=float, default=None, metavar="WEIGHT",
                        help="on the finer layout levels, also match which way the exemplar's edges run "
                        "(for weaves whose blocks differ only in the direction of their strands); costs "
                        "bricks and cells their regularity; 0 = off (default 0)")
    parser.add_argument("--auto-layout", action=argparse.BooleanOptionalAction, default=None,
                        help="when the exemplar repeats (cells, checks, rows, tiles) or is made of large soft "
                        "shapes (lava, slime, clouds), lay it out first as "
                        "--pyramid 5 --layout-steps would, sharing --steps out in about the same time; "
                        "other exemplars run as set (default on, unless --pyramid or --layout-steps is given)")
    parser.add_argument("--auto-lattice", action=argparse.BooleanOptionalAction, default=None,
                        help="with --auto-layout: when the exemplar's cells repeat on a clear lattice (bricks, "
                        "blocks, checks), start from its mean cell tiled instead of laying it out: rows stay "
                        "straight (default on)")
    parser.add_argument("--lighting", choices=LIGHTINGS, default=None,
                        help="the exemplar's lighting (a smooth gradient across the photo): remove it before "
                             "learning, keep it, or auto, which removes it when the output has at least three times "
                             "the exemplar's pixels, where it shows as bands along the edges (default auto)")
    parser.add_argument("--optimizer", choices=("lbfgs", "adam"), default=None, help="(default lbfgs)")
    parser.add_argument("--lr", type=float, default=None, metavar="RATE",
                        help="step size (default 1.0 for lbfgs, 0.02 for adam)")
    parser.add_argument("--history", type=int, default=None, metavar="N",
                        help="L-BFGS history size; memory grows with it (default 20)")
    parser.add_argument("--init", metavar="IMAGE", help="start from this image instead of seeded noise")
    parser.add_argument("--edge-margin", type=int, default=None, metavar="PX",
                        help="learn PX more pixels around the output and cut them off, so the thin line of busy "
                        "pixels the filters leave along an edge is not in the picture; costs some colour "
                        "and patch accuracy; not for --tileable, which has no edge; 0 = off (default 0)")
    parser.add_argument("--exemplar-size", type=int, default=None, metavar="PX",
                        help="shrink the exemplar so its longer side is at most PX (default: the output's "
                        "longer side; 0 keeps it as it is)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto",
                        help="where to compute: auto picks cuda, then mps, then cpu (default auto)")
    parser.add_argument("--bit-depth", type=int, choices=(8, 16), default=8, help="bits per channel (default 8)")


FEATURE_TERMS = ("gram", "gap", "sw", "corr")


def parse_loss_terms(text: str) -> dict[str, float]:
    """``gram,sw:0.5`` -> {"gram": 1.0, "sw": 0.5}."""
    from texstudio.engine.errors import ConfigError

    weights: dict[str, float] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, _, weight = item.partition(":")
        if name not in FEATURE_TERMS:
            raise ConfigError(f"--loss terms are {', '.join(FEATURE_TERMS)} (optionally TERM:WEIGHT); got {name!r}")
        try:
            weights[name] = float(weight) if weight else 1.0
        except ValueError:
            raise ConfigError(f"--loss weight for {name} must be a number, got {weight!r}") from None
    if not weights:
        raise ConfigError("--loss needs at least one term")
    return weights


def config_from_args(args: argparse.Namespace):
    """The default settings for this machine (engine/presets.py), changed only where asked."""
    from texstudio.engine.config import with_hand_layout
    from texstudio.engine.errors import ConfigError
    from texstudio.engine.presets import default_config

    width, height = args.size if args.size else (None, None)
    base = default_config(width, height, device=args.device)
    changes: dict = {"device": args.device, "preview_every": 0, "seed": args.seed,
                     "tileable": args.tileable, "init": "image" if args.init else "noise"}
    if args.backbone is not None:
        changes["backbone"] = args.backbone
    if args.loss is not None:
        weights = parse_loss_terms(args.loss)
        changes.update({f"{term}_weight": weights.get(term, 0.0) for term in FEATURE_TERMS})
    if args.layers:
        changes["layers"] = tuple(s.strip() for s in args.layers.split(",") if s.strip())
    if args.layer_weights:
        try:
            changes["layer_weights"] = tuple(float(s) for s in args.layer_weights.split(","))
        except ValueError:
            raise ConfigError(f"--layer-weights must be numbers separated by commas, got {args.layer_weights!r}") from None
    for option, field in (("steps", "steps"), ("pooling", "pooling"), ("spectrum", "spectrum_weight"),
                          ("color", "color_weight"), ("pyramid", "pyramid_levels"), ("pyramid_noise", "pyramid_noise"),
                          ("sw_directions", "sw_directions"), ("layout_steps", "layout_steps"),
                          ("coarse_layout_steps", "coarse_layout_steps"), ("layout_grow_steps", "layout_grow_steps"),
                          ("layout_phases", "layout_phases"),
                          ("layout_min_share", "layout_min_share"), ("layout_copy_weight", "layout_copy_weight"),
                          ("copy_weight", "copy_weight"),
                          ("layout_context", "layout_context_weight"),
                          ("layout_energy", "layout_energy_weight"),
                          ("optimizer", "optimizer"), ("history", "lbfgs_history"), ("exemplar_size", "exemplar_size"),
                          ("lighting", "lighting"), ("edge_margin", "edge_margin")):
        value = getattr(args, option)
        if value is not None:
            changes[field] = value
    if args.auto_layout is not None:
        changes["auto_layout"] = args.auto_layout
    if args.auto_lattice is not None:
        changes["auto_lattice"] = args.auto_lattice
    changes = with_hand_layout(changes)  # a pyramid asked for by hand is the one that runs
    if args.lr is not None:
        changes["learning_rate"] = args.lr
    elif changes.get("optimizer") == "adam":
        changes["learning_rate"] = 0.02  # Adam moves pixels by about lr per step
    return base.replace(**changes)


def run(args: argparse.Namespace) -> int:
    from texstudio.engine.imageio import check_writable, sidecar_path
    from texstudio.engine.render import synth_to_file

    config = config_from_args(args)
    out = check_writable(args.output, args.overwrite)
    sidecar = sidecar_path(out)
    if sidecar.exists() and not args.overwrite:
        from texstudio.engine.errors import OutputExistsError

        raise OutputExistsError(f"{sidecar} already exists; choose another name or pass --overwrite")
    steps = synth_to_file(config, Path(args.exemplar), out, init_path=args.init, bit_depth=args.bit_depth,
                          overwrite=args.overwrite)
    from texstudio.engine.generators import drive

    # Loads the images, builds the backbone and targets: bad input fails here, before the bar.
    first = next(steps)
    if first.note and not args.quiet:
        print(f"texstudio: {first.note}; --no-auto-layout turns this off", file=sys.stderr)
    if config.backbone == "vgg19" and not args.quiet:
        from texstudio.engine.weights import vgg19_weights_notice

        notice = vgg19_weights_notice()
        if notice:
            print(f"texstudio: {notice}", file=sys.stderr)
    progress = None
    if not args.quiet:
        from tqdm import tqdm

        progress = tqdm(total=config.steps, unit="step", desc="synth", file=sys.stderr, dynamic_ncols=True)
    shown = [0.0]  # when a stage's line was last redrawn

    def show(record) -> None:
        if progress is None:
            return
        progress.total = record.total_steps  # layout steps come on top of --steps
        if record.stage:  # e.g. growing the first layout: no step of the run yet, but it is working
            progress.set_postfix_str(record.stage, refresh=False)
            if time.monotonic() - shown[0] >= STAGE_REFRESH:
                shown[0] = time.monotonic()
                progress.refresh()
        elif record.iteration > progress.n:
            # Pyramid levels start with a record of the same iteration: count steps, not records.
            progress.update(record.iteration - progress.n)
            progress.set_postfix_str(f"level {record.level + 1}/{record.levels}, loss {record.loss:.4g}",
                                     refresh=False)

    try:
        show(first)  # a grown run's first record already reports its growing
        result = drive(steps, show).result
    finally:
        if progress is not None:
            progress.close()
    if not args.quiet:
        print(f"wrote {out} and {sidecar.name} ({result.iterations} steps, {result.elapsed:.1f} s, "
              f"{result.backbone}, {result.device})", file=sys.stderr)
    from texstudio.engine.metrics import problems

    # What the GUI's quality panel flags in red, said even with --quiet: the image is written,
    # but the user should look before using it.
    for key, problem in problems(result.quality or {}).items():
        print(f"texstudio: warning: the result {problem} ({key} {result.quality[key]:.3g}; "
              f"the quality report is in {sidecar.name})", file=sys.stderr)
    return 0
