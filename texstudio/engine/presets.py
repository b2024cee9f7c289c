"""What a user gets without choosing: the default settings and the named presets.

The defaults come from the bake-off in docs/bakeoff/results.md (bench/bakeoff.py; random-
weight backbones, no download): at an equal CPU budget, sliced-Wasserstein feature
matching plus the Fourier spectrum constraint on a 3-level coarse-to-fine pyramid had
the best mean rank over all 40 photos and on the structured ones, against Gram (with and
without spectrum and pyramid) and the random multi-scale network. A colour-distribution
term on the pixels was then added (docs/bakeoff_color/results.md): at the same CPU budget
it tied on the patch distance and improved the colour distance on 10 of 10 photos, and the
speckle of stray colours that SW alone leaves is visibly reduced.
"""

from __future__ import annotations

from texstudio.engine.config import SynthConfig
from texstudio.engine.devices import resolve_device

# Evaluations for a 256x256 default run: about 2 minutes on a 2-core CPU (180 took
# 135 s for a whole CLI run with the colour term on gravel; 160 keeps it near 2 minutes).
CPU_STEPS = 160
# A GPU spends the same wall time on a larger canvas and more evaluations.
GPU_STEPS = 600
GPU_SIZE = 512
CPU_SIZE = 256


def on_gpu(device: str = "auto") -> bool:
    try:
        return resolve_device(device).type in ("cuda", "mps")
    except Exception:  # an unavailable device is reported when the run starts, not here
        return False


def default_size(device: str = "auto") -> tuple[int, int]:
    side = GPU_SIZE if on_gpu(device) else CPU_SIZE
    return side, side


def default_config(width: int | None = None, height: int | None = None, device: str = "auto") -> SynthConfig:
    """The bake-off winner for the machine it runs on."""
    if width is None or height is None:
        width, height = default_size(device)
    return SynthConfig(
        width=width, height=height, device=device,
        steps=GPU_STEPS if on_gpu(device) else CPU_STEPS,
        gram_weight=0.0, sw_weight=1.0, spectrum_weight=1.0, color_weight=1.0, pyramid_levels=3,
        exemplar_size=max(width, height),
    )


def presets(width: int | None = None, height: int | None = None, device: str = "auto") -> dict[str, SynthConfig]:
    """Named starting points for the GUI: fast preview, quality (the default), seamless tile."""
    quality = default_config(width, height, device)
    return {
        "fast preview": quality.replace(steps=max(30, quality.steps // 5), pyramid_levels=2),
        "quality": quality,
        "seamless tile": quality.replace(tileable=True),
    }
