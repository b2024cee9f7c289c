"""Write the app icon: resources/icons/texstudio.{png,ico,icns}.

The motif is what the app does: a small exemplar swatch (top left, framed) next to a
3x3 grid of the seamless tile it learns, drawn procedurally so no artwork is shipped.
The PNG (256x256) is the Linux icon and the window icon, the ICO (16 to 256 px) is for
the Windows installer and executable. The macOS ICNS (half a megabyte, upscaled) is not
kept in the repository: packaging/macos/build_macos.sh makes it with --icns.

    python scripts/make_icon.py [--out-dir resources/icons] [--icns]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SIZE = 256
ICO_SIZES = [(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]


def tile_texture(size: int) -> np.ndarray:
    """A periodic woven/cellular pattern in warm stone colours, float RGB in [0, 1].

    Sums of sinusoids with integer frequencies, so the tile repeats with no seam, which
    is the point the icon makes.
    """
    t = np.arange(size, dtype=np.float32) * 2 * np.pi / size
    x, y = np.meshgrid(t, t)
    weave = np.sin(2 * x) * np.sin(2 * y)
    ripple = 0.5 * np.sin(3 * x + 2 * y) + 0.35 * np.cos(x - 3 * y)
    v = (weave + 0.6 * ripple)
    v = (v - v.min()) / (v.max() - v.min())
    dark = np.array([0.16, 0.22, 0.34], dtype=np.float32)
    mid = np.array([0.22, 0.55, 0.62], dtype=np.float32)
    light = np.array([0.98, 0.78, 0.42], dtype=np.float32)
    v3 = v[..., None]
    low = dark + (mid - dark) * np.clip(v3 * 2, 0, 1)
    return np.where(v3 < 0.5, low, mid + (light - mid) * np.clip(v3 * 2 - 1, 0, 1))


def rounded_mask(size: int, radius: int, scale: int = 4) -> Image.Image:
    """An antialiased rounded-square alpha mask (drawn large, then shrunk)."""
    big = Image.new("L", (size * scale, size * scale), 0)
    ImageDraw.Draw(big).rounded_rectangle(
        (0, 0, size * scale - 1, size * scale - 1), radius=radius * scale, fill=255)
    return big.resize((size, size), Image.LANCZOS)


def make_icon() -> Image.Image:
    margin, gap = 18, 6
    inner = SIZE - 2 * margin
    cell = (inner - 2 * gap) // 3
    tile = tile_texture(cell)
    tile_img = Image.fromarray((tile * 255).round().astype(np.uint8), "RGB")

    icon = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    background = Image.new("RGBA", (SIZE, SIZE), (30, 34, 44, 255))
    icon.paste(background, (0, 0), rounded_mask(SIZE, 48))

    tile_mask = rounded_mask(cell, 10)
    for row in range(3):
        for col in range(3):
            x = margin + col * (cell + gap)
            y = margin + row * (cell + gap)
            icon.paste(tile_img, (x, y), tile_mask)

    # The exemplar: the top-left tile framed, as the input the others were learned from.
    draw = ImageDraw.Draw(icon)
    draw.rounded_rectangle((margin - 3, margin - 3, margin + cell + 2, margin + cell + 2),
                           radius=12, outline=(255, 255, 255, 235), width=4)
    return icon


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path,
                        default=Path(__file__).resolve().parent.parent / "resources" / "icons")
    parser.add_argument("--icns", action="store_true", help="also write texstudio.icns (macOS)")
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    icon = make_icon()
    names = ["texstudio.png", "texstudio.ico"]
    icon.save(args.out_dir / "texstudio.png", optimize=True)
    icon.save(args.out_dir / "texstudio.ico", sizes=ICO_SIZES)
    if args.icns:
        icon.save(args.out_dir / "texstudio.icns")
        names.append("texstudio.icns")
    for name in names:
        path = args.out_dir / name
        print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
