"""Networks the user trains on their own photos, and whose features then drive synthesis.

Each network keeps its feature path in ``stages``, an ordered ``ModuleDict`` of named
layers run one after another, exactly what a ``SequentialBackbone`` runs; the decoder
or classification head that only training needs sits beside it. Every architecture is
rebuilt from a small JSON spec, so a saved model is its spec plus a safetensors file.

- ``fcn-lichen``: the reference fully convolutional autoencoder of the FCN lichen
  project, as published (see ``FCNLichen``).
- ``fcn-pyramid``: our variant, an autoencoder with downsampling and a bottleneck.
- ``vgg-small``: a VGG-style classifier (conv blocks, global average pooling, linear).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from texstudio.engine.backbones import Pool2x
from texstudio.engine.errors import BackboneError

AUTOENCODER_ARCHITECTURES = ("fcn-lichen", "fcn-pyramid")
CLASSIFIER_ARCHITECTURES = ("vgg-small",)
ARCHITECTURES = AUTOENCODER_ARCHITECTURES + CLASSIFIER_ARCHITECTURES
DEFAULT_ARCHITECTURE = {"autoencoder": "fcn-pyramid", "classifier": "vgg-small"}

# The reference FCN, layer by layer: (kernel, output channels).
FCN_LICHEN_LAYERS = ((7, 32), (7, 32), (5, 64), (5, 64), (3, 64), (3, 64), (1, 64), (1, 64), (1, 3))
PYRAMID_CHANNELS = (32, 64, 128, 128)
PYRAMID_CODE_CHANNELS = 32
VGG_SMALL_CHANNELS = (32, 64, 128, 256)


def _conv(in_channels: int, out_channels: int, kernel: int, torus: bool) -> nn.Conv2d:
    # "same" padding; circular on a torus so a synthesised canvas tiles with no seam.
    return nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2,
                     padding_mode="circular" if torus else "zeros")


def _seeded_init(module: nn.Module, seed: int) -> None:
    """He initialisation from our own generator: the same seed gives the same start, anywhere."""
    generator = torch.Generator().manual_seed(seed)
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu", generator=generator)
            nn.init.zeros_(layer.bias)


class TrainableNet(nn.Module):
    """Base: named feature ``stages`` plus whatever head the objective trains."""

    architecture = ""
    objective = ""
    # Layers used for synthesis unless the user picks others.
    default_layers: tuple[str, ...] = ()

    def __init__(self) -> None:
        super().__init__()
        self.stages = nn.ModuleDict()

    def spec(self) -> dict[str, Any]:
        """Enough to rebuild this network before loading its weights."""
        return {"name": self.architecture}

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.stages.values():
            x = stage(x)
        return x

    def reconstruction_layer(self) -> nn.Conv2d | None:
        """The autoencoder's last convolution (its RGB output); None for a classifier."""
        return None

    def start_from_mean_colour(self, mean_rgb) -> None:
        """Make an autoencoder start by predicting ``mean_rgb`` with a small, random residue.

        He initialisation gives the linear output layer outputs of standard deviation ~1
        around 0, far from [0, 1] pixels, and Adam moves a bias by about one learning
        rate per step: reaching a mean of 0.5 alone would take ~500 steps. Starting at
        the data's mean colour spends a short CPU budget on structure instead.
        """
        layer = self.reconstruction_layer()
        if layer is None:
            return
        with torch.no_grad():
            layer.weight.mul_(0.1)
            layer.bias.copy_(torch.as_tensor(mean_rgb, dtype=layer.bias.dtype))


class FCNLichen(TrainableNet):
    """The FCN lichen autoencoder exactly as published.

    Nine stride-1 "same" convolutions (kernels 7,7,5,5,3,3,1,1,1; channels
    32,32,64,64,64,64,64,64,3), ReLU after the first eight, batch norm after every
    pair (after relu2, relu4, relu6, relu8), no pooling. The reference names no output
    activation for conv9, so it stays linear: the MSE target is the [0, 1] input.
    Its texture descriptor is the spatial mean of every conv output: 451 values.
    """

    architecture = "fcn-lichen"
    objective = "autoencoder"
    default_layers = tuple(f"conv{i}" for i in range(1, 10))

    def __init__(self, torus: bool = False) -> None:
        super().__init__()
        in_channels = 3
        for index, (kernel, channels) in enumerate(FCN_LICHEN_LAYERS, start=1):
            self.stages[f"conv{index}"] = _conv(in_channels, channels, kernel, torus)
            if index < len(FCN_LICHEN_LAYERS):
                self.stages[f"relu{index}"] = nn.ReLU()
                if index % 2 == 0:
                    self.stages[f"bn{index}"] = nn.BatchNorm2d(channels)
            in_channels = channels

    def reconstruction_layer(self) -> nn.Conv2d:
        return self.stages["conv9"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x)


class FCNPyramid(TrainableNet):
    """Our variant: the reference's conv-relu-batchnorm pairs, with downsampling between them.

    Four blocks of two 3x3 convolutions at 1, 1/2, 1/4 and 1/8 resolution (average
    pooling between blocks), then a 1x1 "code" layer of 32 channels at 1/8 resolution:
    about 0.5 numbers per input pixel against 3, so the network cannot learn the
    identity and must summarise structure. Each level doubles how far a layer sees
    (relu4_1 spans 52 px, relu4_2 68 px; the reference's deepest layer 25 px). The decoder
    (nearest upsampling + convolutions, no skip connections, which would let detail
    bypass the deep layers) only serves training; synthesis uses the encoder.
    """

    architecture = "fcn-pyramid"
    objective = "autoencoder"
    default_layers = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")

    def __init__(self, torus: bool = False) -> None:
        super().__init__()
        in_channels = 3
        for block, channels in enumerate(PYRAMID_CHANNELS, start=1):
            if block > 1:
                self.stages[f"pool{block - 1}"] = Pool2x("avg", torus)
            for index in (1, 2):
                self.stages[f"conv{block}_{index}"] = _conv(in_channels, channels, 3, torus)
                self.stages[f"relu{block}_{index}"] = nn.ReLU()
                in_channels = channels
            self.stages[f"bn{block}"] = nn.BatchNorm2d(channels)
        self.stages["code"] = _conv(in_channels, PYRAMID_CODE_CHANNELS, 1, torus)
        self.decoder = nn.ModuleList()
        in_channels = PYRAMID_CODE_CHANNELS
        for channels in reversed(PYRAMID_CHANNELS[:-1]):
            self.decoder.append(nn.Sequential(
                _conv(in_channels, channels, 3, torus), nn.ReLU(), nn.BatchNorm2d(channels),
                _conv(channels, channels, 3, torus), nn.ReLU(),
            ))
            in_channels = channels
        self.output = _conv(in_channels, 3, 1, torus)

    def reconstruction_layer(self) -> nn.Conv2d:
        return self.output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        sizes = []
        for name, stage in self.stages.items():
            if name.startswith("pool"):
                sizes.append(x.shape[-2:])
            x = stage(x)
        for block in self.decoder:
            # Upsample to the exact size the encoder had: odd sizes survive the round trip.
            x = block(F.interpolate(x, size=sizes.pop(), mode="nearest"))
        out = self.output(x)
        return out if out.shape[-2:] == size else F.interpolate(out, size=size, mode="bilinear")


class VGGSmall(TrainableNet):
    """A VGG-style texture classifier: four blocks of two 3x3 conv-relu-batchnorm, average
    pooling between them, then global average pooling and one linear layer.

    Global average pooling makes the classifier judge a texture by the channel means of
    its deepest features, the same statistic the GAP loss matches.
    """

    architecture = "vgg-small"
    objective = "classifier"
    default_layers = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")

    def __init__(self, num_classes: int, torus: bool = False) -> None:
        super().__init__()
        self.num_classes = num_classes
        in_channels = 3
        for block, channels in enumerate(VGG_SMALL_CHANNELS, start=1):
            for index in (1, 2):
                self.stages[f"conv{block}_{index}"] = _conv(in_channels, channels, 3, torus)
                self.stages[f"relu{block}_{index}"] = nn.ReLU()
                self.stages[f"bn{block}_{index}"] = nn.BatchNorm2d(channels)
                in_channels = channels
            if block < len(VGG_SMALL_CHANNELS):
                self.stages[f"pool{block}"] = Pool2x("avg", torus)
        self.head = nn.Linear(in_channels, num_classes)

    def spec(self) -> dict[str, Any]:
        return {"name": self.architecture, "num_classes": self.num_classes}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encode(x).mean(dim=(2, 3)))


def build_network(spec: dict[str, Any], torus: bool = False, seed: int | None = None) -> TrainableNet:
    """Rebuild a network from its spec; with ``seed``, also give it a seeded initialisation."""
    name = spec.get("name")
    if name == "fcn-lichen":
        net: TrainableNet = FCNLichen(torus=torus)
    elif name == "fcn-pyramid":
        net = FCNPyramid(torus=torus)
    elif name == "vgg-small":
        classes = spec.get("num_classes")
        if not isinstance(classes, int) or classes < 2:
            raise BackboneError(f"a vgg-small spec needs num_classes >= 2, got {classes!r}")
        net = VGGSmall(classes, torus=torus)
    else:
        raise BackboneError(f"unknown architecture {name!r}; known: {', '.join(ARCHITECTURES)}")
    if seed is not None:
        _seeded_init(net, seed)
    return net
