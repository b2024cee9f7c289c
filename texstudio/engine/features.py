"""Feature maps of one backbone layer for an image, for inspection (no gradients).

Qt-free: the GUI's feature-map view calls these from its worker thread.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from texstudio.engine.backbones import Backbone, build_backbone
from texstudio.engine.config import SynthConfig
from texstudio.engine.devices import resolve_device
from texstudio.engine.canvas import image_to_tensor


def backbone_for(config: SynthConfig) -> Backbone:
    """The backbone a synthesis with ``config`` uses (same weights, pooling, padding), on its device."""
    device = resolve_device(config.device)
    return build_backbone(config.backbone, config.pooling, config.tileable, config.seed).to(device)


def feature_maps(backbone: Backbone, image: np.ndarray, layer: str, max_channels: int = 0) -> np.ndarray:
    """(C, h, w) float32 activations of ``layer`` for an (H, W, 3) image; an independent copy.

    ``max_channels`` > 0 keeps only the first that many channels, so the copy to the CPU
    stays small for deep layers.
    """
    device = next(backbone.buffers()).device
    with torch.no_grad():
        activation = backbone(image_to_tensor(image, device), [layer])[layer][0]
        if max_channels > 0:
            activation = activation[:max_channels]
        return activation.float().cpu().numpy().copy()


def normalize_channels(*stacks: np.ndarray) -> list[np.ndarray]:
    """Scale each channel to [0, 1] by its maximum over all ``stacks`` (so they compare directly)."""
    channels = min(s.shape[0] for s in stacks)
    stacks = [s[:channels] for s in stacks]
    low = np.minimum.reduce([s.reshape(channels, -1).min(axis=1) for s in stacks])
    high = np.maximum.reduce([s.reshape(channels, -1).max(axis=1) for s in stacks])
    span = np.where(high > low, high - low, 1.0).astype(np.float32)
    return [((s - low[:, None, None]) / span[:, None, None]).astype(np.float32) for s in stacks]


def grid_shape(channels: int) -> tuple[int, int]:
    """(rows, columns) of the most nearly square grid that holds ``channels`` cells."""
    columns = max(1, math.ceil(math.sqrt(channels)))
    return math.ceil(channels / columns), columns


def mosaic(maps: np.ndarray, gap: int = 1, fill: float = 0.0) -> tuple[np.ndarray, tuple[int, int]]:
    """Lay (C, h, w) maps out in a grid with ``gap`` px between cells; returns (image, (rows, cols))."""
    channels, height, width = maps.shape
    rows, columns = grid_shape(channels)
    out = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap), fill, np.float32)
    for index in range(channels):
        r, c = divmod(index, columns)
        out[r * (height + gap):r * (height + gap) + height, c * (width + gap):c * (width + gap) + width] = maps[index]
    return out, (rows, columns)


def mosaic_cell(x: float, y: float, map_shape: tuple[int, int], grid: tuple[int, int], gap: int = 1) -> int | None:
    """The channel index under mosaic pixel (x, y), or None on a gap or outside the grid."""
    height, width = map_shape
    rows, columns = grid
    if x < 0 or y < 0:
        return None
    c, cx = divmod(int(x), width + gap)
    r, cy = divmod(int(y), height + gap)
    if c >= columns or r >= rows or cx >= width or cy >= height:
        return None
    return r * columns + c
