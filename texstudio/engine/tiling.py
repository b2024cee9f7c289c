"""Tiled evaluation of position-averaged feature statistics, so large canvases fit in memory.

A Gram matrix and a channel mean are sums over positions, so they can be gathered tile by
tile. Each tile is cut from the canvas with a margin (the halo) as wide as the deepest
layer's receptive field, run through the network, and only its interior features are
kept: those never see the tile's cut edges, so they equal the whole canvas's features
there, to float rounding. Where a tile meets the canvas's own edge it is
cut flush, so the network pads it exactly as it pads the whole canvas.

The gradient takes two passes. The first gathers the statistics without a graph; the
loss on them gives dLoss/dGram and dLoss/dMean, small C x C and C tensors. The second
runs each tile again with a graph and back-propagates <dLoss/dGram, the tile's share of
the Gram> (and likewise for the means) into the canvas. Memory is one tile's activations
instead of the whole canvas's. The extra forward pass costs 16% more time per step at
1024 px; at 2048 px tiles are 12% faster than the whole canvas, whose 14 GiB of maps
thrash the caches (bench/tiling.py, BENCHMARKS.md).

The sliced-Wasserstein feature loss is not a sum over positions, but it only needs a
sample of them: the first pass also keeps a seeded share of each tile's positions (all of
them up to the loss's budget), the loss sorts the sample as it would the whole canvas's,
and the second pass back-propagates each kept position's share of its gradient through
its tile. The shifted Grams pair positions far apart, so a run using them evaluates the
whole canvas as before.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from texstudio.engine.backbones import VGG19_BLOCKS, VGG19_CHANNELS
from texstudio.engine.losses import flatten_positions

# Interior side of a tile, in canvas pixels. With 512 px tiles a default 2048 px run
# peaked at 2.2 GiB, against 14.5 GiB for the whole canvas.
TILE_SIDE = 512
# Canvases (or exemplars) with more pixels than this are evaluated in tiles: at 1024 px
# whole evaluation takes 4.2 GiB and is still the faster; above it tiles win both ways.
TILE_ABOVE_PIXELS = 1024 * 1024
# A GPU evaluates whole what fits in this share of its free memory (needs_tiles). The rest
# is left for the L-BFGS history (480 bytes a pixel when full), the canvas and other work.
GPU_WHOLE_SHARE = 0.5

# layer -> (receptive radius in image pixels, stride of its map in image pixels)
Geometry = dict[str, tuple[int, int]]
FeatureFn = Callable[[torch.Tensor], dict[str, torch.Tensor]]


@dataclass(frozen=True)
class Span:
    """One tile along one axis: its interior [start, stop) and the cut [cut_start, cut_stop) around it.

    On a torus the cut may run past either end and wraps; elsewhere it is clipped to the image.
    """

    start: int
    stop: int
    cut_start: int
    cut_stop: int


def spans(length: int, tile: int, halo: int, jump: int, torus: bool) -> list[Span]:
    """Tiles of about equal size covering [0, length), interiors starting on multiples of ``jump``.

    A single tile covers the whole axis with no halo, so a small canvas is cut exactly as
    the untiled evaluation sees it.
    """
    count = max(1, math.ceil(length / tile))
    if count == 1:
        return [Span(0, length, 0, length)]
    side = math.ceil(length / count / jump) * jump
    result = []
    for start in range(0, length, side):
        stop = min(length, start + side)
        if torus:
            result.append(Span(start, stop, start - halo, stop + halo))
        else:
            result.append(Span(start, stop, max(0, start - halo), min(length, stop + halo)))
    return result


def cut(image: torch.Tensor, rows: Span, columns: Span) -> torch.Tensor:
    """The tile's cut of a (N, C, H, W) image; wrapping indices past the edges (torus)."""
    height, width = image.shape[-2:]
    if 0 <= rows.cut_start and rows.cut_stop <= height:
        image = image[..., rows.cut_start:rows.cut_stop, :]
    else:
        index = torch.arange(rows.cut_start, rows.cut_stop, device=image.device) % height
        image = image.index_select(-2, index)
    if 0 <= columns.cut_start and columns.cut_stop <= width:
        return image[..., columns.cut_start:columns.cut_stop]
    index = torch.arange(columns.cut_start, columns.cut_stop, device=image.device) % width
    return image.index_select(-1, index)


def _interior(span: Span, stride: int) -> slice:
    """Where the span's interior lies in a map of ``stride`` computed from its cut."""
    first = (span.start - span.cut_start) // stride
    return slice(first, first + math.ceil(span.stop / stride) - span.start // stride)


def interior(features: torch.Tensor, rows: Span, columns: Span, stride: int) -> torch.Tensor:
    """The positions of one layer's map (computed on the cut) that belong to the tile's interior."""
    return features[..., _interior(rows, stride), _interior(columns, stride)]


@dataclass
class Sums:
    """Running sums of one layer over tiles: sum of outer products, sum of features, positions;
    and, for the sliced-Wasserstein loss, the features at a sample of positions, tile by tile."""

    outer: torch.Tensor | None = None
    total: torch.Tensor | None = None
    count: int = 0
    points: list[torch.Tensor] = field(default_factory=list)  # (C, k) per tile, in the order of the tiles
    picks: list[torch.Tensor | None] = field(default_factory=list)  # which of the tile's positions; None: all

    def add_points(self, features: torch.Tensor, share: float, generator: torch.Generator | None) -> None:
        """Keep ``share`` of the tile's positions (all of them when it is 1), drawn from ``generator``."""
        flat = flatten_positions(features).float()
        pick = None
        if share < 1.0:
            count = flat.shape[1]
            pick = torch.randperm(count, generator=generator)[:max(1, round(share * count))].to(flat.device)
            flat = flat[:, pick]
        self.points.append(flat)
        self.picks.append(pick)

    def point_cloud(self) -> torch.Tensor:
        """(C, N): the kept positions of every tile, as flatten_positions gives them for a whole map."""
        return torch.cat(self.points, dim=1)

    def add(self, features: torch.Tensor, grams: bool, means: bool) -> None:
        n, c = features.shape[:2]
        flat = features.reshape(n, c, -1).float()
        if grams:
            outer = torch.bmm(flat, flat.transpose(1, 2))
            self.outer = outer if self.outer is None else self.outer + outer
        if means:
            total = flat.sum(dim=2)
            self.total = total if self.total is None else self.total + total
        self.count += flat.shape[2]


class TiledStatistics:
    """Grams and channel means of an image gathered in tiles, and their gradient (see the module)."""

    def __init__(self, geometry: Geometry, height: int, width: int, torus: bool, tile: int = TILE_SIDE) -> None:
        self.geometry = geometry
        jump = max(stride for _, stride in geometry.values())
        radius = max(radius for radius, _ in geometry.values())
        halo = math.ceil(radius / jump) * jump
        side = max(jump, tile // jump * jump)
        self.tiles = [(rows, columns) for rows in spans(height, side, halo, jump, torus)
                      for columns in spans(width, side, halo, jump, torus)]
        self.height, self.width = height, width

    def point_share(self, name: str, max_points: int) -> float:
        """The share of one layer's positions that makes about ``max_points`` over the image."""
        stride = self.geometry[name][1]
        positions = math.ceil(self.height / stride) * math.ceil(self.width / stride)
        return min(1.0, max_points / positions)

    def _tile_features(self, features: FeatureFn, image: torch.Tensor, rows: Span, columns: Span):
        maps = features(cut(image, rows, columns))
        return {name: interior(value, rows, columns, self.geometry[name][1]) for name, value in maps.items()}

    def gather(self, features: FeatureFn, image: torch.Tensor, grams: bool, means: bool,
               max_points: int = 0, generator: torch.Generator | None = None) -> dict[str, Sums]:
        """Per-layer sums over every tile, with no graph; with ``max_points``, also about that
        many positions' features per layer (all of them when the layer has no more)."""
        sums: dict[str, Sums] = {}
        with torch.no_grad():
            for rows, columns in self.tiles:
                for name, value in self._tile_features(features, image, rows, columns).items():
                    layer = sums.setdefault(name, Sums())
                    layer.add(value, grams, means)
                    if max_points:
                        layer.add_points(value, self.point_share(name, max_points), generator)
        return sums

    def backward(self, features: FeatureFn, canvas: torch.Tensor, sums: dict[str, Sums],
                 gram_grads: dict[str, torch.Tensor], mean_grads: dict[str, torch.Tensor],
                 point_grads: dict[str, torch.Tensor] | None = None) -> None:
        """Accumulate into ``canvas.grad`` the gradient of a loss whose derivatives with respect
        to each layer's Gram and mean are ``gram_grads`` and ``mean_grads``, and with respect
        to its kept positions' features (Sums.point_cloud) ``point_grads``."""
        point_grads = point_grads or {}
        # Each tile's columns of the point gradient, in the order gather kept them.
        tile_grads = {name: grad.split([p.shape[1] for p in sums[name].points], dim=1)
                      for name, grad in point_grads.items()}
        for index, (rows, columns) in enumerate(self.tiles):
            with torch.enable_grad():
                parts = []
                for name, value in self._tile_features(features, canvas, rows, columns).items():
                    n, c = value.shape[:2]
                    flat = value.reshape(n, c, -1).float()
                    if name in gram_grads:
                        parts.append((gram_grads[name] * torch.bmm(flat, flat.transpose(1, 2))).sum() / sums[name].count)
                    if name in mean_grads:
                        parts.append((mean_grads[name] * flat.sum(dim=2)).sum() / sums[name].count)
                    if name in tile_grads:
                        pick = sums[name].picks[index]
                        kept = flat[0] if pick is None else flat[0][:, pick]
                        parts.append((tile_grads[name][index] * kept).sum())
                if parts:
                    torch.stack(parts).sum().backward()


def activation_floats_per_pixel(backbone: str, layers: Sequence[str]) -> float:
    """Floats a whole-canvas evaluation keeps per image pixel for the backward pass, roughly.

    Every convolution's and ReLU's output down to the deepest layer used, at its map's
    resolution. Against peaks measured with default settings (3 KiB a pixel here): 2.9 KiB
    on a GPU in bf16 at 1024 to 4096 px (bench/gpu.py), 4.2 GiB for 1024 px on a CPU.
    """
    if backbone == "random-multiscale":
        return 2.0 * 64 * len(layers)
    # VGG19 and networks trained in the app (named like it): conv and ReLU outputs per block.
    deepest = max((int(name[4]) for name in layers if name[:4] == "relu" and name[4:5].isdigit()), default=5)
    return sum(2.0 * VGG19_BLOCKS[b] * VGG19_CHANNELS[b] / 4 ** b for b in range(min(deepest, len(VGG19_BLOCKS))))


def gpu_free_bytes(device: torch.device) -> int | None:
    """Free memory on a CUDA device, or None for devices that share the host's memory."""
    return torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else None


def needs_tiles(height: int, width: int, whole_bytes: float = 0.0, free_bytes: int | None = None) -> bool:
    """Whether an image this size is evaluated in tiles.

    On a CPU: above TILE_ABOVE_PIXELS, where tiles are both smaller and faster. On a GPU
    (``free_bytes`` given) whole maps are the faster, 1.4 to 1.6x per step from 1024 to
    4096 px on an H200 (bench/gpu.py), so it tiles only an image whose whole evaluation,
    ``whole_bytes``, would take more than GPU_WHOLE_SHARE of the free memory.
    """
    if free_bytes is not None:
        return whole_bytes > GPU_WHOLE_SHARE * free_bytes
    return height * width > TILE_ABOVE_PIXELS
