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
import torch.nn.functional as F

from texstudio.engine.backbones import Backbone, build_backbone
from texstudio.engine.cancel import StopToken
from texstudio.engine.config import SynthConfig
from texstudio.engine.devices import resolve_device
from texstudio.engine.errors import ConfigError, NumericalError, ResourceError
from texstudio.engine.imageio import resize_longest_side
from texstudio.engine.losses import (
    SpectrumConstraint, channel_means, flatten_positions, gram_matrix, random_directions,
    relative_squared_error, sliced_wasserstein,
)


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
            "backbone": self.backbone,
            "final_losses": self.final_losses,
        }


def image_to_tensor(image: np.ndarray, device: torch.device) -> torch.Tensor:
    """(H, W, 3) numpy -> (1, 3, H, W) float32 tensor on ``device``."""
    # contiguous(): L-BFGS flattens gradients with view(), which a permuted tensor refuses.
    tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]
    return tensor.contiguous().to(device)


def tensor_to_image(tensor: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) tensor -> an independent (H, W, 3) float32 numpy copy."""
    return tensor.detach()[0].permute(1, 2, 0).float().cpu().numpy().copy()


# Positions per layer that the SW loss sorts each step (all of them up to 512x512).
SW_MAX_POINTS = 1 << 18


class TextureObjective:
    """The weighted sum of the enabled loss terms against one exemplar's statistics."""

    def __init__(self, config: SynthConfig, backbone: Backbone, exemplar: torch.Tensor,
                 height: int, width: int, level: int = 0) -> None:
        self.backbone = backbone
        self.config = config
        self.layer_weights = config.weights_by_layer(backbone.default_layers)
        backbone.check_layers(self.layer_weights)
        self.layers = [name for name, w in self.layer_weights.items() if w > 0]
        uses_features = bool(config.gram_weight or config.gap_weight or config.sw_weight)
        if not self.layers and uses_features:
            raise ConfigError("every layer has weight 0")
        self.feature_layers = self.layers if uses_features else []
        # SW directions (and subsets of positions) are fresh every evaluation but seeded.
        self.generator = torch.Generator().manual_seed(config.seed * 7919 + level)
        # Target statistics are computed once, without a graph: the exemplar never changes.
        with torch.no_grad():
            features = backbone(exemplar, self.feature_layers) if self.feature_layers else {}
            self.target_grams = {k: gram_matrix(v) for k, v in features.items()} if config.gram_weight else {}
            self.target_means = {k: channel_means(v) for k, v in features.items()} if config.gap_weight else {}
            self.target_points = ({k: flatten_positions(v, SW_MAX_POINTS, self.generator).float()
                                   for k, v in features.items()} if config.sw_weight else {})
            self.target_pixels = (flatten_positions(exemplar, SW_MAX_POINTS, self.generator).float()
                                  if config.color_weight else None)
        self.spectrum = SpectrumConstraint(exemplar, height, width) if config.spectrum_weight else None
        self.device = exemplar.device

    def _directions(self, channels: int) -> torch.Tensor:
        count = self.config.sw_directions or channels
        return random_directions(channels, count, self.generator).to(self.device)

    def __call__(self, canvas: torch.Tensor) -> dict[str, torch.Tensor]:
        """Weighted loss terms for ``canvas``; their sum is the objective."""
        config = self.config
        terms: dict[str, torch.Tensor] = {}
        features = self.backbone(canvas, self.feature_layers) if self.feature_layers else {}
        for name in self.feature_layers:
            weight = self.layer_weights[name]
            if config.gram_weight:
                terms[f"gram/{name}"] = config.gram_weight * weight * relative_squared_error(
                    gram_matrix(features[name]), self.target_grams[name])
            if config.gap_weight:
                terms[f"gap/{name}"] = config.gap_weight * weight * relative_squared_error(
                    channel_means(features[name]), self.target_means[name])
            if config.sw_weight:
                points = flatten_positions(features[name], SW_MAX_POINTS, self.generator)
                terms[f"sw/{name}"] = config.sw_weight * weight * sliced_wasserstein(
                    points, self.target_points[name], self._directions(points.shape[0]))
        if self.target_pixels is not None:
            # RGB is only 3-D: a few dozen directions already pin the colour distribution.
            terms["color"] = config.color_weight * sliced_wasserstein(
                flatten_positions(canvas, SW_MAX_POINTS, self.generator), self.target_pixels,
                random_directions(3, 32, self.generator).to(self.device))
        if self.spectrum is not None:
            terms["spectrum"] = config.spectrum_weight * self.spectrum(canvas)
        return terms

    def canvas_grams(self, canvas: torch.Tensor) -> dict[str, np.ndarray] | None:
        if not self.target_grams:
            return None
        with torch.no_grad():
            features = self.backbone(canvas, self.layers)
            return {k: gram_matrix(v)[0].cpu().numpy().copy() for k, v in features.items()}

    def target_gram_arrays(self) -> dict[str, np.ndarray] | None:
        return {k: v[0].cpu().numpy().copy() for k, v in self.target_grams.items()} or None


def initial_canvas(config: SynthConfig, exemplar: torch.Tensor, init: np.ndarray | None,
                   device: torch.device, height: int, width: int) -> torch.Tensor:
    """Seeded noise coloured like the exemplar, or a given image resized to the canvas."""
    if init is not None:
        return resize_canvas(image_to_tensor(init, device), height, width, config.tileable)
    if config.init == "image":
        raise ConfigError("init 'image' needs an initial image")
    # Noise is drawn on the CPU with its own generator: the same seed gives the same
    # canvas whatever the device and whatever else touched the global RNG.
    generator = torch.Generator().manual_seed(config.seed)
    noise = torch.randn((1, 3, height, width), generator=generator)
    mean = exemplar.mean(dim=(2, 3), keepdim=True).cpu()
    std = exemplar.std(dim=(2, 3), keepdim=True).cpu()
    return (mean + std * noise).clamp(0, 1).to(device)


def resize_canvas(canvas: torch.Tensor, height: int, width: int, torus: bool) -> torch.Tensor:
    """Bicubic resize; on a torus the borders wrap so the resized canvas still tiles."""
    if canvas.shape[-2:] == (height, width):
        return canvas.clamp(0, 1)
    if not torus:
        return F.interpolate(canvas, size=(height, width), mode="bicubic", align_corners=False).clamp(0, 1)
    pad = 2
    wrapped = F.pad(canvas, (pad, pad, pad, pad), mode="circular")
    scale_y, scale_x = height / canvas.shape[-2], width / canvas.shape[-1]
    big = F.interpolate(wrapped, scale_factor=(scale_y, scale_x), mode="bicubic", align_corners=False)
    top, left = round(pad * scale_y), round(pad * scale_x)
    return big[..., top:top + height, left:left + width].clamp(0, 1)


def pyramid_plan(config: SynthConfig) -> list[tuple[int, int, int, int]]:
    """(height, width, downscale factor, steps) for each level, coarsest first.

    Levels whose canvas would be under 32 px are dropped: too small to hold any texture.
    Steps are shared equally; the finest level takes the remainder.
    """
    levels = []
    for level in range(config.pyramid_levels):
        factor = 2 ** (config.pyramid_levels - 1 - level)
        height, width = round(config.height / factor), round(config.width / factor)
        if min(height, width) >= 32 or factor == 1:
            levels.append((height, width, factor))
    share, remainder = divmod(config.steps, len(levels))
    return [(h, w, f, share + (remainder if i == len(levels) - 1 else 0)) for i, (h, w, f) in enumerate(levels)]


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
    exemplar, and the next level starts from it upsampled.
    """
    started = time.perf_counter()
    device = resolve_device(config.device)
    exemplar = resize_longest_side(exemplar, config.exemplar_size)
    backbone = build_backbone(config.backbone, config.pooling, config.tileable, config.seed).to(device)
    plan = pyramid_plan(config)

    history: list[float] = []
    last_terms: dict[str, float] = {}
    iteration = 0
    stopped = False
    canvas = None
    for level, (height, width, factor, level_steps) in enumerate(plan):
        level_exemplar = exemplar
        if factor > 1:
            level_exemplar = resize_longest_side(exemplar, max(1, round(max(exemplar.shape[:2]) / factor)))
        exemplar_tensor = image_to_tensor(level_exemplar, device)
        objective = TextureObjective(config, backbone, exemplar_tensor, height, width, level)
        if canvas is None:
            canvas = initial_canvas(config, exemplar_tensor, init, device, height, width)
        else:
            canvas = resize_canvas(canvas.detach(), height, width, config.tileable)
        canvas = canvas.detach().requires_grad_(True)
        optimizer = make_optimizer(config, canvas)
        yield StepRecord(
            iteration=iteration, total_steps=config.steps, loss=float("nan"), losses={},
            elapsed=time.perf_counter() - started, preview=tensor_to_image(canvas),
            grams=objective.canvas_grams(canvas), target_grams=objective.target_gram_arrays(),
            level=level, levels=len(plan),
        )
        terms: dict[str, torch.Tensor] = {}

        def closure() -> torch.Tensor:
            nonlocal terms
            optimizer.zero_grad(set_to_none=True)
            terms = objective(canvas)
            total = torch.stack(list(terms.values())).sum()
            total.backward()
            return total

        for _ in range(level_steps):
            if stop is not None and stop.is_set():
                stopped = True
                break
            try:
                optimizer.step(closure)
            except (torch.OutOfMemoryError, MemoryError):
                raise out_of_memory(config, device) from None
            except RuntimeError as exc:
                # The CPU allocator reports exhaustion as a plain RuntimeError.
                if "can't allocate memory" not in str(exc):
                    raise
                raise out_of_memory(config, device) from None
            with torch.no_grad():
                canvas.clamp_(0.0, 1.0)
            iteration += 1
            # One host-device sync per step: all terms leave the device together.
            values = torch.stack([t.detach() for t in terms.values()]).float().tolist()
            last_terms = dict(zip(terms.keys(), values))
            total = float(sum(values))
            if not np.isfinite(total):
                raise NumericalError(f"the loss became {total} at iteration {iteration}; "
                                     "try a smaller learning rate or another optimizer")
            history.append(total)
            show = (config.preview_every and iteration % config.preview_every == 0) or iteration == config.steps
            yield StepRecord(
                iteration=iteration, total_steps=config.steps, loss=total, losses=last_terms,
                elapsed=time.perf_counter() - started,
                preview=tensor_to_image(canvas) if show else None,
                grams=objective.canvas_grams(canvas) if show else None,
                level=level, levels=len(plan),
            )
        if stopped:
            break
    if canvas.shape[-2:] != (config.height, config.width):
        # Stopped on a coarse level: still hand back an image of the size asked for.
        canvas = resize_canvas(canvas.detach(), config.height, config.width, config.tileable)

    return SynthResult(
        image=tensor_to_image(canvas), config=config, iterations=iteration, stopped=stopped,
        elapsed=time.perf_counter() - started, device=str(device),
        backbone=f"{backbone.name}: {backbone.weights_source}",
        final_losses=last_terms, loss_history=history,
    )


def run_synthesis(config: SynthConfig, exemplar: np.ndarray, stop: StopToken | None = None,
                  init: np.ndarray | None = None, on_step=None) -> SynthResult:
    """Drive ``synthesize`` to the end, calling ``on_step(record)`` for each record."""
    steps = synthesize(config, exemplar, stop, init)
    while True:
        try:
            record = next(steps)
        except StopIteration as finished:
            return finished.value
        if on_step is not None:
            on_step(record)
