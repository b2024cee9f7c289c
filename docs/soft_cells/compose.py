"""The before/after sheet of docs/soft_cells: exemplar half | before | now | held-out half, one photo a row.

    .venv/bin/python docs/soft_cells/compose.py BEFORE_OUT NOW_OUT docs/soft_cells/sheet.jpg PHOTO...
    .venv/bin/python docs/soft_cells/compose.py --titles "before: ...,now: ..." BEFORE_OUT NOW_OUT SHEET PHOTO...

BEFORE_OUT and NOW_OUT are two `scripts/heldout_check.py --out` folders run on the same
photos (their outputs/ hold the CLI results, OUTPUTS/PHOTO_STEM.png); thumbnails and layout are
heldout_check's own. ``--titles``: the two middle columns' titles (docs/grain_lattice uses it).
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO))

from heldout_check import split, thumb, write_sheet  # noqa: E402
from texstudio.engine.imageio import load_image  # noqa: E402

TITLES = ("exemplar (left half)", "before: plain run", "now: laid out first", "held-out right half")


def main() -> int:
    arguments, titles = sys.argv[1:], TITLES
    if arguments[0] == "--titles":
        titles = (TITLES[0], *arguments[1].split(","), TITLES[-1])
        arguments = arguments[2:]
    before, now, target, photos = Path(arguments[0]), Path(arguments[1]), Path(arguments[2]), arguments[3:]
    pictures = []
    for photo in map(Path, photos):
        left, right = split(load_image(photo))
        pictures.append((photo.stem, [thumb(left), thumb(load_image(before / "outputs" / f"{photo.stem}.png")),
                                      thumb(load_image(now / "outputs" / f"{photo.stem}.png")), thumb(right)]))
    write_sheet(pictures, target, titles)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
