"""What a user gets without choosing: the default settings and the named presets.

The defaults come from the bake-off in docs/bakeoff/results.md (bench/bakeoff.py; no
download, every photo split into an exemplar half and a held-out half, an equal CPU
budget per method). Gram matching with the colour-distribution term on the random
multi-scale network, learned over a 3-level coarse-to-fine pyramid with fresh detail
noise at each level, had the best mean rank of the 13 methods run on all 40 photos,
including a network trained in the app on the exemplars. It keeps brick rows and block
walls that VGG19 features (the earlier default, sliced Wasserstein + spectrum + colour)
turned into streaks; the detail noise removed the rings and dots that plain enlarging
left on fine stochastic textures (better on 23 of 40 photos at equal evaluations, the 8
stochastic ones ranked 3.50 against 7.12).

The "structured" preset lays out the coarse levels from raw pixel patches first
(docs/bakeoff_layout): by eye the first setting that keeps honeycomb cells and a checker
board, but worse than the default by the metrics on all 40 photos and on grass. So the
default turns it on only for an exemplar that repeats (auto_layout, engine/periodicity.py,
docs/bakeoff_auto) or is made of large soft shapes (engine/coarseness.py, docs/soft_cells):
cells, checks, rows, tiles, lava and clouds get the layout, the rest the plain run.
"""

from __future__ import annotations

from texstudio.engine.config import SynthConfig
from texstudio.engine.devices import resolve_device
from texstudio.engine.layout import structured_split

# Evaluations for a 256x256 default run: about 2 minutes on a 2-core CPU (whole CLI runs
# timed by scripts/make_readme_figure.py: 120 s on gravel, 125 to 149 s on tileable foam, in
# fp32; 73 to 85 s on gravel where the CPU has bf16 instructions, README "Texture quality").
CPU_STEPS = 180
# A GPU spends its time on a larger canvas and more evaluations: 9 s on an H200 (bench/gpu.py,
# BENCHMARKS.md "On a GPU"), about 1.5 minutes on a GPU a tenth as fast. Fixed, not scaled to
# the card's speed: every GPU runs the same settings for the same seed.
GPU_STEPS = 600
GPU_SIZE = 512
CPU_SIZE = 256
# Layout steps per ring when the first layout level is grown from its middle
# (engine/growth.py): its 32 px canvas's periodicity went from 0.50-0.54 to 0.68-0.77 on
# the red bricks half (seeds 0-5), final scores about even (docs/grow_layout).
GROW_STEPS = 60
# No download, no training: random filters of six sizes (Ustyuzhaninov et al. 2017).
DEFAULT_BACKBONE = "random-multiscale"


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
        backbone=DEFAULT_BACKBONE, gram_weight=1.0, sw_weight=0.0, spectrum_weight=0.0, color_weight=1.0,
        pyramid_levels=3, pyramid_noise=1.0, auto_layout=True, auto_lattice=True, layout_phases=4, layout_min_share=0.5,
        layout_copy_weight=1.0, copy_weight=1.0, layout_grow_steps=GROW_STEPS, lighting="auto",
        exemplar_size=max(width, height),
    )


def presets(width: int | None = None, height: int | None = None, device: str = "auto") -> dict[str, SynthConfig]:
    """Named starting points for the GUI: fast preview, quality (the default), structured, seamless tile."""
    quality = default_config(width, height, device)
    return {
        # Too few steps to share with layout levels: a preview is the plain run.
        "fast preview": quality.replace(steps=max(30, quality.steps // 5), pyramid_levels=2, auto_layout=False),
        "quality": quality,
        # For cells, checks, tiles and weaves whatever the exemplar (auto_layout decides per exemplar):
        # the split measured against the default in docs/bakeoff_layout (engine/layout.py).
        "structured": structured_split(quality.replace(auto_layout=False)),
        "seamless tile": quality.replace(tileable=True),
    }
