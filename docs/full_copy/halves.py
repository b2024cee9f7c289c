"""Builds halves.jpg from level_strip.py's strips: per row the exemplar half, then the result off, with the 11 px term, and the default.

    .venv/bin/python docs/full_copy/halves.py STRIP_DIR

STRIP_DIR holds s_TAG_off.png, s_TAG_on11.png and s_TAG_on.png, written by
`docs/structure_probes/level_strip.py PHOTO STRIP_DIR/s_TAG_off.png SEED '{"copy_weight": 0}'` and the
same with `{}`, on the first version (11 px windows, 2^23 pairs: s_TAG_on11.png) and on the
default (tags and photos: README.md's tables).
"""

import sys
from pathlib import Path

from PIL import Image, ImageDraw

ROWS = [("bk0", "scikit-image brick, seed 0"), ("bk1", "scikit-image brick, seed 1"),
        ("bk2", "scikit-image brick, seed 2"), ("rb0", "red bricks, seed 0"), ("pq1", "parquet, seed 1"),
        ("wp1", "wood panels, seed 1"), ("ft1", "floor tile, seed 1"), ("gv0", "scikit-image gravel, seed 0")]
UNLAID = ("gr", "gv")  # halves the layout levels skip: their strips hold one level fewer


def exemplar_and_result(strip: Image.Image, tag: str) -> tuple[Image.Image, Image.Image]:
    # level_strip.py lays out the exemplar, then 260 px per frame (256 px and a gap); the result is last.
    frames = 3 if tag.startswith(UNLAID) else 4
    width = strip.width - 4 - 260 * frames
    return strip.crop((0, 0, min(width, 128), 256)), strip.crop((strip.width - 260, 0, strip.width - 4, 256))


def main(strip_dir: Path) -> None:
    columns = (("off", "--copy-weight 0"), ("on11", "first version: 11 px windows"), ("on", "default: 16 px windows"))
    sheet = Image.new("RGB", (132 + 260 * len(columns), 20 + 276 * len(ROWS)), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((4, 4), "exemplar", fill="black")
    for index, (_, title) in enumerate(columns):
        draw.text((136 + 260 * index, 4), title, fill="black")
    for index, (tag, label) in enumerate(ROWS):
        y = 20 + 276 * index
        draw.text((4, y), label, fill="black")
        for index, (suffix, _) in enumerate(columns):
            strip = Image.open(strip_dir / f"s_{tag}_{suffix}.png").convert("RGB")
            exemplar, result = exemplar_and_result(strip, tag)
            sheet.paste(result, (132 + 260 * index, y + 16))
        sheet.paste(exemplar, (0, y + 16))
    sheet.save(Path(__file__).with_name("halves.jpg"), quality=85)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
