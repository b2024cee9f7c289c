"""Probe: layout-stage variants against the held-out brick's copying (env VARIANT)."""
import json, os, sys, time
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)
import texstudio.engine.synthesis as S
from texstudio.engine.imageio import load_image, resize_longest_side, to_uint8
from texstudio.engine.presets import default_config
from texstudio.engine.metrics import copy_fraction, _halve, patch_distance, spectrum_distance
from PIL import Image
from target_noise import install

VARIANT = os.environ.get("VARIANT", "base")
SIGMA = float(os.environ.get("SIGMA", "0.03"))
FINEST_ONLY = os.environ.get("FINEST_ONLY", "0") == "1"
if VARIANT == "noise":
    install(SIGMA, FINEST_ONLY)

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
Image.fromarray(to_uint8(out)).save(os.path.join(os.environ.get("OUT", "."), f"{name}.png"))
print(json.dumps({"name": name, "variant": VARIANT, "sigma": SIGMA, "finest": FINEST_ONLY, "seed": seed,
                  "copy_per_scale": per, "patch": round(patch_distance(out, heldr), 4),
                  "spectrum": round(spectrum_distance(out, heldr), 4), "s": round(time.time() - t)}), flush=True)
