"""Probe: layout-stage variants against the held-out brick's copying (env VARIANT)."""
import json, os, sys, time
import numpy as np
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)
import torch
import texstudio.engine.layout as L
import texstudio.engine.synthesis as S
from texstudio.engine.imageio import load_image, resize_longest_side
from texstudio.engine.presets import default_config
from texstudio.engine.metrics import copy_fraction, _halve, patch_distance, spectrum_distance
from PIL import Image

VARIANT = os.environ.get("VARIANT", "base")
SIGMA = float(os.environ.get("SIGMA", "0.03"))
FINEST_ONLY = os.environ.get("FINEST_ONLY", "0") == "1"
_call = L.PatchLayoutObjective.__call__
def call(self, canvas):
    # FINEST_ONLY: the half-size layout level of a 256 px run (128 px), not the coarser ones.
    if VARIANT == "noise" and (not FINEST_ONLY or min(canvas.shape[-2:]) >= 100):
        ours = L.sample_patches(canvas, L.LAYOUT_PATCH, L.LAYOUT_MAX_POINTS, self.generator, self.torus)
        theirs = (self.all_theirs if self.all_theirs is not None else
                  L.sample_patches(self.exemplar, L.LAYOUT_PATCH, L.LAYOUT_MAX_POINTS, self.generator))
        theirs = theirs + SIGMA * torch.randn(theirs.shape, generator=self.generator).to(theirs)
        return {"patch": self._distance(ours, theirs)}
    return _call(self, canvas)
L.PatchLayoutObjective.__call__ = call
S.PatchLayoutObjective = L.PatchLayoutObjective

name, photo = sys.argv[1], sys.argv[2]
overrides = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
image = load_image(photo)
half = image.shape[1] // 2
ex, held = image[:, :half], image[:, half:2 * half]
config = default_config().replace(seed=seed, **overrides)
t = time.time()
res = S.run_synthesis(config, ex)
out = res.image
ref, _ = S.prepare_exemplar(resize_longest_side(ex, config.exemplar_size), res.config)
heldr = resize_longest_side(held, config.exemplar_size)
per = []
o, e = out, ref
for _ in range(3):
    per.append(round(copy_fraction(o, e), 3)); o, e = _halve(o), _halve(e)
Image.fromarray((np.clip(out, 0, 1) * 255).astype(np.uint8)).save(os.path.join(os.environ.get("OUT", "."), f"{name}.png"))
print(json.dumps({"name": name, "variant": VARIANT, "sigma": SIGMA, "finest": FINEST_ONLY, "seed": seed,
                  "copy_per_scale": per, "patch": round(patch_distance(out, heldr), 4),
                  "spectrum": round(spectrum_distance(out, heldr), 4), "s": round(time.time() - t)}), flush=True)
