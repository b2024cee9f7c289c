"""Read photos as RGB float arrays; write PNG/TIFF and JSON sidecars atomically.

Arrays crossing this module are numpy ``float32`` of shape (H, W, 3) in [0, 1].
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from texstudio.engine.errors import ExportError, ImageLoadError, OutputExistsError

# 64 megapixels: a 8000x8000 photo loads, a decompression bomb does not.
DEFAULT_MAX_PIXELS = 64_000_000
SAVE_SUFFIXES = (".png", ".tif", ".tiff")


def load_image(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Load any Pillow-readable image as RGB float32 (H, W, 3) in [0, 1].

    EXIF orientation is applied; grey, alpha, palette, CMYK and 16-bit images are
    converted; animated images give their first frame.
    """
    path = Path(path)
    if not path.exists():
        raise ImageLoadError(f"no such file: {path}")
    if path.is_dir():
        raise ImageLoadError(f"{path} is a folder, not an image")
    try:
        # Pillow's own bomb check warns or raises on its own limit; ours is the one that counts.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            saved_limit = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None
            try:
                image = Image.open(path)
            finally:
                Image.MAX_IMAGE_PIXELS = saved_limit
            with image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageLoadError(
                        f"{path.name} is {width}x{height} ({width * height / 1e6:.0f} megapixels); "
                        f"the limit is {max_pixels / 1e6:.0f} megapixels"
                    )
                image.seek(0)
                image = ImageOps.exif_transpose(image)
                return _to_rgb_float(image)
    except ImageLoadError:
        raise
    except UnidentifiedImageError:
        raise ImageLoadError(f"{path.name} is not an image Pillow can read") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        # Truncated or corrupt files surface as one of these from Pillow's decoders.
        raise ImageLoadError(f"{path.name} could not be read: {exc}") from None


def _to_rgb_float(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit grey: keep the precision Pillow would drop in convert("RGB").
        grey = np.asarray(image, dtype=np.float32)
        scale = 65535.0 if mode != "I" or grey.max(initial=0) > 255 else 255.0
        grey = np.clip(grey / scale, 0.0, 1.0)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "F":
        grey = np.asarray(image, dtype=np.float32)
        lo, hi = float(np.nanmin(grey)), float(np.nanmax(grey))
        grey = (grey - lo) / (hi - lo) if hi > lo else np.zeros_like(grey)
        return np.repeat(np.nan_to_num(grey)[:, :, None], 3, axis=2)
    has_alpha = mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info)
    if has_alpha:
        # Transparent pixels carry arbitrary colours: composite on white so they do not leak in.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    rgb = image.convert("RGB")
    return np.asarray(rgb, dtype=np.float32) / 255.0


def resize_longest_side(image: np.ndarray, longest: int) -> np.ndarray:
    """Downscale (never upscale) so that the longer side is at most ``longest`` pixels."""
    height, width = image.shape[:2]
    if longest <= 0 or max(height, width) <= longest:
        return image
    scale = longest / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    pil = Image.fromarray(to_uint8(image))
    # LANCZOS on 8-bit is enough for an exemplar; it anti-aliases the downscale.
    return np.asarray(pil.resize(size, Image.LANCZOS), dtype=np.float32) / 255.0


def to_uint8(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def to_uint16(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16)


def check_writable(path: str | os.PathLike, overwrite: bool) -> Path:
    """Fail early, before any work, if ``path`` cannot or may not be written."""
    path = Path(path)
    if path.suffix.lower() not in SAVE_SUFFIXES:
        raise ExportError(f"cannot save {path.name}: use a .png, .tif or .tiff name")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists; choose another name or allow overwriting")
    if not path.parent.exists():
        raise ExportError(f"folder {path.parent} does not exist")
    return path


def save_image(path: str | os.PathLike, image: np.ndarray, bit_depth: int = 8, overwrite: bool = False) -> Path:
    """Write PNG or TIFF (8 or 16 bit) atomically: a temp file in the same folder, then rename."""
    path = check_writable(path, overwrite)
    if bit_depth not in (8, 16):
        raise ExportError(f"bit depth must be 8 or 16, got {bit_depth}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) array, got shape {image.shape}")
    pixels = to_uint16(image) if bit_depth == 16 else to_uint8(image)
    suffix = path.suffix.lower()

    def write(handle) -> None:
        if suffix in (".tif", ".tiff"):
            import tifffile  # imported here: only TIFF exports need it

            # tifffile wants a named file or a seekable buffer; the temp file's fd has no name.
            buffer = io.BytesIO()
            tifffile.imwrite(buffer, pixels, photometric="rgb", compression="zlib")
            handle.write(buffer.getvalue())
        elif bit_depth == 16:
            import png  # pypng: Pillow cannot write 16-bit RGB PNG

            height, width = pixels.shape[:2]
            writer = png.Writer(width, height, greyscale=False, bitdepth=16)
            writer.write(handle, pixels.reshape(height, width * 3))
        else:
            Image.fromarray(pixels).save(handle, format="PNG")

    _atomic_write(path, write, binary=True, overwrite=overwrite)
    return path


def write_sidecar(path: str | os.PathLike, data: dict[str, Any], overwrite: bool = False) -> Path:
    """Write the JSON sidecar next to an export (same atomic rule)."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists; choose another name or allow overwriting")
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    _atomic_write(path, lambda handle: handle.write(text), binary=False, overwrite=overwrite)
    return path


def sidecar_path(image_path: str | os.PathLike) -> Path:
    return Path(image_path).with_suffix(".json")


def _atomic_write(path: Path, write, binary: bool, overwrite: bool) -> None:
    """Write through a temp file in the target folder, fsync, then move it into place.

    A crash or full disk leaves the previous file (if any) untouched and no partial file.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        if not overwrite and path.exists():
            raise OutputExistsError(f"{path} appeared while writing; not overwritten")
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
