"""bench/levels.py with noise added to the layout stage's exemplar patches each step (probe)."""
import os, sys
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "bench")); sys.path.insert(0, REPO)
import torch
import texstudio.engine.layout as L
SIGMA = float(os.environ.get("SIGMA", "0.08"))
_distance = L.PatchLayoutObjective._distance
def call(self, canvas):
    ours = L.sample_patches(canvas, L.LAYOUT_PATCH, L.LAYOUT_MAX_POINTS, self.generator, self.torus)
    theirs = (self.all_theirs if self.all_theirs is not None else
              L.sample_patches(self.exemplar, L.LAYOUT_PATCH, L.LAYOUT_MAX_POINTS, self.generator))
    theirs = theirs + SIGMA * torch.randn(theirs.shape, generator=self.generator).to(theirs)
    return {"patch": self._distance(ours, theirs)}
L.PatchLayoutObjective.__call__ = call
import levels
sys.exit(levels.main())
