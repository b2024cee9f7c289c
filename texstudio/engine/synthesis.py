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

from texstudio.engine.backbones import Backbone, build_backbone
from texstudio.engine.cancel import StopToken
from texstudio.engine.config import SynthConfig
from texstudio.engine.devices import resolve_device
from texstudio.engine.errors import ConfigError, NumericalError
from texstudio.engine.imageio import resize_longest_side
from texstudio.engine.losses import SpectrumConstraint, channel_means, gram_matrix, relative_squared_error


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
    target_grams: dict[str, np.ndarray] | None = None  # exemplar Grams, in the iteration-0 record


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
    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None].to(device)


def tensor_to_image(tensor: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) tensor -> an independent (H, W, 3) float32 numpy copy."""
    return tensor.detach()[0].permute(1, 2, 0).float().cpu().numpy().copy()


class TextureObjective:
    """The weighted sum of the enabled loss terms against one exemplar's statistics."""

    def __init__(self, config: SynthConfig, backbone: Backbone, exemplar: torch.Tensor) -> None:
        self.backbone = backbone
        self.layer_weights = config.weights_by_layer(backbone.default_layers)
        backbone.check_layers(self.layer_weights)
        self.gram_weight = config.gram_weight
        self.gap_weight = config.gap_weight
        self.layers = [name for name, w in self.layer_weights.items() if w > 0]
        if not self.layers and (self.gram_weight or self.gap_weight):
            raise ConfigError("every layer has weight 0")
        # Target statistics are computed once, without a graph: the exemplar never changes.
        with torch.no_grad():
            features = backbone(exemplar, self.layers) if self.layers else {}
            self.target_grams = {k: gram_matrix(v) for k, v in features.items()} if self.gram_weight else {}
            self.target_means = {k: channel_means(v) for k, v in features.items()} if self.gap_weight else {}
        self.spectrum = (
            SpectrumConstraint(exemplar, config.height, config.width) if config.spectrum_weight else None
        )
        self.spectrum_weight = config.spectrum_weight

    def __call__(self, canvas: torch.Tensor) -> dict[str, torch.Tensor]:
        """Weighted loss terms for ``canvas``; their sum is the objective."""
        terms: dict[str, torch.Tensor] = {}
        if self.layers and (self.gram_weight or self.gap_weight):
            features = self.backbone(canvas, self.layers)
            for name in self.layers:
                weight = self.layer_weights[name]
                if self.gram_weight:
                    current = gram_matrix(features[name])
                    terms[f"gram/{name}"] = self.gram_weight * weight * relative_squared_error(
                        current, self.target_grams[name])
                if self.gap_weight:
                    current = channel_means(features[name])
                    terms[f"gap/{name}"] = self.gap_weight * weight * relative_squared_error(
                        current, self.target_means[name])
        if self.spectrum is not None:
            terms["spectrum"] = self.spectrum_weight * self.spectrum(canvas)
        return terms

    def canvas_grams(self, canvas: torch.Tensor) -> dict[str, np.ndarray]:
        with torch.no_grad():
            features = self.backbone(canvas, self.layers)
            return {k: gram_matrix(v)[0].cpu().numpy().copy() for k, v in features.items()}


def initial_canvas(config: SynthConfig, exemplar: torch.Tensor, init: np.ndarray | None,
                   device: torch.device) -> torch.Tensor:
    """Seeded noise coloured like the exemplar, or a given image resized to the canvas."""
    if init is not None:
        canvas = image_to_tensor(init, device)
        if canvas.shape[-2:] != (config.height, config.width):
            canvas = torch.nn.functional.interpolate(
                canvas, size=(config.height, config.width), mode="bilinear", align_corners=False)
        return canvas.clamp(0, 1)
    if config.init == "image":
        raise ConfigError("init 'image' needs an initial image")
    # Noise is drawn on the CPU with its own generator: the same seed gives the same
    # canvas whatever the device and whatever else touched the global RNG.
    generator = torch.Generator().manual_seed(config.seed)
    noise = torch.randn((1, 3, config.height, config.width), generator=generator)
    mean = exemplar.mean(dim=(2, 3), keepdim=True).cpu()
    std = exemplar.std(dim=(2, 3), keepdim=True).cpu()
    return (mean + std * noise).clamp(0, 1).to(device)


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
    value (``StopIteration.value``, or use ``run_synthesis``) is a SynthResult.
    """
    started = time.perf_counter()
    device = resolve_device(config.device)
    exemplar = resize_longest_side(exemplar, config.exemplar_size)
    backbone = build_backbone(config.backbone, config.pooling, config.tileable, config.seed).to(device)
    exemplar_tensor = image_to_tensor(exemplar, device)
    objective = TextureObjective(config, backbone, exemplar_tensor)
    canvas = initial_canvas(config, exemplar_tensor, init, device).requires_grad_(True)
    optimizer = make_optimizer(config, canvas)

    with_grams = bool(objective.target_grams)
    preview_grams = objective.canvas_grams(canvas) if with_grams else None
    yield StepRecord(
        iteration=0, total_steps=config.steps, loss=float("nan"), losses={},
        elapsed=time.perf_counter() - started, preview=tensor_to_image(canvas), grams=preview_grams,
        target_grams={k: v[0].cpu().numpy().copy() for k, v in objective.target_grams.items()} or None,
    )

    history: list[float] = []
    last_terms: dict[str, float] = {}
    iteration = 0
    stopped = False
    terms: dict[str, torch.Tensor] = {}

    def closure() -> torch.Tensor:
        nonlocal terms
        optimizer.zero_grad(set_to_none=True)
        terms = objective(canvas)
        total = torch.stack(list(terms.values())).sum()
        total.backward()
        return total

    while iteration < config.steps:
        if stop is not None and stop.is_set():
            stopped = True
            break
        optimizer.step(closure)
        with torch.no_grad():
            canvas.clamp_(0.0, 1.0)
        iteration += 1
        # One host-device sync per step: all terms leave the device together.
        values = torch.stack([t.detach() for t in terms.values()]).float().tolist()
        last_terms = dict(zip(terms.keys(), values))
        total = float(sum(values))
        if not np.isfinite(total):
            raise NumericalError(
                f"the loss became {total} at iteration {iteration}; try a smaller learning rate or another optimizer"
            )
        history.append(total)
        show = config.preview_every and iteration % config.preview_every == 0 or iteration == config.steps
        yield StepRecord(
            iteration=iteration, total_steps=config.steps, loss=total, losses=last_terms,
            elapsed=time.perf_counter() - started,
            preview=tensor_to_image(canvas) if show else None,
            grams=objective.canvas_grams(canvas) if show and with_grams else None,
        )

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
