"""The canvas a synthesis learns: made from seeded noise, converted to and from numpy,
and enlarged from one pyramid level to the next."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from texstudio.engine.config import SynthConfig
from texstudio.engine.errors import ConfigError


def image_to_tensor(image: np.ndarray, device: torch.device) -> torch.Tensor:
    """(H, W, 3) numpy -> (1, 3, H, W) float32 tensor on ``device``."""
    # contiguous(): L-BFGS flattens gradients with view(), which a permuted tensor refuses.
    tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]
    return tensor.contiguous().to(device)


def tensor_to_image(tensor: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) tensor -> an independent (H, W, 3) float32 numpy copy."""
    return tensor.detach()[0].permute(1, 2, 0).float().cpu().numpy().copy()


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


def add_margin(canvas: torch.Tensor, margin: int) -> torch.Tensor:
    """``canvas`` with ``margin`` px more on every side, mirrored from its edge (SynthConfig.edge_margin)."""
    return F.pad(canvas, (margin,) * 4, mode="reflect") if margin else canvas


def without_margin(canvas: torch.Tensor, margin: int) -> torch.Tensor:
    """The part of a canvas that ``add_margin`` enlarged: the margin cut off."""
    return canvas[..., margin:canvas.shape[-2] - margin, margin:canvas.shape[-1] - margin] if margin else canvas
