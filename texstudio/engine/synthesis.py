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

from texstudio.engine import acceleration
from texstudio.engine.backbones import Backbone, build_backbone
from texstudio.engine.cancel import StopToken
from texstudio.engine.config import SynthConfig
from texstudio.engine.devices import resolve_device
from texstudio.engine.errors import ConfigError, NumericalError, ResourceError, is_out_of_memory
from texstudio.engine.generators import drive
from texstudio.engine.imageio import MIN_EXEMPLAR_SIDE, resize_longest_side
from texstudio.engine.layout import PatchLayoutObjective, choose_layout, layout_optimizer
from texstudio.engine.losses import (
    SpectrumConstraint, backward_sum, channel_means, correlation_shifts, flatten_positions, gram_matrix,
    random_directions, relative_squared_error, shifted_gram, sliced_wasserstein,
)
from texstudio.engine.tiling import TILE_SIDE, Sums, TiledStatistics, needs_tiles


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
            **({"quality": self.quality} if self.quality is not None else {}),
            **({"periodicity": round(self.periodicity, 4)} if self.periodicity is not None else {}),
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


def term_values(terms: dict[str, torch.Tensor]) -> dict[str, float]:
    """The loss terms as floats, with one host-device sync: all terms leave the device together."""
    values = torch.stack([t.detach() for t in terms.values()]).float().tolist()
    return dict(zip(terms.keys(), values))


@dataclass
class LevelBest:
    """The lowest-loss canvas one pyramid level has evaluated.

    L-BFGS here takes no line search, and the colour term draws fresh random directions at
    every evaluation, so the objective it models shifts between steps; now and then it
    leaps to a canvas with a loss thousands of times higher. (Measured at 256 px, default
    settings: 9 and 5 leaps on gravel and grass; with the colour directions fixed per level,
    none, but no better result (patch distance 2 to 3% worse); without clamping the canvas
    during the run, 7 and 4.)
    It usually recovers within a few steps (resetting it instead was slower), but a leap in
    a level's last steps used to be handed on as the result: colour noise, on one photo in
    ten at 256 px.
    """

    loss: float = float("inf")
    canvas: torch.Tensor | None = None
    terms: dict[str, float] = field(default_factory=dict)

    def offer(self, loss: float, canvas: torch.Tensor, terms: dict[str, float]) -> None:
        if loss < self.loss:
            self.loss, self.canvas, self.terms = loss, canvas, terms


class TextureObjective:
    """The weighted sum of the enabled loss terms against one exemplar's statistics."""

    def __init__(self, config: SynthConfig, backbone: Backbone, exemplar: torch.Tensor,
                 height: int, width: int, level: int = 0, target_backbone: Backbone | None = None,
                 tile: int | None = None) -> None:
        self.backbone = backbone
        self.config = config
        self.layer_weights = config.weights_by_layer(backbone.default_layers)
        backbone.check_layers(self.layer_weights)
        self.layers = [name for name, w in self.layer_weights.items() if w > 0]
        uses_features = bool(config.gram_weight or config.gap_weight or config.sw_weight or config.corr_weight)
        if not self.layers and uses_features:
            raise ConfigError("every layer has weight 0")
        self.feature_layers = self.layers if uses_features else []
        self.channels_last = acceleration.channels_last(exemplar.device)
        self.bf16 = acceleration.bf16_autocast(exemplar.device)
        # SW directions (and subsets of positions) are fresh every evaluation but seeded.
        self.generator = torch.Generator().manual_seed(config.seed * 7919 + level)
        self.tiling = self._tiling(height, width, config.tileable, tile)
        # Target statistics are computed once, without a graph: the exemplar never changes.
        with torch.no_grad():
            # A tileable run's exemplar goes through the planar twin (Backbone.planar says why).
            target = target_backbone or backbone
            exemplar_tiles = self._tiling(*exemplar.shape[-2:], False, tile)
            if exemplar_tiles is not None:
                features = {}  # nothing below needs whole maps when tiles are possible
                self.target_grams, self.target_means = self._statistics(
                    exemplar_tiles.gather(lambda image: self.features(image, target), exemplar,
                                          bool(config.gram_weight), bool(config.gap_weight)))
            else:
                features = self.features(exemplar, target)
                self.target_grams = {k: gram_matrix(v) for k, v in features.items()} if config.gram_weight else {}
                self.target_means = {k: channel_means(v) for k, v in features.items()} if config.gap_weight else {}
            # Shifts per layer in that layer's own map pixels (VGG19's deep maps are 1/8 of the
            # image or less), on maps halved (see correlations), the same for canvas and
            # exemplar and small enough for both; a layer with no room for any is left out.
            self.shifts = {k: shifts for k, v in features.items()
                           if (shifts := correlation_shifts(_map_side(v, exemplar, height, width) // 2))
                           } if config.corr_weight else {}
            self.target_corr = {k: self.correlations(features[k], k, torus=False) for k in self.shifts}
            # A layer whose exemplar map is a single position (a deep layer of a small exemplar,
            # or of a coarse pyramid level) has no distribution to match: SW leaves it out.
            self.target_points = ({k: flatten_positions(v, SW_MAX_POINTS, self.generator).float()
                                   for k, v in features.items() if v.shape[-2] * v.shape[-1] >= 2}
                                  if config.sw_weight else {})
            self.target_pixels = (flatten_positions(exemplar, SW_MAX_POINTS, self.generator).float()
                                  if config.color_weight else None)
        self.spectrum = SpectrumConstraint(exemplar, height, width) if config.spectrum_weight else None
        self.device = exemplar.device
        if not (self.target_grams or self.target_means or self.target_corr or self.target_points or self.spectrum is not None
                or self.target_pixels is not None):
            raise ConfigError(
                f"the exemplar ({exemplar.shape[-1]}x{exemplar.shape[-2]} px at pyramid level {level + 1}) is "
                f"too small for layer(s) {', '.join(self.feature_layers)}: use a larger exemplar, fewer "
                "pyramid levels or shallower layers")

    def _tiling(self, height: int, width: int, torus: bool, tile: int | None) -> TiledStatistics | None:
        """How an image of this size is evaluated in tiles (engine/tiling.py), or None for whole.

        ``tile``: None tiles images over TILE_ABOVE_PIXELS with TILE_SIDE tiles, 0 never
        tiles, a side tiles always. Only Gram and mean statistics tile, and only on a
        network whose receptive fields are known; a torus also needs sides that its
        deepest map's stride divides, so that the wrap-around pools alike.
        """
        config = self.config
        if tile == 0 or not self.feature_layers or config.sw_weight or config.corr_weight:
            return None
        if tile is None:
            if not needs_tiles(height, width):
                return None
            tile = TILE_SIDE
        geometry = self.backbone.geometry(self.feature_layers)
        if geometry is None:
            return None
        stride = max(s for _, s in geometry.values())
        if torus and (height % stride or width % stride):
            return None
        return TiledStatistics(geometry, height, width, torus, tile)

    def _statistics(self, sums: dict[str, Sums]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """(Grams, means) per layer from tiled sums, each for the layers whose sums were gathered."""
        grams = {k: s.outer / s.count for k, s in sums.items() if s.outer is not None}
        means = {k: s.total / s.count for k, s in sums.items() if s.total is not None}
        return grams, means

    def features(self, image: torch.Tensor, backbone: Backbone | None = None) -> dict[str, torch.Tensor]:
        """The backbone's activations at the matched layers, in fp32 whatever ran inside."""
        if not self.feature_layers:
            return {}
        if self.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        with acceleration.autocast(image.device, self.bf16):
            features = (backbone or self.backbone)(image, self.feature_layers)
        return {k: v.float() for k, v in features.items()} if self.bf16 else features

    def correlations(self, features: torch.Tensor, layer: str, torus: bool) -> torch.Tensor:
        """The shifted Grams of one layer, stacked: (shifts, C, C), on the map halved.

        Layout is a long-range matter: halving the map first costs a quarter as much (the
        full map nearly doubled each evaluation's time) and the shifts are all >= 2 px.
        """
        if features.shape[-2] >= 2 and features.shape[-1] >= 2:
            features = F.avg_pool2d(features, 2)
        return torch.cat([shifted_gram(features, dy, dx, torus) for dy, dx in self.shifts[layer]])

    def _directions(self, channels: int) -> torch.Tensor:
        count = self.config.sw_directions or channels
        return random_directions(channels, count, self.generator).to(self.device)

    def _statistic_terms(self, name: str, gram: torch.Tensor | None, mean: torch.Tensor | None) -> dict[str, torch.Tensor]:
        config, weight = self.config, self.layer_weights[name]
        terms = {}
        if gram is not None:
            terms[f"gram/{name}"] = config.gram_weight * weight * relative_squared_error(gram, self.target_grams[name])
        if mean is not None:
            terms[f"gap/{name}"] = config.gap_weight * weight * relative_squared_error(mean, self.target_means[name])
        return terms

    def _pixel_terms(self, canvas: torch.Tensor) -> dict[str, torch.Tensor]:
        """The terms read from the canvas's pixels, not from features: colour and spectrum."""
        config = self.config
        terms: dict[str, torch.Tensor] = {}
        if self.target_pixels is not None:
            # RGB is only 3-D: a few dozen directions already pin the colour distribution.
            terms["color"] = config.color_weight * sliced_wasserstein(
                flatten_positions(canvas, SW_MAX_POINTS, self.generator), self.target_pixels,
                random_directions(3, 32, self.generator).to(self.device))
        if self.spectrum is not None:
            terms["spectrum"] = config.spectrum_weight * self.spectrum(canvas)
        return terms

    def __call__(self, canvas: torch.Tensor) -> dict[str, torch.Tensor]:
        """Weighted loss terms for ``canvas``; their sum is the objective.

        Evaluated in tiles, the terms carry no graph: ``loss_and_grad`` is the way to a gradient.
        """
        if self.tiling is not None:
            return self._tiled(canvas, gradient=False)
        config = self.config
        terms: dict[str, torch.Tensor] = {}
        features = self.features(canvas)
        for name in self.feature_layers:
            terms.update(self._statistic_terms(
                name, gram_matrix(features[name]) if config.gram_weight else None,
                channel_means(features[name]) if config.gap_weight else None))
            weight = self.layer_weights[name]
            if name in self.shifts:
                terms[f"corr/{name}"] = config.corr_weight * weight * relative_squared_error(
                    self.correlations(features[name], name, config.tileable), self.target_corr[name])
            if config.sw_weight and name in self.target_points:
                points = flatten_positions(features[name], SW_MAX_POINTS, self.generator)
                terms[f"sw/{name}"] = config.sw_weight * weight * sliced_wasserstein(
                    points, self.target_points[name], self._directions(points.shape[0]))
        terms.update(self._pixel_terms(canvas))
        return terms

    def loss_and_grad(self, canvas: torch.Tensor) -> dict[str, torch.Tensor]:
        """The terms for ``canvas`` (no graph), with their sum's gradient added to ``canvas.grad``."""
        if self.tiling is not None:
            return self._tiled(canvas, gradient=True)
        return backward_sum(self(canvas))

    def _tiled(self, canvas: torch.Tensor, gradient: bool) -> dict[str, torch.Tensor]:
        sums = self.tiling.gather(self.features, canvas, bool(self.config.gram_weight), bool(self.config.gap_weight))
        grams, means = self._statistics(sums)
        if gradient:  # leaves, to read dLoss/dGram and dLoss/dMean off after the backward pass
            grams = {k: v.requires_grad_() for k, v in grams.items()}
            means = {k: v.requires_grad_() for k, v in means.items()}
        with torch.set_grad_enabled(gradient):
            terms: dict[str, torch.Tensor] = {}
            for name in self.feature_layers:
                terms.update(self._statistic_terms(name, grams.get(name), means.get(name)))
            terms.update(self._pixel_terms(canvas))
            if not gradient:
                return {k: v.detach() for k, v in terms.items()}
            terms = backward_sum(terms)
        self.tiling.backward(self.features, canvas, sums, {k: v.grad for k, v in grams.items()},
                             {k: v.grad for k, v in means.items()})
        return terms

    def canvas_grams(self, canvas: torch.Tensor) -> dict[str, np.ndarray] | None:
        if not self.target_grams:
            return None
        if self.tiling is not None:
            grams, _ = self._statistics(self.tiling.gather(self.features, canvas.detach(), True, False))
            return {k: v[0].cpu().numpy().copy() for k, v in grams.items()}
        with torch.no_grad():
            features = self.features(canvas)
            return {k: gram_matrix(v)[0].cpu().numpy().copy() for k, v in features.items()}

    def target_gram_arrays(self) -> dict[str, np.ndarray] | None:
        return {k: v[0].cpu().numpy().copy() for k, v in self.target_grams.items()} or None


def _map_side(features: torch.Tensor, image: torch.Tensor, height: int, width: int) -> int:
    """The shorter side of a layer's map for the exemplar ``image`` or for a height x width
    canvas, whichever is smaller (a map's scale is the same for both)."""
    scale = features.shape[-1] / image.shape[-1]
    return min(*features.shape[-2:], int(height * scale), int(width * scale))


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
    return _resize(canvas, height, width, torus).clamp(0, 1)


def _resize(image: torch.Tensor, height: int, width: int, torus: bool) -> torch.Tensor:
    """Bicubic resize with no clamping (noise has negative values), wrapping on a torus."""
    if image.shape[-2:] == (height, width):
        return image
    if not torus:
        return F.interpolate(image, size=(height, width), mode="bicubic", align_corners=False)
    pad = 2
    wrapped = F.pad(image, (pad, pad, pad, pad), mode="circular")
    scale_y, scale_x = height / image.shape[-2], width / image.shape[-1]
    big = F.interpolate(wrapped, scale_factor=(scale_y, scale_x), mode="bicubic", align_corners=False)
    top, left = round(pad * scale_y), round(pad * scale_x)
    return big[..., top:top + height, left:left + width]


def next_level_canvas(canvas: torch.Tensor, height: int, width: int, torus: bool, strength: float,
                      spread: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The coarse canvas upsampled, plus fresh noise in the band the finer level adds.

    Upsampling alone leaves smooth blobs where the finer level must put detail, and the
    optimiser sharpens their rims into rings and dots (seen on grass and gravel) rather
    than growing new structure. Noise with its coarse part removed (noise minus its own
    shrunk-and-upsampled copy) gives the finer level the raw material a first level gets
    from its noise start, and leaves what the coarse levels learned in place.
    ``spread`` is the exemplar's per-channel standard deviation, (1, 3, 1, 1).
    """
    up = _resize(canvas, height, width, torus)
    if strength <= 0 or canvas.shape[-2:] == (height, width):
        return up.clamp(0, 1)
    # Drawn on the CPU with its own generator, like the first canvas: same seed, same image.
    noise = torch.randn((1, canvas.shape[1], height, width), generator=generator).to(canvas.device, canvas.dtype)
    coarse_part = _resize(F.adaptive_avg_pool2d(noise, canvas.shape[-2:]), height, width, torus)
    return (up + strength * spread.to(canvas.device, canvas.dtype) * (noise - coarse_part)).clamp(0, 1)


def pyramid_plan(config: SynthConfig, exemplar_shape: tuple[int, int] | None = None) -> list[tuple[int, int, int, int]]:
    """(height, width, downscale factor, steps) for each level, coarsest first.

    Levels whose canvas would be under 32 px are dropped: too small to hold any texture.
    So are levels whose shrunk exemplar (``exemplar_shape`` is its (height, width) as the
    run uses it) would be under MIN_EXEMPLAR_SIDE px on its shorter side: a long, thin
    exemplar would otherwise reach the coarse level as a strip narrower than the largest
    filters, and fail there. Steps are shared equally; the finest level takes the remainder.
    With ``layout_steps``, each level below full size takes that many layout steps instead
    and the full-size level takes all of ``steps``.
    """
    levels = []
    for level in range(config.pyramid_levels):
        factor = 2 ** (config.pyramid_levels - 1 - level)
        height, width = round(config.height / factor), round(config.width / factor)
        exemplar_fits = exemplar_shape is None or min(exemplar_shape) / factor >= MIN_EXEMPLAR_SIDE
        if (min(height, width) >= 32 and exemplar_fits) or factor == 1:
            levels.append((height, width, factor))
    if config.layout_steps and len(levels) > 1:
        return [(h, w, f, config.layout_steps) for h, w, f in levels[:-1]] + [(*levels[-1], config.steps)]
    share, remainder = divmod(config.steps, len(levels))
    return [(h, w, f, share + (remainder if i == len(levels) - 1 else 0)) for i, (h, w, f) in enumerate(levels)]


def is_layout_level(config: SynthConfig, level: int, levels: int) -> bool:
    """Whether pyramid ``level`` (0 = coarsest) of ``levels`` is learned by the layout stage."""
    return bool(config.layout_steps) and level < levels - 1


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


def _synthesize(config: SynthConfig, exemplar: np.ndarray, stop: StopToken | None, init: np.ndarray | None,
                device: torch.device) -> Generator[StepRecord, None, SynthResult]:
    started = time.perf_counter()
    shrunk = resize_longest_side(exemplar, config.exemplar_size)
    check_exemplar_shape(shrunk, exemplar.shape[:2], config)
    exemplar = shrunk
    choice = choose_layout(config, exemplar, from_noise=init is None and config.init == "noise",
                           has_coarse_level=lambda split: len(pyramid_plan(split, exemplar.shape[:2])) > 1)
    config = choice.config
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
    for level, (height, width, factor, level_steps) in enumerate(plan):
        level_exemplar = exemplar
        if factor > 1:
            level_exemplar = resize_longest_side(exemplar, max(1, round(max(exemplar.shape[:2]) / factor)))
        exemplar_tensor = image_to_tensor(level_exemplar, device)
        layout = is_layout_level(config, level, len(plan))
        objective = (PatchLayoutObjective(exemplar_tensor, config.seed, level, config.tileable) if layout else
                     TextureObjective(config, backbone, exemplar_tensor, height, width, level, target_backbone))
        if canvas is None:
            canvas = initial_canvas(config, exemplar_tensor, init, device, height, width)
        else:
            # Detail noise is for the feature losses; the layout levels only grow the shapes.
            canvas = next_level_canvas(canvas.detach(), height, width, config.tileable,
                                       0.0 if layout else config.pyramid_noise,
                                       exemplar_tensor.std(dim=(2, 3), keepdim=True), level_noise)
        canvas = canvas.detach().requires_grad_(True)
        optimizer = layout_optimizer(canvas, level_steps) if layout else make_optimizer(config, canvas)
        yield StepRecord(
            iteration=iteration, total_steps=total_steps, loss=float("nan"), losses={},
            elapsed=time.perf_counter() - started, preview=tensor_to_image(canvas),
            grams=objective.canvas_grams(canvas), target_grams=objective.target_gram_arrays(),
            level=level, levels=len(plan), note=choice.note if level == 0 else "",
        )
        terms: dict[str, torch.Tensor] = {}
        best = LevelBest()

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
                result = SynthResult(
                    image=tensor_to_image(resize_canvas(back, config.height, config.width, config.tileable)),
                    config=config, iterations=back_iteration, stopped=True,
                    elapsed=time.perf_counter() - started, device=str(device),
                    backbone=f"{backbone.name}: {backbone.weights_source}", loss_history=history,
                    periodicity=choice.periodicity)
                culprit = next((name for name, value in last_terms.items() if not np.isfinite(value)), "")
                raise NumericalError(
                    f"the loss became {total} at iteration {iteration}{f' (in {culprit})' if culprit else ''}; "
                    f"the canvas was rolled back to iteration {back_iteration}. Try a smaller learning rate, "
                    "smaller loss weights or another optimizer", result=result)
            good = (before, iteration - 1)
            best.offer(total, before, last_terms)
            history.append(total)
            show = (config.preview_every and iteration % config.preview_every == 0) or iteration == total_steps
            yield StepRecord(
                iteration=iteration, total_steps=total_steps, loss=total, losses=last_terms,
                elapsed=time.perf_counter() - started,
                preview=tensor_to_image(canvas) if show else None,
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
        if stopped:
            break
    if canvas.shape[-2:] != (config.height, config.width):
        # Stopped on a coarse level: still hand back an image of the size asked for.
        canvas = resize_canvas(canvas.detach(), config.height, config.width, config.tileable)

    return SynthResult(
        image=tensor_to_image(canvas), config=config, iterations=iteration, stopped=stopped,
        elapsed=time.perf_counter() - started, device=str(device),
        backbone=f"{backbone.name}: {backbone.weights_source}",
        final_losses=last_terms, loss_history=history, periodicity=choice.periodicity,
    )


def synthesize_and_score(config: SynthConfig, exemplar: np.ndarray, stop: StopToken | None = None,
                         init: np.ndarray | None = None) -> Generator[StepRecord, None, SynthResult]:
    """``synthesize``, then its result's quality report (``score``), stopped or not."""
    result = yield from synthesize(config, exemplar, stop, init)
    return score(result, exemplar)


def score(result: SynthResult, exemplar: np.ndarray) -> SynthResult:
    """Fill ``result.quality``: the metrics against the exemplar as the engine saw it (after exemplar_size)."""
    from texstudio.engine.metrics import quality_report  # metrics is only needed once, at the end

    config = result.config
    reference = resize_longest_side(exemplar, config.exemplar_size)
    result.quality = quality_report(result.image, reference, tileable=config.tileable)
    return result


def run_synthesis(config: SynthConfig, exemplar: np.ndarray, stop: StopToken | None = None,
                  init: np.ndarray | None = None, on_step=None) -> SynthResult:
    """Drive ``synthesize`` to the end, calling ``on_step(record)`` for each record."""
    return drive(synthesize(config, exemplar, stop, init), on_step)
