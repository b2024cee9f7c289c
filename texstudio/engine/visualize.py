"""What does a channel respond to? Learn an image that maximises its mean activation.

Activation maximisation (Erhan et al. 2009; Olah et al., "Feature Visualization", 2017):
gradient ascent on the pixels, with small random shifts each step and a total-variation
penalty, both of which keep the optimiser from exploiting high-frequency artefacts.
A generator, like synthesis: each ``yield`` reports progress and honours a StopToken.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np
import torch

from texstudio.engine.backbones import Backbone
from texstudio.engine.cancel import StopToken
from texstudio.engine.errors import ConfigError
from texstudio.engine.canvas import tensor_to_image


@dataclass
class VisualizeRecord:
    """Progress of one ascent step; ``image`` is a copy, every ``preview_every`` steps."""

    iteration: int
    total_steps: int
    activation: float  # mean activation of the channel (what is maximised)
    elapsed: float
    image: np.ndarray | None = None


@dataclass
class VisualizeResult:
    image: np.ndarray  # (H, W, 3) float32 in [0, 1]
    layer: str
    channel: int
    iterations: int
    activation: float
    stopped: bool


def _total_variation(image: torch.Tensor) -> torch.Tensor:
    return (image[..., 1:, :] - image[..., :-1, :]).abs().mean() + (image[..., :, 1:] - image[..., :, :-1]).abs().mean()


def visualize_channel(backbone: Backbone, layer: str, channel: int, size: int = 96, steps: int = 100,
                      learning_rate: float = 0.05, tv_weight: float = 0.5, seed: int = 0,
                      stop: StopToken | None = None, preview_every: int = 5,
                      ) -> Generator[VisualizeRecord, None, VisualizeResult]:
    """Yield a VisualizeRecord per step of gradient ascent; return a VisualizeResult."""
    backbone.check_layers([layer])
    if size < 8 or steps < 0:
        raise ConfigError("visualisation needs a size of at least 8 px and steps >= 0")
    started = time.perf_counter()
    device = next(backbone.buffers()).device
    generator = torch.Generator().manual_seed(seed)
    # Pixels live in logit space: the sigmoid keeps them in [0, 1] without clamping steps.
    logits = (0.2 * torch.randn((1, 3, size, size), generator=generator)).to(device).requires_grad_(True)
    optimizer = torch.optim.Adam([logits], lr=learning_rate)
    with torch.no_grad():
        channels = backbone(torch.sigmoid(logits), [layer])[layer].shape[1]
    if not 0 <= channel < channels:
        raise ConfigError(f"{layer} has {channels} channels; there is no channel {channel}")

    shifts = torch.randint(-4, 5, (max(steps, 1), 2), generator=generator).tolist()
    activation = 0.0
    iteration = 0
    stopped = False
    while iteration < steps:
        if stop is not None and stop.is_set():
            stopped = True
            break
        optimizer.zero_grad(set_to_none=True)
        image = torch.sigmoid(logits)
        # Jitter: the channel must respond wherever the pattern sits, not to one pixel grid.
        dy, dx = shifts[iteration]
        shifted = torch.roll(image, shifts=(dy, dx), dims=(2, 3))
        response = backbone(shifted, [layer])[layer][:, channel].mean()
        loss = -response + tv_weight * _total_variation(image)
        loss.backward()
        optimizer.step()
        iteration += 1
        show = preview_every > 0 and iteration % preview_every == 0 or iteration == steps
        if show:
            activation = float(response.detach())
        yield VisualizeRecord(
            iteration=iteration, total_steps=steps, activation=activation,
            elapsed=time.perf_counter() - started,
            image=tensor_to_image(torch.sigmoid(logits)) if show else None,
        )

    with torch.no_grad():
        final = torch.sigmoid(logits)
        activation = float(backbone(final, [layer])[layer][:, channel].mean())
    return VisualizeResult(image=tensor_to_image(final), layer=layer, channel=channel,
                           iterations=iteration, activation=activation, stopped=stopped)
