"""Probe, not shipped: match the distribution of the canvas's row and column means (line profiles).

    PROFILE_W=1 PROFILE_FW=0 .venv/bin/python docs/structure_probes/profile_probe.py PHOTO OUT.png SEED [JSON]

level_strip.py with one more term. A joint that runs the whole width of a tile floor, a
mortar course, a plank's edge makes a deep dip in the mean of its row; where the canvas
breaks it into dashes or bends it, the dip is shallower. The term compares the sorted row
means (over windows as wide as the level's exemplar, every half window) and column means
of the canvas's grey level with the exemplar's, each high-passed (Gaussian of
PROFILE_SMOOTH of the exemplar's length) so lighting ramps do not count, as a 1-D
Wasserstein distance relative to the exemplar's profile power.
PROFILE_W: weight on the layout levels from PROFILE_FROM on (0: the first level);
PROFILE_FW: on the full-size feature level of a run with more than one level. 0 = off.
PROFILE_DEBUG=1 prints the layout terms every 40 steps.
"""
from __future__ import annotations
import os, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import torch
import torch.nn.functional as F
from level_strip import run
from texstudio.engine import synthesis

WEIGHT = float(os.environ.get("PROFILE_W", "1"))
SMOOTH = float(os.environ.get("PROFILE_SMOOTH", "0.125"))  # high-pass sigma, share of the exemplar's length
DEBUG = os.environ.get("PROFILE_DEBUG")
FROM = int(os.environ.get("PROFILE_FROM", "0"))  # first level it applies on


def highpass(profiles: torch.Tensor, sigma: float) -> torch.Tensor:
    """(N, L) profiles minus their Gaussian blur of ``sigma`` px (reflect-padded)."""
    if sigma <= 0:
        return profiles - profiles.mean(dim=1, keepdim=True)
    radius = min(int(3 * sigma + 0.5), profiles.shape[1] - 1)
    taps = torch.arange(-radius, radius + 1, dtype=profiles.dtype, device=profiles.device)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = (kernel / kernel.sum())[None, None]
    padded = F.pad(profiles[:, None], (radius, radius), mode="reflect")
    return profiles - F.conv1d(padded, kernel)[:, 0]


def row_profiles(grey: torch.Tensor, span: int, sigma: float) -> torch.Tensor:
    """Row means of (H, W) ``grey`` over windows ``span`` px wide, every span/2 px: (windows*H,)."""
    width = grey.shape[1]
    span = min(span, width)
    starts = sorted(set(list(range(0, width - span + 1, max(1, span // 2))) + [width - span]))
    profiles = torch.stack([grey[:, s:s + span].mean(dim=1) for s in starts])
    return highpass(profiles, sigma).reshape(-1)


def quantile_gap(ours: torch.Tensor, theirs: torch.Tensor) -> torch.Tensor:
    ours = torch.sort(ours).values
    theirs = torch.sort(theirs).values
    at = torch.linspace(0, theirs.numel() - 1, ours.numel(), dtype=ours.dtype)
    low = at.floor().long().clamp(max=theirs.numel() - 1)
    high = (low + 1).clamp(max=theirs.numel() - 1)
    frac = at - low
    target = theirs[low] * (1 - frac) + theirs[high] * frac
    return (ours - target).square().mean() / theirs.square().mean().clamp_min(1e-10)


class ProfileTerm:
    def __init__(self, exemplar: torch.Tensor, canvas_shape):
        grey = exemplar[0].mean(dim=0)
        self.eh, self.ew = grey.shape
        h, w = canvas_shape
        self.sig_r, self.sig_c = SMOOTH * self.eh, SMOOTH * self.ew
        self.rows = row_profiles(grey, min(self.ew, w), self.sig_r)
        self.cols = row_profiles(grey.T, min(self.eh, h), self.sig_c)

    def __call__(self, canvas):
        grey = canvas[0].mean(dim=0)
        rows = row_profiles(grey, self.ew, self.sig_r)
        cols = row_profiles(grey.T, self.eh, self.sig_c)
        return quantile_gap(rows, self.rows) + quantile_gap(cols, self.cols)


def with_profile(base):
    class WithProfile(base):
        def __init__(self, exemplar, seed, level, torus, canvas_shape=None, *args, **kwargs):
            super().__init__(exemplar, seed, level, torus, canvas_shape, *args, **kwargs)
            shape = canvas_shape or tuple(exemplar.shape[-2:])
            self.profile = ProfileTerm(exemplar, shape) if WEIGHT and level >= FROM else None
            self.calls = 0

        def __call__(self, canvas):
            terms = super().__call__(canvas)
            if self.profile is not None:
                terms["profile"] = WEIGHT * self.profile(canvas)
                if DEBUG and self.calls % 40 == 0:
                    print("level", tuple(canvas.shape[-2:]), self.calls, {k: round(float(v.detach()), 5) for k, v in terms.items()}, flush=True)
                self.calls += 1
            return terms
    return WithProfile


synthesis.PatchLayoutObjective = with_profile(synthesis.PatchLayoutObjective)

FEATURE_WEIGHT = float(os.environ.get("PROFILE_FW", "0"))
from texstudio.engine.losses import backward_sum  # noqa: E402


def with_feature_profile(base):
    class WithProfile(base):
        def __init__(self, config, backbone, exemplar, height, width, level, *args, **kwargs):
            super().__init__(config, backbone, exemplar, height, width, level, *args, **kwargs)
            self.pmargin = kwargs.get("margin", 0) or 0
            on = FEATURE_WEIGHT > 0 and level > 0
            self.profile = ProfileTerm(exemplar, (height - 2 * self.pmargin, width - 2 * self.pmargin)) if on else None

        def _profile(self, canvas):
            m = self.pmargin
            inner = canvas[..., m:canvas.shape[-2] - m, m:canvas.shape[-1] - m] if m else canvas
            return FEATURE_WEIGHT * self.profile(inner)

        def __call__(self, canvas):
            terms = super().__call__(canvas)
            if self.profile is not None:
                terms["profile"] = self._profile(canvas)
            return terms

        def loss_and_grad(self, canvas):
            if self.profile is None:
                return super().loss_and_grad(canvas)
            return backward_sum({**super().__call__(canvas), "profile": self._profile(canvas)})
    return WithProfile


synthesis.TextureObjective = with_feature_profile(synthesis.TextureObjective)


if __name__ == "__main__":
    run(sys.argv[1:])
