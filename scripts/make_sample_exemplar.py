"""Write resources/sample_exemplar.png: the pebble texture the GUI opens on first start.

The image is made here, procedurally, so the project ships no third-party photo:
pebbles are the cells of a jittered Voronoi diagram on a torus (so the sample tiles),
shaded as domes, in varied stone colours, set in grainy sand.

    python scripts/make_sample_exemplar.py [--size 256] [--seed 7] [--out PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

STONE_COLOURS = np.array([
    [0.62, 0.58, 0.53], [0.48, 0.45, 0.42], [0.71, 0.64, 0.55], [0.55, 0.47, 0.40],
    [0.40, 0.40, 0.41], [0.66, 0.60, 0.50], [0.52, 0.50, 0.47], [0.76, 0.71, 0.64],
], dtype=np.float32)
SAND = np.array([0.80, 0.71, 0.55], dtype=np.float32)


def smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Periodic value noise in [0, 1]: a coarse random grid upsampled bilinearly with wrap-around."""
    grid = rng.random((cells, cells)).astype(np.float32)
    coords = np.arange(size, dtype=np.float32) * cells / size
    i0 = np.floor(coords).astype(int)
    t = coords - i0
    t = t * t * (3 - 2 * t)  # smoothstep hides the grid
    i1 = (i0 + 1) % cells
    rows0 = grid[i0][:, i0] * (1 - t)[None, :] + grid[i0][:, i1] * t[None, :]
    rows1 = grid[i1][:, i0] * (1 - t)[None, :] + grid[i1][:, i1] * t[None, :]
    return rows0 * (1 - t)[:, None] + rows1 * t[:, None]


def pebbles(size: int = 256, seed: int = 7, per_side: int = 9) -> np.ndarray:
    """(size, size, 3) float32 pebble texture in [0, 1] that tiles seamlessly."""
    rng = np.random.default_rng(seed)
    cell = size / per_side
    centres = (np.stack(np.meshgrid(np.arange(per_side), np.arange(per_side)), -1).reshape(-1, 2) + 0.5) * cell
    centres = centres + rng.uniform(-0.38, 0.38, centres.shape) * cell
    # Each pebble is an ellipse: its own stretch and angle make the cells less regular.
    angles = rng.uniform(0, np.pi, len(centres))
    stretch = rng.uniform(0.8, 1.25, len(centres))

    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    first = np.full((size, size), np.inf, np.float32)
    second = np.full((size, size), np.inf, np.float32)
    owner = np.zeros((size, size), np.int32)
    for index, (cx, cy) in enumerate(centres):
        # Shortest offsets on the torus, so cells wrap across the image edges.
        dx = (xs - cx + size / 2) % size - size / 2
        dy = (ys - cy + size / 2) % size - size / 2
        c, s = np.cos(angles[index]), np.sin(angles[index])
        u, v = (c * dx + s * dy) * stretch[index], (-s * dx + c * dy) / stretch[index]
        d = np.sqrt(u * u + v * v)
        closer = d < first
        second = np.where(closer, first, np.minimum(second, d))
        owner = np.where(closer, index, owner)
        first = np.where(closer, d, first)

    edge = (second - first) / cell  # 0 on a cell border, larger inside
    stone = np.clip((edge - 0.08) / 0.35, 0, 1)
    dome = np.sqrt(stone)  # rounded profile: bright tops, darker flanks
    colours = STONE_COLOURS[rng.integers(0, len(STONE_COLOURS), len(centres))]
    colours = colours * rng.uniform(0.85, 1.15, (len(centres), 1)).astype(np.float32)
    mottling = smooth_noise(rng, size, 32)[..., None]
    grain = rng.normal(0, 1, (size, size, 1)).astype(np.float32)

    stone_rgb = colours[owner] * (0.55 + 0.45 * dome[..., None]) * (0.9 + 0.2 * mottling)
    # Light from the top left: pebbles are brighter on that flank.
    light = np.clip(1 + 0.25 * (np.roll(dome, 2, 0) - np.roll(dome, -2, 0) + np.roll(dome, 2, 1) - np.roll(dome, -2, 1)), 0.7, 1.3)
    stone_rgb = stone_rgb * light[..., None] + 0.02 * grain
    sand_rgb = SAND * (0.75 + 0.25 * smooth_noise(rng, size, 64)[..., None]) + 0.06 * grain
    shadow = np.clip(edge / 0.1, 0, 1)[..., None]  # crevices between stones are darker
    sand_rgb = sand_rgb * (0.45 + 0.55 * shadow)
    mask = np.clip((edge - 0.05) / 0.06, 0, 1)[..., None]
    return np.clip(mask * stone_rgb + (1 - mask) * sand_rgb, 0, 1).astype(np.float32)


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=root / "resources" / "sample_exemplar.png")
    args = parser.parse_args()
    image = pebbles(args.size, args.seed)
    Image.fromarray((image * 255 + 0.5).astype(np.uint8)).save(args.out, optimize=True)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
