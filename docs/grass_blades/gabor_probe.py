"""Probe, not shipped: the random multiscale backbone with a layer of fixed, oriented, elongated filters.

    GABOR_SIZE=23 GABOR_WAVES=3:6 .venv/bin/python docs/grass_blades/gabor_probe.py EXEMPLAR -o OUT.png [SYNTH OPTIONS]

`texstudio synth` with one more layer, relu_gabor: GABOR_ORIENT orientations x the
wavelengths in GABOR_WAVES (px) x two phases of Gabor filters GABOR_SIZE px wide, their
envelope GABOR_ELONG times longer along the stripes than across, the same on the three
colour channels, zero-mean and scaled to the random filters' norm. GABOR_ONLY=1 keeps only
that layer. Its Gram matrix is matched like the random layers' (README.md).
"""
import math, os, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import torch
import torch.nn as nn
from texstudio.engine import backbones

SIZE = int(os.environ.get("GABOR_SIZE", "31"))
WAVES = [float(w) for w in os.environ.get("GABOR_WAVES", "4:8:16").split(":")]
ORIENT = int(os.environ.get("GABOR_ORIENT", "8"))
ELONG = float(os.environ.get("GABOR_ELONG", "2.5"))  # envelope along / across
ONLY = os.environ.get("GABOR_ONLY")  # replace the random layers instead of adding


def gabor_bank() -> torch.Tensor:
    r = SIZE // 2
    yy, xx = torch.meshgrid(torch.arange(-r, r + 1.0), torch.arange(-r, r + 1.0), indexing="ij")
    filters = []
    for wave in WAVES:
        across = 0.5 * wave  # envelope sigma across the stripes
        along = min(ELONG * across, r / 2)
        for k in range(ORIENT):
            t = math.pi * k / ORIENT
            u = xx * math.cos(t) + yy * math.sin(t)    # across the stripes
            v = -xx * math.sin(t) + yy * math.cos(t)   # along them
            env = torch.exp(-0.5 * ((u / across) ** 2 + (v / along) ** 2))
            for phase in (0.0, math.pi / 2):
                f = env * torch.cos(2 * math.pi * u / wave + phase)
                f = f - f.mean()
                filters.append(f)
    bank = torch.stack(filters)[:, None].repeat(1, 3, 1, 1) / 3
    bank = bank / bank.flatten(1).norm(dim=1).view(-1, 1, 1, 1) * math.sqrt(2)
    return bank


plain_init = backbones.RandomMultiscale.__init__


def init(self, torus=False, seed=0, kernels=backbones.MULTISCALE_KERNELS, channels=backbones.MULTISCALE_CHANNELS):
    plain_init(self, torus, seed, kernels, channels)
    bank = gabor_bank()
    conv = nn.Conv2d(3, bank.shape[0], SIZE, padding=SIZE // 2, bias=False,
                     padding_mode="circular" if torus else "reflect")
    with torch.no_grad():
        conv.weight.copy_(bank)
    conv.requires_grad_(False)
    if ONLY:
        for key in list(self.stages.keys()):
            del self.stages[key]
    self.stages["conv_gabor"] = conv


backbones.RandomMultiscale.__init__ = init
layers = tuple(f"relu_k{k}" for k in backbones.MULTISCALE_KERNELS)
backbones.RandomMultiscale.default_layers = ("relu_gabor",) if ONLY else layers + ("relu_gabor",)

if __name__ == "__main__":
    from texstudio.cli import main
    sys.exit(main(["synth", *sys.argv[1:]]))
