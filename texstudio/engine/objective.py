"""What a synthesis minimises: the weighted loss terms of one canvas against one exemplar.

Statistics of large canvases and exemplars are gathered in tiles (engine/tiling.py
says which), so ``loss_and_grad`` is the way to a gradient, whole or tiled.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from texstudio.engine import acceleration
from texstudio.engine.backbones import Backbone
from texstudio.engine.canvas import without_margin
from texstudio.engine.config import SynthConfig
from texstudio.engine.copy_penalty import CopyPenalty
from texstudio.engine.errors import ConfigError
from texstudio.engine.losses import (
    SpectrumConstraint, backward_sum, channel_means, correlation_shifts, flatten_positions, gram_matrix,
    random_directions, relative_squared_error, shifted_gram, sliced_wasserstein,
)
from texstudio.engine.tiling import (
    TILE_SIDE, Sums, TiledStatistics, activation_floats_per_pixel, gpu_free_bytes, needs_tiles,
)


# Positions per layer that the SW loss sorts each step (all of them up to 512x512).
SW_MAX_POINTS = 1 << 18


def term_values(terms: dict[str, torch.Tensor]) -> dict[str, float]:
    """The loss terms as floats, with one host-device sync: all terms leave the device together."""
    values = torch.stack([t.detach() for t in terms.values()]).float().tolist()
    return dict(zip(terms.keys(), values))


class TextureObjective:
    """The weighted sum of the enabled loss terms against one exemplar's statistics."""

    def __init__(self, config: SynthConfig, backbone: Backbone, exemplar: torch.Tensor,
                 height: int, width: int, level: int = 0, target_backbone: Backbone | None = None,
                 tile: int | None = None, copy_penalty: CopyPenalty | None = None, margin: int = 0) -> None:
        self.backbone = backbone
        # The full-size level's copy term (SynthConfig.copy_weight; synthesis.full_size_copy gives
        # None where it has none), on the canvas without its ``margin``: the margin is cut off,
        # so what it copies is never seen.
        self.copy_penalty = copy_penalty
        self.margin = margin
        self.config = config
        self.layer_weights = config.weights_by_layer(backbone.default_layers)
        backbone.check_layers(self.layer_weights)
        self.layers = [name for name, w in self.layer_weights.items() if w > 0]
        uses_features = bool(config.gram_weight or config.gap_weight or config.sw_weight or config.corr_weight)
        if not self.layers and uses_features:
            raise ConfigError("every layer has weight 0")
        self.feature_layers = self.layers if uses_features else []
        self.device = exemplar.device
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
                sums = exemplar_tiles.gather(lambda image: self.features(image, target), exemplar,
                                             bool(config.gram_weight), bool(config.gap_weight),
                                             SW_MAX_POINTS if config.sw_weight else 0, self.generator)
                self.target_grams, self.target_means = self._statistics(sums)
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
            if not config.sw_weight:
                self.target_points = {}
            elif exemplar_tiles is not None:
                self.target_points = {k: s.point_cloud() for k, s in sums.items() if s.count >= 2}
            else:
                self.target_points = {k: flatten_positions(v, SW_MAX_POINTS, self.generator).float()
                                      for k, v in features.items() if v.shape[-2] * v.shape[-1] >= 2}
            self.target_pixels = (flatten_positions(exemplar, SW_MAX_POINTS, self.generator).float()
                                  if config.color_weight else None)
        self.spectrum = SpectrumConstraint(exemplar, height, width) if config.spectrum_weight else None
        if not (self.target_grams or self.target_means or self.target_corr or self.target_points or self.spectrum is not None
                or self.target_pixels is not None):
            raise ConfigError(
                f"the exemplar ({exemplar.shape[-1]}x{exemplar.shape[-2]} px at pyramid level {level + 1}) is "
                f"too small for layer(s) {', '.join(self.feature_layers)}: use a larger exemplar, fewer "
                "pyramid levels or shallower layers")

    def _tiling(self, height: int, width: int, torus: bool, tile: int | None) -> TiledStatistics | None:
        """How an image of this size is evaluated in tiles (engine/tiling.py), or None for whole.

        ``tile``: None tiles with TILE_SIDE tiles the images tiling.needs_tiles picks (over
        TILE_ABOVE_PIXELS on a CPU, too large for the free memory on a GPU), 0 never
        tiles, a side tiles always. Gram, mean and sliced-Wasserstein terms tile, and only
        on a network whose receptive fields are known; a torus also needs sides that its
        deepest map's stride divides, so that the wrap-around pools alike.
        """
        config = self.config
        if tile == 0 or not self.feature_layers or config.corr_weight:
            return None
        if tile is None:
            whole = height * width * 4 * activation_floats_per_pixel(config.backbone, self.feature_layers)
            if not needs_tiles(height, width, whole, gpu_free_bytes(self.device)):
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

    def _sw_term(self, name: str, points: torch.Tensor) -> torch.Tensor:
        """The weighted SW term of one layer, for the canvas's (C, N) points, whole or gathered from tiles."""
        return self.config.sw_weight * self.layer_weights[name] * sliced_wasserstein(
            points, self.target_points[name], self._directions(points.shape[0]))

    def _pixel_terms(self, canvas: torch.Tensor) -> dict[str, torch.Tensor]:
        """The terms read from the canvas's pixels, not from features: colour, spectrum and copying."""
        config = self.config
        terms: dict[str, torch.Tensor] = {}
        if self.target_pixels is not None:
            # RGB is only 3-D: a few dozen directions already pin the colour distribution.
            terms["color"] = config.color_weight * sliced_wasserstein(
                flatten_positions(canvas, SW_MAX_POINTS, self.generator), self.target_pixels,
                random_directions(3, 32, self.generator).to(self.device))
        if self.spectrum is not None:
            terms["spectrum"] = config.spectrum_weight * self.spectrum(canvas)
        if self.copy_penalty is not None:
            terms["copy"] = config.copy_weight * self.copy_penalty(without_margin(canvas, self.margin))
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
                terms[f"sw/{name}"] = self._sw_term(name, points)
        terms.update(self._pixel_terms(canvas))
        return terms

    def loss_and_grad(self, canvas: torch.Tensor) -> dict[str, torch.Tensor]:
        """The terms for ``canvas`` (no graph), with their sum's gradient added to ``canvas.grad``."""
        if self.tiling is not None:
            return self._tiled(canvas, gradient=True)
        return backward_sum(self(canvas))

    def _tiled(self, canvas: torch.Tensor, gradient: bool) -> dict[str, torch.Tensor]:
        config = self.config
        sums = self.tiling.gather(self.features, canvas, bool(config.gram_weight), bool(config.gap_weight),
                                  SW_MAX_POINTS if self.target_points else 0, self.generator)
        grams, means = self._statistics(sums)
        points = {k: sums[k].point_cloud() for k in self.target_points if k in sums}
        if gradient:  # leaves, to read dLoss/dGram, dLoss/dMean and dLoss/dPoints off after the backward pass
            grams = {k: v.requires_grad_() for k, v in grams.items()}
            means = {k: v.requires_grad_() for k, v in means.items()}
            points = {k: v.requires_grad_() for k, v in points.items()}
        with torch.set_grad_enabled(gradient):
            terms: dict[str, torch.Tensor] = {}
            for name in self.feature_layers:
                terms.update(self._statistic_terms(name, grams.get(name), means.get(name)))
                if name in points:  # after the statistics, as the whole canvas orders its terms
                    terms[f"sw/{name}"] = self._sw_term(name, points[name])
            terms.update(self._pixel_terms(canvas))
            if not gradient:
                return {k: v.detach() for k, v in terms.items()}
            terms = backward_sum(terms)
        self.tiling.backward(self.features, canvas, sums, {k: v.grad for k, v in grams.items()},
                             {k: v.grad for k, v in means.items()}, {k: v.grad for k, v in points.items()})
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
