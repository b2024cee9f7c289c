"""Photo folders as training data: scan, load once, cut random augmented patches.

Two layouts: any folder of photos, searched recursively (autoencoder), or a folder whose
sub-folders are classes, as torchvision's ``ImageFolder`` reads it (classifier). Files
Pillow cannot read are skipped and counted, never fatal; a folder with nothing usable is
a ``DatasetError`` (defined in ``errors``, importable from here as before) with a one-line message.

Augmentation draws every random choice from a generator seeded by (seed, epoch,
position), not from torch's global RNG: the same seed gives the same patches, and a run
resumed in the middle of an epoch sees exactly the patches it would have seen.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torchvision.transforms.v2 import functional as TF

from texstudio.engine.errors import DatasetError, ImageLoadError
from texstudio.engine.imageio import DEFAULT_MAX_PIXELS, load_image, resize_longest_side, to_uint8


def image_suffixes() -> frozenset[str]:
    """Every file extension some Pillow plugin claims (".jpg", ".png", ".webp", ".tif", ...)."""
    return frozenset(Image.registered_extensions())


@dataclass
class FolderSummary:
    """What a scan found; shown in the GUI and written into the model's metadata."""

    folder: str
    images: list[str] = field(default_factory=list)  # paths relative to ``folder``
    labels: list[int] = field(default_factory=list)  # class index per image (classifier layout)
    classes: list[str] = field(default_factory=list)  # class names, sorted (ImageFolder's order)
    skipped: list[str] = field(default_factory=list)  # "relative/path: why", files that are not usable images

    @property
    def num_images(self) -> int:
        return len(self.images)

    def class_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(self.classes, 0)
        for label in self.labels:
            counts[self.classes[label]] += 1
        return counts

    def describe(self) -> str:
        """One line for a status bar: '12 images in 3 classes, 2 files skipped'."""
        text = f"{self.num_images} image{'s' if self.num_images != 1 else ''}"
        if self.classes:
            text += f" in {len(self.classes)} class{'es' if len(self.classes) != 1 else ''}"
        if self.skipped:
            text += f", {len(self.skipped)} file{'s' if len(self.skipped) != 1 else ''} skipped"
        single = [name for name, count in self.class_counts().items() if count == 1] if self.classes else []
        if single:
            text += (f"; {', '.join(single)} ha{'ve' if len(single) > 1 else 's'} a single image, "
                     "so none is held out to validate")
        return text

    def to_dict(self) -> dict:
        return {
            "folder": self.folder,
            "images": self.num_images,
            "classes": self.class_counts() if self.classes else {},
            "skipped": len(self.skipped),
            "skipped_examples": self.skipped[:20],
        }


def _check_header(path: Path) -> str | None:
    """Why ``path`` is not a readable image judged by its header, or None if it looks fine.

    Only the header is read: fast enough to run on every folder the user points at. A
    file with a sound header but corrupt pixels is caught later, when it is decoded.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's notes on what it works around are not reasons
            with Image.open(path) as image:
                width, height = image.size
        if width < 1 or height < 1:
            return "empty image"
        if width * height > DEFAULT_MAX_PIXELS:
            return f"{width}x{height} is over the {DEFAULT_MAX_PIXELS // 1_000_000}-megapixel limit"
    except Image.DecompressionBombError:  # Pillow's own, far larger limit: not an OSError
        return f"over the {DEFAULT_MAX_PIXELS // 1_000_000}-megapixel limit"
    except UnidentifiedImageError:
        return "not an image Pillow can read"
    except OSError as exc:
        # strerror ("Permission denied") without the path the caller already shows.
        return f"unreadable ({exc.strerror or _first_line(exc)})"
    except (ValueError, SyntaxError, EOFError) as exc:
        return f"unreadable ({_first_line(exc)})"
    return None


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__


def list_files(root: Path, skipped: list[str]) -> list[Path]:
    """Every non-hidden regular file below ``root``, sorted, following folder links once each.

    A link back to a folder already listed (a loop, or a second way into the same photos)
    is not followed; it, dangling links, unlistable folders and special files go into
    ``skipped`` with the reason, so a scan always ends and says what it left out.
    """
    files: list[Path] = []
    seen: set[tuple[int, int]] = set()
    pending = [root]
    while pending:
        folder = pending.pop()
        relative = folder.relative_to(root)
        try:
            info = folder.stat()
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as exc:
            skipped.append(f"{relative}/: folder cannot be listed ({exc.strerror or _first_line(exc)})")
            continue
        if (info.st_dev, info.st_ino) in seen:
            skipped.append(f"{relative}: link to a folder already scanned (a loop or a duplicate), not followed")
            continue
        seen.add((info.st_dev, info.st_ino))
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = folder / entry.name
            try:
                if entry.is_dir():
                    pending.append(path)
                    continue
                if entry.is_file():
                    files.append(path)
                    continue
                why = "broken link" if entry.is_symlink() else "not a regular file"
            except OSError as exc:  # a link loop: ELOOP
                why = f"unreadable link ({exc.strerror or _first_line(exc)})"
            skipped.append(f"{path.relative_to(root)}: {why}")
    return sorted(files)


def _check_folder(folder: Path) -> None:
    if not folder.exists():
        raise DatasetError(f"no such folder: {folder}")
    if not folder.is_dir():
        raise DatasetError(f"{folder} is a file, not a folder of photos")


def scan_folder(folder: str | os.PathLike, objective: str = "autoencoder") -> FolderSummary:
    """List the usable images under ``folder`` for an objective, counting what is skipped.

    ``autoencoder``: every image below ``folder``, recursively. ``classifier``: each
    sub-folder is a class (``torchvision.datasets.ImageFolder``'s layout and class order);
    images directly in ``folder`` are not in any class and are skipped.
    Raises DatasetError when the folder is missing or has nothing usable.
    """
    root = Path(folder).expanduser()
    _check_folder(root)
    summary = FolderSummary(folder=str(root))
    files = list_files(root, summary.skipped)
    if not files:
        left_out = f" ({len(summary.skipped)} entries skipped, e.g. {summary.skipped[0]})" if summary.skipped else ""
        raise DatasetError(f"folder {root} is empty{left_out}")
    suffixes = image_suffixes()

    def usable(path: Path) -> bool:
        relative = str(path.relative_to(root))
        if path.suffix.lower() not in suffixes:
            summary.skipped.append(f"{relative}: not an image file")
            return False
        why = _check_header(path)
        if why:
            summary.skipped.append(f"{relative}: {why}")
            return False
        return True

    if objective == "classifier":
        # ImageFolder's own class discovery, so the class order is the one torchvision users know.
        from torchvision.datasets.folder import find_classes

        try:
            classes, class_to_index = find_classes(str(root))
        except FileNotFoundError:  # no sub-folders at all
            classes, class_to_index = [], {}
        for path in files:
            parts = path.relative_to(root).parts
            if len(parts) < 2 or parts[0] not in class_to_index:
                summary.skipped.append(f"{path.relative_to(root)}: not inside a class sub-folder")
            elif usable(path):
                summary.images.append(str(path.relative_to(root)))
                summary.labels.append(class_to_index[parts[0]])
        # A class with no usable image cannot be learned or scored: leave it out.
        present = sorted(set(summary.labels))
        remap = {old: new for new, old in enumerate(present)}
        summary.classes = [classes[i] for i in present]
        summary.labels = [remap[label] for label in summary.labels]
    else:
        for path in files:
            if usable(path):
                summary.images.append(str(path.relative_to(root)))

    if objective == "classifier" and len(summary.classes) < 2:
        found = f"only {summary.classes[0]!r}" if summary.classes else "none"
        raise DatasetError(
            f"the classifier needs at least 2 class sub-folders with images in {root}; found {found}"
        )
    if not summary.images:
        raise DatasetError(
            f"no usable images in {root} ({len(summary.skipped)} file(s) skipped, e.g. {summary.skipped[0]})"
        )
    return summary


def split_indices(labels: Sequence[int], count: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Hold out about ``val_fraction`` of the images, per class, so validation sees unseen photos.

    Each class keeps at least one training image; with a single image there is no
    validation set (an empty list), and the caller reports validation as unavailable.
    """
    rng = np.random.default_rng(seed)
    groups: dict[int, list[int]] = {}
    for index in range(count):
        groups.setdefault(labels[index] if labels else 0, []).append(index)
    train, val = [], []
    for members in groups.values():
        members = list(rng.permutation(members))
        held = min(len(members) - 1, int(round(len(members) * val_fraction)))
        if val_fraction > 0 and held == 0 and len(members) >= 3:
            held = 1
        val += members[:held]
        train += members[held:]
    return sorted(int(i) for i in train), sorted(int(i) for i in val)


class PatchAugment:
    """Random crop, flips, 90-degree rotations and optional colour jitter, with torchvision's ops.

    Flips and quarter turns are exact symmetries of most textures: they multiply the
    data eight-fold without inventing pixels. Colour jitter is optional because colour
    is often what distinguishes one material from another.
    """

    def __init__(self, patch_size: int, flips: bool = True, rotations: bool = True, color_jitter: float = 0.0) -> None:
        self.patch_size = patch_size
        self.flips = flips
        self.rotations = rotations
        self.color_jitter = color_jitter

    def __call__(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """(3, H, W) uint8 with H, W >= patch size -> (3, P, P) float32 in [0, 1]."""

        def uniform() -> float:
            return float(torch.rand((), generator=generator))

        size = self.patch_size
        height, width = image.shape[-2:]
        top = int(torch.randint(0, height - size + 1, (), generator=generator))
        left = int(torch.randint(0, width - size + 1, (), generator=generator))
        patch = TF.crop(image, top, left, size, size)
        if self.flips and uniform() < 0.5:
            patch = TF.horizontal_flip(patch)
        if self.rotations:
            turns = int(torch.randint(0, 4, (), generator=generator))
            if turns:
                patch = torch.rot90(patch, turns, dims=(-2, -1))
        patch = TF.to_dtype(patch, torch.float32, scale=True)
        if self.color_jitter > 0:
            s = self.color_jitter
            patch = TF.adjust_brightness(patch, 1 + s * (2 * uniform() - 1))
            patch = TF.adjust_contrast(patch, 1 + s * (2 * uniform() - 1))
            patch = TF.adjust_saturation(patch, 1 + s * (2 * uniform() - 1))
            patch = TF.adjust_hue(patch, 0.1 * s * (2 * uniform() - 1))
        return patch.clamp(0, 1).contiguous()


def center_patch(image: torch.Tensor, size: int) -> torch.Tensor:
    """The deterministic validation view of an image: its central patch, float in [0, 1]."""
    return TF.to_dtype(TF.center_crop(image, [size, size]), torch.float32, scale=True).contiguous()


class PhotoDataset:
    """The images of a scan, decoded once and kept as uint8 tensors, ready for patch cutting.

    Photos larger than ``max_side`` are shrunk (bounding memory: a 12-megapixel photo is
    36 MB as uint8); photos smaller than the patch are enlarged so one patch fits.
    Files that fail to decode are moved to the summary's skipped list.
    """

    def __init__(self, summary: FolderSummary, patch_size: int, max_side: int = 1024) -> None:
        self.summary = summary
        self.patch_size = patch_size
        root = Path(summary.folder)
        images, labels, names = [], [], []
        for index, relative in enumerate(summary.images):
            try:
                array = load_image(root / relative)
            except ImageLoadError as exc:
                summary.skipped.append(f"{relative}: {exc}")
                continue
            array = resize_longest_side(array, max_side)
            images.append(self._ensure_fits(array, patch_size))
            names.append(relative)
            if summary.labels:
                labels.append(summary.labels[index])
        if not images:
            raise DatasetError(f"no usable images in {root}: none could be decoded ({len(summary.skipped)} "
                               f"file(s) skipped, e.g. {summary.skipped[-1]})")
        summary.images, summary.labels = names, labels
        self.images = images
        self.labels = labels

    @staticmethod
    def _ensure_fits(array: np.ndarray, size: int) -> torch.Tensor:
        height, width = array.shape[:2]
        if min(height, width) < size:
            scale = size / min(height, width)
            new = (max(size, round(width * scale)), max(size, round(height * scale)))
            array = np.asarray(Image.fromarray(to_uint8(array)).resize(new, Image.BICUBIC), dtype=np.float32) / 255.0
        return torch.from_numpy(to_uint8(array)).permute(2, 0, 1).contiguous()

    def __len__(self) -> int:
        return len(self.images)

    def channel_stats(self) -> tuple[list[float], list[float]]:
        """Per-channel mean and standard deviation over all pixels, for input normalisation."""
        total = torch.zeros(3, dtype=torch.float64)
        squares = torch.zeros(3, dtype=torch.float64)
        count = 0
        for image in self.images:
            pixels = image.reshape(3, -1).double() / 255.0
            total += pixels.sum(dim=1)
            squares += pixels.pow(2).sum(dim=1)
            count += pixels.shape[1]
        mean = total / count
        std = (squares / count - mean.pow(2)).clamp_min(1e-6).sqrt()
        return [round(float(v), 6) for v in mean], [round(float(v), 6) for v in std]
