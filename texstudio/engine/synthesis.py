"""Texture synthesis by image learning: optimise a canvas until its CNN statistics match.

``synthesize`` is a generator, so the CLI, the tests and the GUI worker drive the same
loop: each ``yield`` reports progress and is where a stop token is honoured.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass, field

import numpy as np
import torch

from texstudio.engine import acceleration
from texstudio.engine.backbones import build_backbone
from texstudio.engine.cancel import StopToken
from texstudio.engine.canvas import (
    add_margin, image_to_tensor, initial_canvas, next_level_canvas, resize_canvas, tensor_to_image, without_margin,
)
from texstudio.engine.config import SynthConfig
from texstudio.engine.copy_penalty import (FULL_SIZE_MAX_PAIRS, FULL_SIZE_SCALE, FULL_SIZE_WINDOW, CopyPenalty,
                                           pooling as copy_pooling)
from texstudio.engine.devices import resolve_device
from texstudio.engine.errors import ConfigError, NumericalError, ResourceError, is_out_of_memory
from texstudio.engine.generators import drive, mapped
from texstudio.engine.growth import GROW_SEED_OFFSET, GrowthStep, grow_canvas
from texstudio.engine.imageio import MIN_EXEMPLAR_SIDE, resize_longest_side
from texstudio.engine.lattice import Lattice, fit_lattice, lattice_canvas, torus_lattice, torus_tiling
from texstudio.engine.layout import (
    MIN_LAYOUT_EXEMPLAR_SIDE, MIN_LAYOUT_SIDE, PatchLayoutObjective, choose_layout, layout_optimizer, phase_views,
    patch_share_kept, phases_needed,
)
from texstudio.engine.lighting import remove_lighting, resolve_lighting
from texstudio.engine.objective import TextureObjective, term_values


@dataclass
class StepRecord:
    """What one iteration reports. Arrays are copies, safe to hand to another thread."""

    iteration: int  # evaluations done so far; 0 is the record of the initial canvas
    total_steps: int
    loss: float  # weighted sum of all terms (nan for iteration 0)
    losses: dict[str, float]  # "gram/relu1_1", "gap/relu2_1", "spectrum" -> weighted value
    elapsed: float  # seconds since the loop started, set-up included
    preview: np.ndarray | None = None  # (H, W, 3) float32 canvas, every preview_every steps
    grams: dict[str, np.ndarray] | None = None  # layer -> (C, C) Gram of the canvas, with preview
    target_grams: dict[str, np.ndarray] | None = None  # exemplar Grams, in each level's first record
    level: int = 0  # pyramid level, 0 = coarsest
    levels: int = 1
    note: str = ""  # a line for the user about how the run was set up, in its first record only
    # What the run is doing before its steps, for the status line ("growing the layout ..., step 40 of 480");
    # empty in the records of steps and of each level's start.
    stage: str = ""


@dataclass
class SynthResult:
    """What the generator returns when it finishes or is stopped."""

    image: np.ndarray  # (H, W, 3) float32 in [0, 1]
    config: SynthConfig
    iterations: int
    stopped: bool
    elapsed: float
    device: str
    backbone: str  # name and weight provenance, for the sidecar
    final_losses: dict[str, float] = field(default_factory=dict)
    loss_history: list[float] = field(default_factory=list)
    # metrics.quality_report against the exemplar, when the run was scored (synthesize_and_score).
    quality: dict[str, float] | None = None
    # The exemplar's periodicity when auto_layout measured it (engine/periodicity.py).
    periodicity: float | None = None
    # How much of its detail is in large soft shapes, where auto_layout measured that (engine/coarseness.py).
    coarseness: float | None = None
    # What the backbone ran in ("bf16" autocast or "fp32"): a replay in the other gives another image.
    precision: str = "fp32"
    # torch's CPU threads: oneDNN splits its sums by thread, so on a CPU another count gives
    # another image from the same seed (measured: 1 and 2 threads differ after 20 steps).
    threads: int = field(default_factory=torch.get_num_threads)

    def sidecar(self) -> dict:
        """Everything needed to reproduce this image, for the JSON written beside it."""
        from texstudio import __version__

        return {
            "texstudio_version": __version__,
            "config": self.config.to_dict(),
            "seed": self.config.seed,
            "iterations": self.iterations,
            "stopped_early": self.stopped,
            "elapsed_s": round(self.elapsed, 3),
            "device": self.device,
            "precision": self.precision,
            "threads": self.threads,
            "backbone": self.backbone,
            "final_losses": self.final_losses,
            **({"quality": self.quality} if self.quality is not None else {}),
            **({"periodicity": round(self.periodicity, 4)} if self.periodicity is not None else {}),
            **({"coarseness": round(self.coarseness, 4)} if self.coarseness is not None else {}),
        }


# A step whose loss is this many times the level's best is a leap (LevelBest), not the
# ordinary wobble of fresh random colour directions (well under 2x).
LEAP_FACTOR = 10.0
LEAP_BACKOFF = 0.5  # the level's step size after each leap (LevelBest)
# Ordinary steps after which a halved step size is doubled back, up to the setting: halved
# for good, three leaps left the whole honeycomb photo's colours dull (docs/bakeoff_now).
LEAP_RECOVER = 5


@dataclass
class LevelBest:
    """The lowest-loss canvas one pyramid level has evaluated.

    L-BFGS here takes no line search, and the colour term draws fresh random directions at
    every evaluation, so the objective it models shifts between steps; now and then it
    leaps to a canvas with a loss thousands of times higher. (Measured at 256 px, default
    settings: 9 and 5 leaps on gravel and grass; with the colour directions fixed per level,
    none, but no better result (patch distance 2 to 3% worse); without clamping the canvas
    during the run, 7 and 4.)
    It recovers within a few steps, but the canvas it recovers is not the one it left: a
    leap in a level's last steps used to be handed on as the result (colour noise, on one
    photo in ten at 256 px), and one early in the full-size level after the layout levels
    wiped out what they laid out. So a leap sends the canvas back to the best one, with a
    fresh L-BFGS history and half the step size (is_leap, docs/leaps; doubled back after
    LEAP_RECOVER ordinary steps), and a level never ends on an unevaluated leap.
    """

    loss: float = float("inf")
    canvas: torch.Tensor | None = None
    terms: dict[str, float] = field(default_factory=dict)

    def is_leap(self, loss: float) -> bool:
        """Whether ``loss`` is a leap: LEAP_FACTOR times the best so far or more.

        Left to recover on its own, the whole photo of a honeycomb leapt in the full-size
        level's fifth step (0.15 to 19, then 125) and came back as mush, its laid-out cells
        gone (docs/leaps).
        """
        return loss >= LEAP_FACTOR * self.loss

    def offer(self, loss: float, canvas: torch.Tensor, terms: dict[str, float]) -> None:
        if loss < self.loss:
            self.loss, self.canvas, self.terms = loss, canvas, terms


def pyramid_plan(config: SynthConfig, exemplar_shape: tuple[int, int] | None = None) -> list[tuple[int, int, int, int]]:
    """(height, width, downscale factor, steps) for each level, coarsest first.

    Levels whose canvas would be under 32 px are dropped: too small to hold any texture.
    So are levels whose shrunk exemplar (``exemplar_shape`` is its (height, width) as the
    run uses it) would be under MIN_EXEMPLAR_SIDE px on its shorter side: a long, thin
    exemplar would otherwise reach the coarse level as a strip narrower than the largest
    filters, and fail there. Steps are shared equally; the finest level takes the remainder.
    With ``layout_steps``, each level below full size takes that many layout steps instead
    (``coarse_layout_steps``, where set, on those below the finest of them) and the
    full-size level takes all of ``steps``; those levels hold raw patches, not
    filters, and are kept down to MIN_LAYOUT_SIDE px (engine/layout.py), where the exemplar
    keeps enough of its patches there (``layout_min_share``).
    """
    levels = []
    for level in range(config.pyramid_levels):
        factor = 2 ** (config.pyramid_levels - 1 - level)
        height, width = round(config.height / factor), round(config.width / factor)
        laid_out = bool(config.layout_steps) and factor > 1
        smallest, smallest_exemplar = ((MIN_LAYOUT_SIDE, MIN_LAYOUT_EXEMPLAR_SIDE) if laid_out
                                       else (32, MIN_EXEMPLAR_SIDE))
        exemplar_fits = exemplar_shape is None or min(exemplar_shape) / factor >= smallest_exemplar
        if laid_out and exemplar_shape is not None and config.layout_min_share:
            share = patch_share_kept(exemplar_shape, (config.height, config.width), factor)
            exemplar_fits = exemplar_fits and share >= config.layout_min_share
        if (min(height, width) >= smallest and exemplar_fits) or factor == 1:
            levels.append((height, width, factor))
    if config.layout_steps and len(levels) > 1:
        coarse = config.coarse_layout_steps or config.layout_steps
        steps = [coarse] * (len(levels) - 2) + [config.layout_steps]
        return [(h, w, f, n) for (h, w, f), n in zip(levels[:-1], steps)] + [(*levels[-1], config.steps)]
    share, remainder = divmod(config.steps, len(levels))
    return [(h, w, f, share + (remainder if i == len(levels) - 1 else 0)) for i, (h, w, f) in enumerate(levels)]


def is_layout_level(config: SynthConfig, level: int, levels: int) -> bool:
    """Whether pyramid ``level`` (0 = coarsest) of ``levels`` is learned by the layout stage."""
    return bool(config.layout_steps) and level < levels - 1


def level_margin(config: SynthConfig, layout: bool, side: int) -> int:
    """Pixels of margin a level's canvas, ``side`` px on its shorter side, gets around it
    (SynthConfig.edge_margin says why). A mirror reaches at most one pixel short of the
    far edge, so an 8 px canvas takes 7 px at most."""
    return 0 if layout or config.tileable else min(config.edge_margin, side - 1)


def check_exemplar_shape(exemplar: np.ndarray, original: tuple[int, int], config: SynthConfig) -> None:
    """Refuse an exemplar too small to hold texture, before or after shrinking it to ``exemplar_size``."""
    height, width = original
    if min(height, width) < MIN_EXEMPLAR_SIDE:
        raise ConfigError(f"the exemplar is {width}x{height} px; it needs at least {MIN_EXEMPLAR_SIDE} px "
                          "on each side: use a larger or less elongated image or region")
    height, width = exemplar.shape[:2]
    if min(height, width) < MIN_EXEMPLAR_SIDE:
        raise ConfigError(
            f"the exemplar is {width}x{height} px after shrinking its longer side to {config.exemplar_size} px; "
            f"it needs at least {MIN_EXEMPLAR_SIDE} px on each side: use a larger exemplar size (0 keeps it "
            "whole) or a less elongated region")


def out_of_memory(config: SynthConfig, device: torch.device) -> ResourceError:
    """A readable error with what to change; the caller's canvas and settings stay intact."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
    hints = ["a smaller output size", "more pyramid levels"]
    if config.optimizer == "lbfgs":
        hints.append("a smaller L-BFGS history or the adam optimizer")
    if device.type != "cpu":
        hints.append("device cpu")
    return ResourceError(f"out of memory at {config.width}x{config.height} on {device.type}; try "
                         + ", ".join(hints))


def full_size_copy(config: SynthConfig, exemplar: torch.Tensor, factor: int, level: int) -> CopyPenalty | None:
    """The full-size level's copy term (SynthConfig.copy_weight), seen at half size; None where it has none."""
    if factor != 1 or not config.copy_weight:
        return None
    pool = copy_pooling(1, tuple(exemplar.shape[-2:]), (config.height, config.width), FULL_SIZE_SCALE,
                        FULL_SIZE_WINDOW)
    return (CopyPenalty(exemplar, config.tileable, config.seed, level, pool, FULL_SIZE_MAX_PAIRS, FULL_SIZE_WINDOW)
            if pool else None)


def make_optimizer(config: SynthConfig, canvas: torch.Tensor) -> torch.optim.Optimizer:
    if config.optimizer == "lbfgs":
        # max_iter=1: one evaluation per step() call, so --steps counts evaluations
        # exactly and the stop token is checked between every two of them.
        return torch.optim.LBFGS([canvas], lr=config.learning_rate, max_iter=1,
                                 history_size=config.lbfgs_history)
    return torch.optim.Adam([canvas], lr=config.learning_rate)


def synthesize(config: SynthConfig, exemplar: np.ndarray, stop: StopToken | None = None,
               init: np.ndarray | None = None) -> Generator[StepRecord, None, SynthResult]:
    """Learn a canvas whose statistics match ``exemplar``'s; yields a StepRecord per evaluation.

    ``exemplar`` and ``init`` are (H, W, 3) float arrays in [0, 1]. The generator's return
    value (``StopIteration.value``, or use ``run_synthesis``) is a SynthResult. With a
    pyramid, each level learns a canvas at a fraction of the size from a likewise shrunk
    exemplar, and the next level starts from it upsampled. With ``config.auto_layout`` an
    exemplar that repeats is run with the structured split instead (layout.choose_layout);
    the result's config is the one that ran.

    Running out of memory anywhere (targets, previews, steps) is a ResourceError with
    suggestions; a loss that stops being finite is a NumericalError carrying the run
    rolled back to its last finite canvas.
    """
    device = resolve_device(config.device)
    try:
        return (yield from _synthesize(config, exemplar, stop, init, device))
    except Exception as exc:
        if is_out_of_memory(exc):
            raise out_of_memory(config, device) from None
        raise


def lattice_start(config: SynthConfig, exemplar: np.ndarray, lattice: Lattice | None) -> np.ndarray:
    """The first canvas of an ``init="lattice"`` run, at full size: the exemplar's mean cell tiled.

    ``lattice``: the one auto_layout found, or None to find it (a replayed sidecar). A tile
    starts from the lattice lattice.torus_lattice picks for it, laid as torus_tiling says.
    """
    replayed = lattice is None
    lattice = lattice or fit_lattice(exemplar)
    if lattice is None:
        raise ConfigError("init 'lattice' needs an exemplar whose cells repeat on a clear lattice (bricks, "
                          "blocks, checks); this one has none: use init 'noise'")
    tiling = None
    if config.tileable:
        # auto_layout's lattice is already the one for the tile; a replay's is picked as it was
        # (the split search costs ~0.2 s, not to be paid twice).
        if replayed:
            lattice = torus_lattice(exemplar, lattice, config.height, config.width)
        tiling = lattice and torus_tiling(lattice, config.height, config.width)
        if tiling is None:
            raise ConfigError(f"the exemplar's lattice does not fit a seamless {config.width}x{config.height} tile "
                              "without stretching its cells: use init 'noise' or another size")
    return lattice_canvas(exemplar, lattice, config.height, config.width, np.random.default_rng(config.seed), tiling)


def _synthesize(config: SynthConfig, exemplar: np.ndarray, stop: StopToken | None, init: np.ndarray | None,
                device: torch.device) -> Generator[StepRecord, None, SynthResult]:
    started = time.perf_counter()
    shrunk = resize_longest_side(exemplar, config.exemplar_size)
    check_exemplar_shape(shrunk, exemplar.shape[:2], config)
    exemplar, config = prepare_exemplar(shrunk, config)
    from_noise = init is None and config.init == "noise"
    choice = choose_layout(config, exemplar, from_noise=from_noise,
                           planned_levels=lambda split: len(pyramid_plan(split, exemplar.shape[:2])))
    config = choice.config
    if config.init == "lattice" and init is None:
        init = lattice_start(config, exemplar, choice.lattice)
    backbone = build_backbone(config.backbone, config.pooling, config.tileable, config.seed).to(device)
    if acceleration.channels_last(device):
        backbone = backbone.to(memory_format=torch.channels_last)
    target_backbone = backbone.planar() if config.tileable else backbone
    plan = pyramid_plan(config, exemplar.shape[:2])
    # Its own stream, apart from the first canvas's noise: turning pyramid_noise on or off
    # leaves the first level's run as it was.
    level_noise = torch.Generator().manual_seed(config.seed + 1)
    total_steps = sum(level[-1] for level in plan)

    history: list[float] = []
    last_terms: dict[str, float] = {}
    iteration = 0
    stopped = False
    canvas = None
    # The last canvas whose loss was finite, and its iteration: where a NaN or Inf rolls back to.
    good: tuple[torch.Tensor, int] | None = None
    note = choice.note  # goes in the run's first record, whichever that is (the CLI prints it from there)
    for level, (height, width, factor, level_steps) in enumerate(plan):
        layout = is_layout_level(config, level, len(plan))
        margin = level_margin(config, layout, min(height, width))
        views = phase_views(exemplar, factor, 1)
        if layout:
            phases = phases_needed(views[0].shape[:2], (height, width), config.tileable, config.layout_phases)
            views = phase_views(exemplar, factor, phases) if phases > 1 else views
        exemplar_tensor = image_to_tensor(views[0], device)
        shifted_views = [image_to_tensor(view, device) for view in views[1:]]
        pool = copy_pooling(factor, views[0].shape[:2], (height, width)) if layout and config.layout_copy_weight else 0
        copy_term = CopyPenalty(exemplar_tensor, config.tileable, config.seed, level, pool) if pool else None
        objective = (PatchLayoutObjective(exemplar_tensor, config.seed, level, config.tileable,
                                          (height, width), config.layout_energy_weight, shifted_views,
                                          config.layout_copy_weight, copy_term, config.layout_context_weight)
                     if layout else
                     TextureObjective(config, backbone, exemplar_tensor, height + 2 * margin, width + 2 * margin,
                                      level, target_backbone, copy_penalty=full_size_copy(config, exemplar_tensor,
                                                                                          factor, level),
                                      margin=margin))
        if canvas is None:
            canvas = initial_canvas(config, exemplar_tensor, init, device, height, width)
            if layout and config.layout_grow_steps and from_noise and not config.tileable:
                # The level's objective (its exemplar views and copy term), with its own random
                # streams, so the level's own steps start where they would. With the plain view
                # alone and no copy term, the held-out parquet half's seed 0 came back copied at
                # quarter scale (0.102 of its patches, over the 0.1 flag; docs/grow_layout).
                grow_seed = config.seed + GROW_SEED_OFFSET
                grow_copy = CopyPenalty(exemplar_tensor, False, grow_seed, level, pool) if pool else None
                grower = PatchLayoutObjective(exemplar_tensor, grow_seed, level, False, (height, width),
                                              shifted_views=shifted_views, copy_weight=config.layout_copy_weight,
                                              copy_penalty=grow_copy, context_weight=config.layout_context_weight)
                # At most half the level's own steps a ring, so a short run (--steps 2) stays short.
                growing = grow_canvas(canvas, grower.loss_and_grad, min(config.layout_grow_steps, level_steps // 2),
                                      stop.is_set if stop is not None else lambda: False)

                def growth_record(step: GrowthStep) -> StepRecord:
                    # Growing takes seconds (45 s for a 2048 px output, one CPU) before the first step: say
                    # so, and show the canvas growing. It is not counted in the run's steps.
                    nonlocal note
                    show = config.preview_every and (step.done % config.preview_every == 0 or step.done == step.total)
                    record = StepRecord(
                        iteration=iteration, total_steps=total_steps, loss=float("nan"), losses={},
                        elapsed=time.perf_counter() - started, preview=tensor_to_image(step.canvas) if show else None,
                        level=level, levels=len(plan), note=note,
                        stage=f"growing the layout from the middle, step {step.done} of {step.total}")
                    note = ""
                    return record

                canvas = yield from mapped(growing, growth_record)
        else:
            # Detail noise is for the feature losses; the layout levels only grow the shapes.
            canvas = next_level_canvas(canvas.detach(), height, width, config.tileable,
                                       0.0 if layout else config.pyramid_noise,
                                       exemplar_tensor.std(dim=(2, 3), keepdim=True), level_noise)
        canvas = add_margin(canvas.detach(), margin).requires_grad_(True)
        optimizer = layout_optimizer(canvas, level_steps) if layout else make_optimizer(config, canvas)
        yield StepRecord(
            iteration=iteration, total_steps=total_steps, loss=float("nan"), losses={},
            elapsed=time.perf_counter() - started, preview=tensor_to_image(without_margin(canvas, margin)),
            grams=objective.canvas_grams(canvas), target_grams=objective.target_gram_arrays(),
            level=level, levels=len(plan), note=note,
        )
        note = ""
        terms: dict[str, torch.Tensor] = {}
        best = LevelBest()
        set_lr = [group["lr"] for group in optimizer.param_groups]
        calm = 0  # ordinary steps since the last leap or give-back

        def closure() -> torch.Tensor:
            nonlocal terms
            optimizer.zero_grad(set_to_none=True)
            terms = objective.loss_and_grad(canvas)
            return torch.stack(list(terms.values())).sum()

        for _ in range(level_steps):
            if stop is not None and stop.is_set():
                stopped = True
                break
            # The loss a step reports is that of the canvas before it: keep that canvas until we know.
            before = canvas.detach().clone()
            optimizer.step(closure)
            with torch.no_grad():
                canvas.clamp_(0.0, 1.0)
            iteration += 1
            last_terms = term_values(terms)
            total = float(sum(last_terms.values()))
            if not np.isfinite(total):
                back, back_iteration = good if good is not None else (before, iteration - 1)
                back = without_margin(back, margin)
                result = SynthResult(
                    image=tensor_to_image(resize_canvas(back, config.height, config.width, config.tileable)),
                    config=config, iterations=back_iteration, stopped=True,
                    elapsed=time.perf_counter() - started, device=str(device), precision=acceleration.precision(device),
                    backbone=f"{backbone.name}: {backbone.weights_source}", loss_history=history,
                    periodicity=choice.periodicity, coarseness=choice.coarseness)
                culprit = next((name for name, value in last_terms.items() if not np.isfinite(value)), "")
                raise NumericalError(
                    f"the loss became {total} at iteration {iteration}{f' (in {culprit})' if culprit else ''}; "
                    f"the canvas was rolled back to iteration {back_iteration}. Try a smaller learning rate, "
                    "smaller loss weights or another optimizer", result=result)
            good = (before, iteration - 1)
            if isinstance(optimizer, torch.optim.LBFGS) and best.is_leap(total):
                # Back to the best canvas, with a fresh history (the curvature it had
                # learnt is what sent it there) and half the step size: restarted at the
                # same size, the same steps can leap the same way again. LEAP_RECOVER calm
                # steps give the halving back.
                with torch.no_grad():
                    canvas.copy_(best.canvas)
                optimizer.state.clear()
                for group in optimizer.param_groups:
                    group["lr"] *= LEAP_BACKOFF
                calm = 0
            else:
                calm += 1
                if calm >= LEAP_RECOVER:
                    calm = 0
                    for group, limit in zip(optimizer.param_groups, set_lr):
                        group["lr"] = min(limit, group["lr"] / LEAP_BACKOFF)
            best.offer(total, before, last_terms)
            history.append(total)
            show = (config.preview_every and iteration % config.preview_every == 0) or iteration == total_steps
            yield StepRecord(
                iteration=iteration, total_steps=total_steps, loss=total, losses=last_terms,
                elapsed=time.perf_counter() - started,
                preview=tensor_to_image(without_margin(canvas, margin)) if show else None,
                grams=objective.canvas_grams(canvas) if show else None,
                level=level, levels=len(plan),
            )
        if best.canvas is not None and not stopped:
            # The last step's canvas has not been evaluated yet: one forward pass tells
            # whether it is worse than the best seen, so a level never ends on (or passes
            # on) a leap.
            with torch.no_grad():
                final_terms = term_values(objective(canvas))
                if sum(final_terms.values()) <= best.loss:
                    last_terms = final_terms
                else:  # NaN included
                    canvas.copy_(best.canvas)
                    last_terms = best.terms
        canvas = without_margin(canvas.detach(), margin)
        if stopped:
            break
    if canvas.shape[-2:] != (config.height, config.width):
        # Stopped on a coarse level: still hand back an image of the size asked for.
        canvas = resize_canvas(canvas.detach(), config.height, config.width, config.tileable)

    return SynthResult(
        image=tensor_to_image(canvas), config=config, iterations=iteration, stopped=stopped,
        elapsed=time.perf_counter() - started, device=str(device), precision=acceleration.precision(device),
        backbone=f"{backbone.name}: {backbone.weights_source}",
        final_losses=last_terms, loss_history=history, periodicity=choice.periodicity,
        coarseness=choice.coarseness,
    )


def prepare_exemplar(exemplar: np.ndarray, config: SynthConfig) -> tuple[np.ndarray, SynthConfig]:
    """The exemplar as the run learns from it, and the config with ``lighting`` resolved.

    ``exemplar`` is already shrunk to ``exemplar_size``. Its lighting is taken out when the
    setting (or "auto", for a canvas much larger than the exemplar) says so (engine/lighting.py).
    """
    lighting = resolve_lighting(config.lighting, (config.height, config.width), exemplar.shape[:2])
    return (remove_lighting(exemplar) if lighting == "remove" else exemplar), config.replace(lighting=lighting)


def synthesize_and_score(config: SynthConfig, exemplar: np.ndarray, stop: StopToken | None = None,
                         init: np.ndarray | None = None) -> Generator[StepRecord, None, SynthResult]:
    """``synthesize``, then its result's quality report (``score``), stopped or not."""
    result = yield from synthesize(config, exemplar, stop, init)
    return score(result, exemplar)


def score(result: SynthResult, exemplar: np.ndarray) -> SynthResult:
    """Fill ``result.quality``: the metrics against the exemplar as the engine saw it (after
    exemplar_size, and without its lighting where the run took it out)."""
    from texstudio.engine.metrics import quality_report  # metrics is only needed once, at the end

    config = result.config
    reference, _ = prepare_exemplar(resize_longest_side(exemplar, config.exemplar_size), config)
    result.quality = quality_report(result.image, reference, tileable=config.tileable)
    return result


def run_synthesis(config: SynthConfig, exemplar: np.ndarray, stop: StopToken | None = None,
                  init: np.ndarray | None = None, on_step=None) -> SynthResult:
    """Drive ``synthesize`` to the end, calling ``on_step(record)`` for each record."""
    return drive(synthesize(config, exemplar, stop, init), on_step)
