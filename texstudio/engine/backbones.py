"""Feature networks behind one interface: an image in, named activations out.

Every backbone takes a (N, 3, H, W) tensor in [0, 1] and returns ``{layer: activation}``
for the layers asked for, running only as deep as the deepest of them. Parameters are
frozen: synthesis optimises pixels, and weight gradients would be wasted work.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from texstudio.engine.errors import BackboneError
from texstudio.engine.weights import VGG19_IMAGENET, find_weights_file, load_state_dict

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VGG19_BLOCKS = (2, 2, 4, 4, 4)  # convolutions per block, as in torchvision's vgg19
VGG19_CHANNELS = (64, 128, 256, 512, 512)
MULTISCALE_KERNELS = (3, 5, 7, 11, 15, 23)
MULTISCALE_CHANNELS = 64
BUILTIN_BACKBONES = ("vgg19", "random-multiscale")


class Pool2x(nn.Module):
    """2x2 stride-2 pooling that, on a torus, wraps instead of dropping an odd last row."""

    def __init__(self, kind: str, torus: bool) -> None:
        super().__init__()
        self.kind = kind
        self.torus = torus

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.torus and (x.shape[-1] % 2 or x.shape[-2] % 2):
            x = F.pad(x, (0, x.shape[-1] % 2, 0, x.shape[-2] % 2), mode="circular")
        if self.kind == "max":
            return F.max_pool2d(x, 2, 2, ceil_mode=True)
        return F.avg_pool2d(x, 2, 2, ceil_mode=True)


class Backbone(nn.Module):
    """A sequence of named stages; subclasses fill ``stages`` and say which layers to default to."""

    name: str = "backbone"
    default_layers: tuple[str, ...] = ()
    # Human-readable provenance of the weights, shown in the GUI and written to sidecars.
    weights_source: str = "random"
    # What circular padding becomes in ``planar()``. Not zeros: a zero (mean-grey) frame
    # around the exemplar puts border features into the targets that a torus has nowhere
    # to put but a grey blob in the middle. Replicating the edge adds no new feature and,
    # unlike reflection, works on maps of any size.
    planar_padding: str = "replicate"

    def __init__(self) -> None:
        super().__init__()
        self.stages = nn.ModuleDict()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(self.stages.keys())

    def check_layers(self, layers) -> None:
        unknown = [name for name in layers if name not in self.stages]
        if unknown:
            raise BackboneError(
                f"{self.name} has no layer(s) {', '.join(unknown)}; "
                f"it has {', '.join(self.layer_names)}"
            )

    def freeze(self) -> Backbone:
        self.eval()
        for parameter in self.parameters():
            parameter.requires_grad_(False)
        return self

    def planar(self) -> Backbone:
        """This network (same weights) without wrap-around: for an exemplar, whose edges do not meet.

        A torus network run on a photo reads across from its left edge to its right one,
        and the target statistics then hold that artificial seam; a tileable canvas learns
        to reproduce it as straight edges and rectangular blocks.
        """
        planar = copy.deepcopy(self)
        for module in planar.modules():
            if isinstance(module, nn.Conv2d) and module.padding_mode == "circular":
                module.padding_mode = self.planar_padding
            elif isinstance(module, Pool2x):
                module.torus = False
        return planar

    def normalize(self, image: torch.Tensor) -> torch.Tensor:
        return (image - self.mean) / self.std

    def forward(self, image: torch.Tensor, layers) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def geometry(self, layers) -> dict[str, tuple[int, int]] | None:
        """Each layer's (receptive radius, stride) in image pixels, for tiled evaluation
        (engine/tiling.py); None when this network's structure is not one it can work out."""
        return None


class SequentialBackbone(Backbone):
    """Stages run one after another (VGG-like); stops after the deepest wanted layer."""

    def forward(self, image: torch.Tensor, layers) -> dict[str, torch.Tensor]:
        wanted = set(layers)
        self.check_layers(wanted)
        out: dict[str, torch.Tensor] = {}
        x = self.normalize(image)
        previous = None
        for name, stage in self.stages.items():
            if isinstance(stage, nn.ReLU) and previous is not None and previous not in wanted:
                # In place over a conv output nobody asked for: convolution backward needs its
                # input, not its output, so this halves activation memory at no cost.
                x = F.relu(x, inplace=True)
            else:
                x = stage(x)
            previous = name
            if name in wanted:
                out[name] = x
                if len(out) == len(wanted):
                    break
        return out

    def geometry(self, layers) -> dict[str, tuple[int, int]] | None:
        wanted = set(layers)
        radius, stride = 0, 1
        out: dict[str, tuple[int, int]] = {}
        for name, stage in self.stages.items():
            if isinstance(stage, nn.Conv2d):
                k = stage.kernel_size[0]
                if (stage.kernel_size != (k, k) or k % 2 == 0 or stage.padding != (k // 2, k // 2)
                        or stage.stride != (1, 1) or stage.dilation != (1, 1)):
                    return None
                radius += (k // 2) * stride
            elif isinstance(stage, Pool2x):
                radius += stride  # a 2x2 window reaches one more input cell
                stride *= 2
            elif not isinstance(stage, (nn.ReLU, nn.BatchNorm2d, nn.Identity)):
                return None  # not pointwise, or not known to be
            if name in wanted:
                out[name] = (radius, stride)
                if len(out) == len(wanted):
                    break
        return out


class VGG19(SequentialBackbone):
    """torchvision's VGG19 feature stack with named layers and selectable pooling.

    ImageNet weights are used when a local file is found; otherwise a seeded He
    (Kaiming) initialisation, which keeps activation variance roughly constant with
    depth so every layer's statistics contribute (He, Wang & Hopcroft 2016 showed
    random-weight VGG already synthesises convincing stochastic textures).
    """

    name = "vgg19"
    default_layers = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")

    def __init__(self, pooling: str = "avg", torus: bool = False, seed: int = 0,
                 weights: str | Path | None = "auto") -> None:
        super().__init__()
        # Not zeros, as torchvision pads: a zero frame is a strong feature to random weights, and
        # an exemplar narrower than the canvas (half a photo) holds more of it. Matching that, the
        # canvas came out with a contrasty frame around a grey, flat middle (docs/grass_blades).
        padding_mode = "circular" if torus else self.planar_padding
        in_channels = 3
        for block, (count, channels) in enumerate(zip(VGG19_BLOCKS, VGG19_CHANNELS), start=1):
            for index in range(1, count + 1):
                conv = nn.Conv2d(in_channels, channels, 3, padding=1, padding_mode=padding_mode)
                self.stages[f"conv{block}_{index}"] = conv
                self.stages[f"relu{block}_{index}"] = nn.ReLU(inplace=False)
                in_channels = channels
            self.stages[f"pool{block}"] = Pool2x(pooling, torus)
        self._init_weights(seed, weights)
        self.freeze()

    def _convs(self) -> list[nn.Conv2d]:
        return [stage for stage in self.stages.values() if isinstance(stage, nn.Conv2d)]

    def _init_weights(self, seed: int, weights: str | Path | None) -> None:
        path = find_weights_file(VGG19_IMAGENET) if weights == "auto" else weights
        if path:
            self._load_torchvision_state(Path(path))
            return
        generator = torch.Generator().manual_seed(seed)
        for conv in self._convs():
            nn.init.kaiming_normal_(conv.weight, mode="fan_in", nonlinearity="relu", generator=generator)
            nn.init.zeros_(conv.bias)
        self.weights_source = f"random (He init, seed {seed})"

    def _load_torchvision_state(self, path: Path) -> None:
        state = load_state_dict(path)
        # torchvision names the convolutions features.<index>; they come in the same order.
        keys = sorted({k.rsplit(".", 1)[0] for k in state if k.startswith("features.")},
                      key=lambda k: int(k.split(".")[1]))
        convs = self._convs()
        if len(keys) != len(convs):
            raise BackboneError(f"{path.name} is not a VGG19 weights file ({len(keys)} conv layers, expected 16)")
        with torch.no_grad():
            for key, conv in zip(keys, convs):
                weight, bias = state[f"{key}.weight"], state[f"{key}.bias"]
                if weight.shape != conv.weight.shape or bias.shape != conv.bias.shape:
                    raise BackboneError(
                        f"{path.name} does not match VGG19: {key}.weight is {tuple(weight.shape)}, "
                        f"expected {tuple(conv.weight.shape)}"
                    )
                conv.weight.copy_(weight)
                conv.bias.copy_(bias)
        self.weights_source = f"ImageNet ({path.name})"


class RandomMultiscale(Backbone):
    """One layer of random filters at several sizes, run in parallel on the image.

    After Ustyuzhaninov et al. 2017 ("What does it take to generate natural textures?"):
    a single random layer with many filter sizes already captures textures at several
    scales, with no trained weights at all. Each size is its own named layer, so its
    statistics can be weighted and plotted separately.
    """

    name = "random-multiscale"
    default_layers = tuple(f"relu_k{k}" for k in MULTISCALE_KERNELS)

    def __init__(self, torus: bool = False, seed: int = 0,
                 kernels: tuple[int, ...] = MULTISCALE_KERNELS, channels: int = MULTISCALE_CHANNELS) -> None:
        super().__init__()
        # Reflection avoids the dark frame that zero padding paints on the canvas edge.
        padding_mode = "circular" if torus else "reflect"
        generator = torch.Generator().manual_seed(seed)
        for k in kernels:
            conv = nn.Conv2d(3, channels, k, padding=k // 2, padding_mode=padding_mode)
            nn.init.kaiming_normal_(conv.weight, mode="fan_in", nonlinearity="relu", generator=generator)
            # Zero-mean filters respond to structure, not to the mean colour (that is in k=1 terms).
            with torch.no_grad():
                conv.weight -= conv.weight.mean(dim=(1, 2, 3), keepdim=True)
            nn.init.zeros_(conv.bias)
            self.stages[f"conv_k{k}"] = conv
        self.weights_source = f"random (seed {seed})"
        self.freeze()

    @property
    def layer_names(self) -> tuple[str, ...]:
        names = []
        for key in self.stages.keys():
            names += [key, key.replace("conv", "relu")]
        return tuple(names)

    def check_layers(self, layers) -> None:
        unknown = [name for name in layers if name not in self.layer_names]
        if unknown:
            raise BackboneError(
                f"{self.name} has no layer(s) {', '.join(unknown)}; it has {', '.join(self.layer_names)}"
            )

    def geometry(self, layers) -> dict[str, tuple[int, int]] | None:
        return {name: (self.stages[name.replace("relu", "conv")].kernel_size[0] // 2, 1) for name in layers}

    def forward(self, image: torch.Tensor, layers) -> dict[str, torch.Tensor]:
        self.check_layers(layers)
        x = self.normalize(image)
        small = min(x.shape[-2:])
        out: dict[str, torch.Tensor] = {}
        for name in layers:
            conv = self.stages[name.replace("relu", "conv")]
            if conv.padding_mode == "reflect" and conv.padding[0] >= small:
                raise BackboneError(f"canvas of {small} px is too small for the {name} filter")
            y = conv(x)
            out[name] = F.relu(y) if name.startswith("relu") else y
        return out


def build_backbone(name: str, pooling: str = "avg", torus: bool = False, seed: int = 0) -> Backbone:
    """Make a backbone by name (``vgg19``, ``random-multiscale``) or from a weights file path."""
    if name == "vgg19":
        return VGG19(pooling=pooling, torus=torus, seed=seed)
    if name == "random-multiscale":
        return RandomMultiscale(torus=torus, seed=seed)
    path = Path(name).expanduser()
    if path.is_file():
        return VGG19(pooling=pooling, torus=torus, seed=seed, weights=path)
    if path.is_dir():
        # A folder written by `texstudio train`; imported here because models imports us.
        from texstudio.engine.models import load_trained_backbone

        return load_trained_backbone(path, torus=torus)
    raise BackboneError(
        f"unknown backbone {name!r}: use {' or '.join(BUILTIN_BACKBONES)}, or a path to a weights file"
    )
