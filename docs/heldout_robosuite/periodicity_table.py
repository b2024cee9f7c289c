"""The periodicity auto layout sees, for every photo in the given folders: whole, and the left half.

    .venv/bin/python docs/heldout_robosuite/periodicity_table.py ../shared/textures /tmp/rst /tmp/heldout \
        > docs/heldout_robosuite/periodicity.tsv

Both views are shrunk to the default CPU canvas's 256 px, as the engine shrinks an exemplar
(exemplar_size) before measuring it; the left half is what the bake-off and the held-out
checks give the engine. Sorted by the half's score.
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from texstudio.engine.imageio import load_image, resize_longest_side  # noqa: E402
from texstudio.engine.periodicity import periodicity  # noqa: E402
from texstudio.engine.presets import CPU_SIZE  # noqa: E402

rows = []
for folder in map(Path, sys.argv[1:]):
    for photo in sorted(folder.glob("*")):
        if photo.suffix.lower() not in (".png", ".jpg", ".jpeg") or photo.stem.isupper():  # CONTACT_SHEET
            continue
        image = load_image(photo)
        half = image[:, :image.shape[1] // 2]
        rows.append((periodicity(resize_longest_side(half, CPU_SIZE)),
                     periodicity(resize_longest_side(image, CPU_SIZE)), f"{folder.name}/{photo.name}"))
print("left half\twhole\tphoto")
for half, whole, name in sorted(rows):
    print(f"{half:.3f}\t{whole:.3f}\t{name}")
