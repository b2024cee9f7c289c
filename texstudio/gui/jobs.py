"""Inspection jobs for the worker: feature maps and channel visualisation. Qt-free."""

from __future__ import annotations

from collections.abc import Generator

import numpy as np

from texstudio.engine.cancel import StopToken
from texstudio.engine.config import SynthConfig
from texstudio.engine.features import backbone_for, feature_maps, normalize_channels
from texstudio.engine.visualize import VisualizeResult, visualize_channel
from texstudio.gui.model import FeatureMaps


def feature_maps_job(config: SynthConfig, exemplar: np.ndarray, canvas: np.ndarray | None, layer: str,
                     max_channels: int) -> Generator[None, None, FeatureMaps]:
    """Channels of ``layer`` for exemplar and canvas, scaled together so they compare."""
    backbone = backbone_for(config)
    yield  # a progress point between building the network and running it, so Stop is prompt
    from_exemplar = feature_maps(backbone, exemplar, layer)
    channels_total = from_exemplar.shape[0]
    from_exemplar = from_exemplar[:max_channels] if max_channels else from_exemplar
    if canvas is None:
        (scaled,) = normalize_channels(from_exemplar)
        return FeatureMaps(layer, scaled, None, channels_total)
    from_canvas = feature_maps(backbone, canvas, layer, max_channels)
    scaled_exemplar, scaled_canvas = normalize_channels(from_exemplar, from_canvas)
    return FeatureMaps(layer, scaled_exemplar, scaled_canvas, channels_total)


def visualization_job(config: SynthConfig, layer: str, channel: int, stop: StopToken, size: int = 96,
                      steps: int = 120) -> Generator[object, None, VisualizeResult]:
    backbone = backbone_for(config)
    return (yield from visualize_channel(backbone, layer, channel, size=size, steps=steps,
                                         seed=config.seed, stop=stop, preview_every=5))
