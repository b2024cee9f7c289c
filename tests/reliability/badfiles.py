"""Image files of every awkward kind people open, written from scratch for each test.

``IMAGE_CASES`` maps a case name to (file name, writer, outcome): outcome ``"loads"``
means texstudio must use the file, ``"refused"`` that it must say why in one message.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import make_texture


def texture_png_bytes(size: int = 48, seed: int = 0) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray((make_texture(size, seed) * 255).astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def texture_jpeg_bytes(size: int = 48, seed: int = 0) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray((make_texture(size, seed) * 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png_bytes(width: int = 100_000, height: int = 100_000) -> bytes:
    """A 100-byte PNG whose (valid, checksummed) header claims 10 gigapixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def corrupt_png_bytes() -> bytes:
    """A real PNG with its pixel data overwritten: header fine, decoding fails."""
    data = bytearray(texture_png_bytes())
    start = data.index(b"IDAT") + 4 + 20
    data[start:start + 200] = bytes(range(200))
    return bytes(data)


def write_corrupt(path: Path) -> None:
    path.write_bytes(corrupt_png_bytes())


def write_truncated(path: Path) -> None:
    data = texture_png_bytes()
    path.write_bytes(data[: len(data) // 2])


def write_zero_byte(path: Path) -> None:
    path.write_bytes(b"")


def write_not_an_image(path: Path) -> None:
    path.write_text("Dear texstudio, this is a letter, not a photo.\n")


def write_bomb(path: Path) -> None:
    path.write_bytes(bomb_png_bytes())


def write_one_pixel(path: Path) -> None:
    Image.new("RGB", (1, 1), (120, 90, 60)).save(path)


def write_sliver(path: Path) -> None:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (4, 10_000, 3), dtype=np.uint8)).save(path)


def write_16_bit(path: Path) -> None:
    import png

    pixels = (make_texture(48, seed=2) * 65535).astype(np.uint16)
    with open(path, "wb") as handle:
        png.Writer(48, 48, greyscale=False, bitdepth=16).write(handle, pixels.reshape(48, 48 * 3))


def write_cmyk(path: Path) -> None:
    Image.fromarray((make_texture(48, seed=3) * 255).astype(np.uint8)).convert("CMYK").save(path, "JPEG")


def write_palette(path: Path) -> None:
    image = Image.fromarray((make_texture(48, seed=4) * 255).astype(np.uint8)).convert("P", palette=Image.ADAPTIVE)
    image.save(path, transparency=0)


def write_alpha(path: Path) -> None:
    rgba = np.concatenate([(make_texture(48, seed=5) * 255).astype(np.uint8),
                           np.tile(np.linspace(0, 255, 48, dtype=np.uint8), (48, 1))[:, :, None]], axis=2)
    Image.fromarray(rgba, "RGBA").save(path)


def write_exif_rotated(path: Path) -> None:
    image = Image.fromarray((make_texture(48, seed=6) * 255).astype(np.uint8)).crop((0, 0, 48, 32))
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed turned 90 degrees clockwise: 32 wide, 48 high
    image.save(path, "JPEG", exif=exif)


def write_animated(path: Path) -> None:
    frames = [Image.fromarray((make_texture(48, seed=s) * 255).astype(np.uint8)) for s in (7, 8, 9)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)


# name -> (file name, writer, outcome, expected (height, width) when it loads)
IMAGE_CASES: dict[str, tuple[str, object, str, tuple[int, int] | None]] = {
    "corrupt": ("corrupt.png", write_corrupt, "refused", None),
    "truncated": ("truncated.png", write_truncated, "refused", None),
    "zero-byte": ("empty.jpg", write_zero_byte, "refused", None),
    "not-an-image": ("letter.png", write_not_an_image, "refused", None),
    "bomb": ("bomb.png", write_bomb, "refused", None),
    "1x1": ("dot.png", write_one_pixel, "refused", None),
    "10000x4": ("sliver.png", write_sliver, "refused", None),
    "16-bit": ("deep.png", write_16_bit, "loads", (48, 48)),
    "cmyk": ("print.jpg", write_cmyk, "loads", (48, 48)),
    "palette": ("indexed.png", write_palette, "loads", (48, 48)),
    "alpha": ("cutout.png", write_alpha, "loads", (48, 48)),
    "exif-rotated": ("phone.jpg", write_exif_rotated, "loads", (48, 32)),
    "animated": ("anim.gif", write_animated, "loads", (48, 48)),
}


def make_case(folder: Path, name: str) -> Path:
    file_name, writer, _, _ = IMAGE_CASES[name]
    path = folder / file_name
    writer(path)
    return path
