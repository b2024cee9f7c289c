"""Probe, not shipped: the random multiscale backbone with larger filters, convolved by FFT.

    LK_KERNELS=3,5,7,11,15,23,37,55 .venv/bin/python docs/grass_blades/large_kernel_probe.py EXEMPLAR -o OUT.png [SYNTH OPTIONS]

`texstudio synth` with the random filters at the sizes in LK_KERNELS (default the
shipped six) and LK_CHANNELS filters each. Filters of LK_FFT_MIN px or more (default 37)
are applied through the FFT, which costs the same whatever their size; the padding is
what nn.Conv2d would do (reflection off the torus, wrap-around on it; replication where
a map is too small to reflect the padding). README.md says what it showed.
"""
import os, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import torch
import torch.nn as nn
import torch.nn.functional as F
from texstudio.engine import backbones

KERNELS = tuple(int(k) for k in os.environ.get("LK_KERNELS", ",".join(map(str, backbones.MULTISCALE_KERNELS))).split(","))
CHANNELS = int(os.environ.get("LK_CHANNELS", str(backbones.MULTISCALE_CHANNELS)))
FFT_MIN = int(os.environ.get("LK_FFT_MIN", "37"))


def fast_length(n: int) -> int:
    """The smallest length >= n whose only prime factors are 2, 3 and 5."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


class FFTConv2d(nn.Conv2d):
    """nn.Conv2d's cross-correlation, computed as a product of spectra."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel_size[0]
        p = k // 2
        h, w = x.shape[-2:]
        if self.padding_mode == "circular":
            padded = x
        else:
            mode = "reflect" if p < min(h, w) else "replicate"
            padded = F.pad(x, (p, p, p, p), mode=mode)
        H, W = padded.shape[-2:]
        # Off the torus the transform may be longer than the padded map (a fast length):
        # the valid outputs never reach round the end. On it, its length is the period.
        size = (H, W) if self.padding_mode == "circular" else (fast_length(H), fast_length(W))
        spec_x = torch.fft.rfft2(padded.float(), s=size)
        spec_w = torch.fft.rfft2(self.weight.float(), s=size)
        spec_y = torch.einsum("bihw,oihw->bohw", spec_x, spec_w.conj())
        y = torch.fft.irfft2(spec_y, s=size)
        if self.padding_mode == "circular":
            y = torch.roll(y, shifts=(p, p), dims=(-2, -1))
        else:
            y = y[..., :h, :w]
        if self.bias is not None:
            y = y + self.bias.view(1, -1, 1, 1)
        return y.to(x.dtype)


plain_init = backbones.RandomMultiscale.__init__


def init(self, torus=False, seed=0, kernels=None, channels=None):
    # The shipped layer's filters at these sizes (same seed, same draws), the large ones
    # moved into FFTConv2d with their weights.
    plain_init(self, torus, seed, KERNELS, CHANNELS)
    for k in KERNELS:
        if k >= FFT_MIN:
            conv = self.stages[f"conv_k{k}"]
            fft = FFTConv2d(3, CHANNELS, k, padding=k // 2, padding_mode=conv.padding_mode)
            fft.load_state_dict(conv.state_dict())
            self.stages[f"conv_k{k}"] = fft.requires_grad_(False)


def forward(self, image, layers):
    self.check_layers(layers)
    x = self.normalize(image)
    small = min(x.shape[-2:])
    out = {}
    for name in layers:
        conv = self.stages[name.replace("relu", "conv")]
        if not isinstance(conv, FFTConv2d) and conv.padding_mode == "reflect" and conv.padding[0] >= small:
            raise backbones.BackboneError(f"canvas of {small} px is too small for the {name} filter")
        y = conv(x)
        out[name] = F.relu(y) if name.startswith("relu") else y
    return out


backbones.RandomMultiscale.__init__ = init
backbones.RandomMultiscale.forward = forward
backbones.RandomMultiscale.default_layers = tuple(f"relu_k{k}" for k in KERNELS)

if __name__ == "__main__":
    from texstudio.cli import main
    sys.exit(main(["synth", *sys.argv[1:]]))
