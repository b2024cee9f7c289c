"""Probe, not in the engine: fresh Gaussian noise on the layout stage's target patches each step."""
import torch

import texstudio.engine.layout as L

FINEST_SIDE = 100  # the half-size layout level of a 256 px run is 128 px; the coarser ones are under this


def install(sigma: float, finest_only: bool = False) -> None:
    """Patch PatchLayoutObjective so its exemplar patches get N(0, sigma) added before each distance.

    The noise is drawn from the level's own generator just before the directions, so a run
    repeats exactly. With ``finest_only`` only canvases of FINEST_SIDE px and more get it.
    """
    call, distance = L.PatchLayoutObjective.__call__, L.PatchLayoutObjective._distance

    def noisy_call(self, canvas):
        self.target_noise = 0.0 if finest_only and min(canvas.shape[-2:]) < FINEST_SIDE else sigma
        return call(self, canvas)

    def noisy_distance(self, ours, theirs):
        if self.target_noise:
            theirs = theirs + self.target_noise * torch.randn(theirs.shape, generator=self.generator).to(theirs)
        return distance(self, ours, theirs)

    L.PatchLayoutObjective.__call__ = noisy_call
    L.PatchLayoutObjective._distance = noisy_distance
