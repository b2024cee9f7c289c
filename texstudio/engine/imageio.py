"""Read photos as RGB float arrays; write PNG/TIFF and JSON sidecars atomically.

Arrays crossing this module are numpy ``float32`` of shape (H, W, 3) in [0, 1].
"""

from __future__ import annotations

import glob
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
# Below this an exemplar holds no texture, and deep layers see a single position.
MIN_EXEMPLAR_SIDE = 16
SAVE_SUFFIXES = (".png", ".tif", ".tiff")


def load_image(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS, min_side: int = 1) -> np.ndarray:
    """Load any Pillow-readable image as RGB float32 (H, W, 3) in [0, 1].

    EXIF orientation is applied; grey, alpha, palette, CMYK and 16-bit images are
    converted; animated images give their first frame. An image with a side shorter
    than ``min_side`` is refused (exemplars pass ``MIN_EXEMPLAR_SIDE``).
    """
    path = Path(path)
    if not path.exists():
        raise ImageLoadError(f"no such file: {path}")
    if path.is_dir():
        raise ImageLoadError(f"{path} is a folder, not an image")
    if not path.is_file():
        # A pipe or a device: reading it could block forever or never end.
        raise ImageLoadError(f"{path} is not a regular file")
    try:
        # Pillow warns about what it works around (corrupt EXIF, a bomb below its own limit,
        # whose check ours replaces): a warning is not a message for the user, an error is.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
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
                if min(width, height) < min_side:
                    raise ImageLoadError(
                        f"{path.name} is {width}x{height} px; an exemplar needs at least {min_side} px "
                        "on each side to hold any texture"
                    )
                image.seek(0)
                image = ImageOps.exif_transpose(image)
                return _to_rgb_float(image)
    except ImageLoadError:
        raise
    except UnidentifiedImageError:
        raise ImageLoadError(f"{path.name} is not an image Pillow can read") from None
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        # Truncated or corrupt files surface as one of these from Pillow's decoders.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ImageLoadError(f"{path.name} could not be read: {reason}") from None


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


def longest_side_shape(shape: tuple[int, int], longest: int) -> tuple[int, int]:
    """The (height, width) resize_longest_side gives an image of ``shape``."""
    height, width = shape
    if longest <= 0 or max(height, width) <= longest:
        return height, width
    scale = longest / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_longest_side(image: np.ndarray, longest: int) -> np.ndarray:
    """Downscale (never upscale) so that the longer side is at most ``longest`` pixels."""
    height, width = longest_side_shape(image.shape[:2], longest)
    if (height, width) == image.shape[:2]:
        return image
    size = (width, height)
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
    if not path.parent.is_dir():
        raise ExportError(f"folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise ExportError(f"cannot write to folder {path.parent}: it is read-only or not yours")
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
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    return write_text(path, text, overwrite)


def write_text(path: str | os.PathLike, text: str, overwrite: bool = False) -> Path:
    """Write a UTF-8 text file (CSV, JSON) with the same atomic rule as images."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists; choose another name or allow overwriting")
    _atomic_write(path, lambda handle: handle.write(text), binary=False, overwrite=overwrite)
    return path


def sidecar_path(image_path: str | os.PathLike) -> Path:
    return Path(image_path).with_suffix(".json")


def _current_umask() -> int:
    mask = os.umask(0o022)  # the only portable way to read it is to set it and put it back
    os.umask(mask)
    return mask


_UMASK = _current_umask()  # read once, at import, before any worker thread exists


def _atomic_write(path: Path, write, binary: bool, overwrite: bool) -> None:
    """Write through a temp file in the target folder, fsync, then move it into place.

    A full disk or a read-only folder leaves the previous file (if any) untouched and no
    partial file, and is an ExportError saying why. A process killed mid-write can leave
    only a hidden ``.NAME.PID.*.part``, which the next write of NAME removes.
    """
    _remove_stale_parts(path)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise ExportError(f"could not write {path}: {exc.strerror or exc}; nothing was written") from None
    try:
        with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8") as handle:
            write(handle)
            handle.flush()
            if hasattr(os, "fchmod"):  # mkstemp makes 0600; an export should get the usual permissions
                os.fchmod(handle.fileno(), 0o666 & ~_UMASK)
            os.fsync(handle.fileno())
        if not overwrite and path.exists():
            raise OutputExistsError(f"{path} appeared while writing; not overwritten")
        os.replace(tmp_name, path)
    except BaseException as exc:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            # ENOSPC, EFBIG, EROFS, EACCES...: the user can act on the reason, not the traceback.
            raise ExportError(f"could not write {path}: {exc.strerror or exc}; nothing was written") from None
        raise


def _remove_stale_parts(path: Path) -> None:
    """Delete temp files that a killed texstudio left for ``path`` (their writer's pid is gone)."""
    if os.name != "posix":
        return  # os.kill(pid, 0) would not probe the process there
    for part in path.parent.glob(f".{glob.escape(path.name)}.*.part"):
        pid = part.name[len(path.name) + 2:].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _pid_alive(int(pid)):
            continue
        try:
            part.unlink()
        except OSError:
            pass  # another writer's business, or already gone


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OverflowError, OSError):
        return True  # someone else's (EPERM), or cannot tell: leave its file alone
    return True
