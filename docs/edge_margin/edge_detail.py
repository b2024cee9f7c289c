"""How busy a result's outer pixels are against its inside: the edge line that edge_margin cuts off.

    .venv/bin/python docs/edge_margin/edge_detail.py --rows /tmp/lv/rows --tags m0,m8 [--textures DIR] \
        [--zoom corners.jpg]

Reads the rows bench/levels.py wrote (the result is each row's last 256 px) for every tag,
and prints, per photo, the edge detail ratio of each tag's result and of the photo's
held-out right half (bench/bakeoff.split_photo, the same scale): the mean absolute grey
Laplacian of the pixels 1 to 3 px from the edge (the outermost pixel has no Laplacian of its own),
over that of the pixels more than 12 px in. A photo scores about 1; a line of busy
pixels along the edge scores more. Then the mean over photos, and the ring-by-ring profile.
With --zoom, a figure: for every photo, each tag's top-left and bottom-right corners
(CORNER px square) enlarged ZOOM times, tags side by side.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

from bakeoff import split_photo  # noqa: E402

SIZE = 256
RINGS = 3  # the band scored: pixels 1 to 3 px from the edge
INSIDE = 12  # px from the edge beyond which a pixel counts as inside
CORNER, ZOOM = 40, 3


def ring_profile(image: np.ndarray, rings: int = 6) -> list[float]:
    """Mean |Laplacian| of each ring of pixels (1, 2, ... px from the edge) over the inside's."""
    grey = image.astype(np.float64).mean(axis=2)
    laplacian = np.abs(4 * grey[1:-1, 1:-1] - grey[:-2, 1:-1] - grey[2:, 1:-1] - grey[1:-1, :-2] - grey[1:-1, 2:])
    height, width = laplacian.shape
    inside = laplacian[INSIDE - 1:height - INSIDE + 1, INSIDE - 1:width - INSIDE + 1].mean()
    profile = []
    for d in range(rings):
        ring = np.concatenate([laplacian[d, d:width - d], laplacian[height - 1 - d, d:width - d],
                               laplacian[d + 1:height - 1 - d, d], laplacian[d + 1:height - 1 - d, width - 1 - d]])
        profile.append(float(ring.mean() / inside))
    return profile


def edge_ratio(image: np.ndarray) -> float:
    return float(np.mean(ring_profile(image)[:RINGS]))


def corners(result: np.ndarray) -> np.ndarray:
    """The result's top-left and bottom-right CORNER px squares, enlarged ZOOM times, one above the other."""
    cells = [result[:CORNER, :CORNER], result[-CORNER:, -CORNER:]]
    big = [np.asarray(Image.fromarray(c).resize((CORNER * ZOOM,) * 2, Image.NEAREST)) for c in cells]
    return np.concatenate([big[0], np.full((4, CORNER * ZOOM, 3), 255, np.uint8), big[1]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=Path, required=True)
    parser.add_argument("--tags", required=True, help="comma-separated bench/levels.py tags")
    parser.add_argument("--textures", type=Path, default=REPO.parent / "shared" / "textures")
    parser.add_argument("--zoom", type=Path, help="write the corners figure here")
    args = parser.parse_args()
    tags = args.tags.split(",")
    photos = sorted({p.name.rsplit("__", 1)[0] for p in args.rows.glob("*__*.png")})
    print("| photo | held-out half | " + " | ".join(tags) + " |")
    print("|---|---|" + "---|" * len(tags))
    scores: dict[str, list[float]] = {tag: [] for tag in ["held-out", *tags]}
    profiles: dict[str, list[list[float]]] = {tag: [] for tag in tags}
    columns = []  # the zoom figure: one column of corners per photo and tag
    for photo in photos:
        rows = {tag: args.rows / f"{photo}__{tag}.png" for tag in tags}
        if not all(path.exists() for path in rows.values()):
            continue
        held_out = split_photo(next(args.textures.glob(f"{photo}.*")), SIZE)[1]  # rows are named by stem
        cells = [edge_ratio(held_out)]
        scores["held-out"].append(cells[0])
        for tag, path in rows.items():
            result = np.asarray(Image.open(path).convert("RGB"))[:, -SIZE:]
            cells.append(edge_ratio(result))
            scores[tag].append(cells[-1])
            profiles[tag].append(ring_profile(result))
            columns.append(corners(result))
        columns.append(np.full((columns[-1].shape[0], 16, 3), 255, np.uint8))  # a gap between photos
        print(f"| {photo} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")
    print("| **mean** | " + " | ".join(f"**{np.mean(v):.2f}**" for v in scores.values()) + " |")
    for tag in tags:
        mean = np.mean(profiles[tag], axis=0)
        print(f"{tag}: ring by ring (1 px from the edge first):", " ".join(f"{v:.2f}" for v in mean))
    if args.zoom and columns:
        gapped = [np.pad(c, ((0, 0), (0, 2), (0, 0)), constant_values=255) for c in columns]
        half = (len(gapped) + 1) // 2  # two rows of photos keep the figure readable
        width = sum(c.shape[1] for c in gapped[:half])
        rows = [np.concatenate(part, 1) for part in (gapped[:half], gapped[half:]) if part]
        rows = [np.pad(r, ((0, 8), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
        Image.fromarray(np.concatenate(rows)).save(args.zoom, quality=88)
        print(f"wrote {args.zoom}")


if __name__ == "__main__":
    main()
