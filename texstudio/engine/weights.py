"""Known network weights: where they come from, where they are, and loading them safely.

Nothing here touches the network: weights are used when a file is already present, and
``download`` (in ``texstudio.engine.download``) runs only when the user asks for it.
The registry is ``weights/manifest.json``; each entry names a file, its source URL, its
size, its SHA-256 and its licence.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
import zipfile
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import torch

from texstudio import paths
from texstudio.engine.cancel import StopToken
from texstudio.engine.download import download, iter_sha256, sha256_of
from texstudio.engine.errors import BackboneError

# torchvision's own file name for ImageNet VGG19, so a copy in torch's hub cache is found.
VGG19_IMAGENET = "vgg19-dcbb9e9d.pth"

PRESENT, MISSING, CORRUPT = "present", "missing", "corrupt"


class WeightsError(BackboneError):
    """The registry is unreadable or names no such weights."""


@dataclass(frozen=True)
class WeightsEntry:
    """One known weights file, as the manifest describes it."""

    name: str  # what the user types: ``texstudio weights download NAME``
    file: str  # file name looked for in every folder of the search path
    url: str  # where a download fetches it from when no --from is given
    size: int | None  # bytes; a quick first check, and what a progress bar shows
    sha256: str | None  # full hex digest; the file is placed only if it matches
    sha256_prefix: str | None  # for files whose full digest is not published (torchvision's check)
    licence: str
    description: str = ""
    backbone: str = ""  # which built-in backbone uses it

    @classmethod
    def from_json(cls, data: dict) -> WeightsEntry:
        try:
            entry = cls(
                name=str(data["name"]), file=str(data["file"]), url=str(data.get("url", "")),
                size=int(data["size"]) if data.get("size") is not None else None,
                sha256=str(data["sha256"]).lower() if data.get("sha256") else None,
                sha256_prefix=str(data["sha256_prefix"]).lower() if data.get("sha256_prefix") else None,
                licence=str(data.get("licence", "unknown")), description=str(data.get("description", "")),
                backbone=str(data.get("backbone", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise WeightsError(f"weights manifest entry {data!r:.60} is malformed ({exc})") from None
        if Path(entry.file).name != entry.file:
            # A manifest must never be able to make a download write outside the weights folder.
            raise WeightsError(f"weights manifest entry {entry.name!r} has a file name with a folder in it")
        if not entry.sha256 and not entry.sha256_prefix:
            raise WeightsError(f"weights manifest entry {entry.name!r} has no checksum")
        return entry

    def matches_digest(self, digest: str) -> bool:
        if self.sha256:
            return digest.lower() == self.sha256
        return digest.lower().startswith(self.sha256_prefix or "\0")


@dataclass(frozen=True)
class WeightsStatus:
    """Where an entry's file is and whether it is the registered file."""

    entry: WeightsEntry
    state: str  # PRESENT, MISSING or CORRUPT
    path: Path | None  # the file the backbone would load (first in the search order)
    size: int | None  # bytes on disk
    hashed: bool  # True when the SHA-256 was checked (now or earlier, from the cache)
    detail: str = ""  # why it is corrupt, in words


class Registry:
    """The known weights, by name, in manifest order."""

    def __init__(self, entries) -> None:
        self.entries: dict[str, WeightsEntry] = {}
        for entry in entries:
            self.entries[entry.name] = entry

    def __iter__(self):
        return iter(self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)

    def names(self) -> list[str]:
        return list(self.entries)

    def get(self, name: str) -> WeightsEntry:
        try:
            return self.entries[name]
        except KeyError:
            known = ", ".join(self.entries) or "none"
            raise WeightsError(f"unknown weights {name!r}; known: {known}") from None


def load_registry(manifest: str | Path | None = None) -> Registry:
    """Read the weights manifest (default ``weights/manifest.json`` next to the code)."""
    path = Path(manifest) if manifest is not None else paths.weights_manifest_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WeightsError(f"the weights manifest {path} is missing; reinstall texstudio") from None
    except (OSError, ValueError) as exc:
        raise WeightsError(f"the weights manifest {path} cannot be read ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("weights"), list):
        raise WeightsError(f"the weights manifest {path} has no 'weights' list")
    return Registry(WeightsEntry.from_json(item) for item in data["weights"])


def weights_search_path() -> list[Path]:
    """Folders searched for weights, in order: the repo's weights/, the user's, torch's cache."""
    return [paths.repo_weights_dir(), paths.user_weights_dir(), paths.torch_hub_checkpoints_dir()]


def find_weights_file(filename: str) -> Path | None:
    """The first file called ``filename`` in the search path, or None. Never reads it."""
    for folder in weights_search_path():
        candidate = folder / filename
        if candidate.is_file():
            return candidate
    return None


def download_destination(entry: WeightsEntry) -> Path:
    """Downloads go to the user data folder: always writable, and outside any checkout."""
    return paths.user_weights_dir() / entry.file


# --- verified-hash cache -------------------------------------------------------------
# Hashing 548 MB takes seconds, too slow for every `weights list` or dialog refresh. A
# digest is remembered for a (path, size, mtime) triple: a file changed in any way that
# matters gets a new mtime or size and is hashed again. Downloads record the digest they
# just verified, so a fresh download never needs re-hashing.

def _hash_cache_path() -> Path:
    return paths.user_data_dir() / "weights-sha256.json"


def _cache_key(path: Path) -> tuple[str, dict]:
    stat = path.stat()
    return str(path.resolve()), {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _read_hash_cache() -> dict:
    try:
        data = json.loads(_hash_cache_path().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}  # a lost or damaged cache only costs a re-hash


def cached_sha256(path: Path) -> str | None:
    """The digest recorded for this exact file (same size and mtime), if any."""
    try:
        key, stamp = _cache_key(path)
    except OSError:
        return None
    record = _read_hash_cache().get(key)
    if isinstance(record, dict) and all(record.get(k) == v for k, v in stamp.items()):
        digest = record.get("sha256")
        return digest if isinstance(digest, str) else None
    return None


def remember_sha256(path: Path, digest: str) -> None:
    """Record a digest for this file; best effort, failures only mean re-hashing later."""
    try:
        key, stamp = _cache_key(path)
        cache = _read_hash_cache()
        cache[key] = {**stamp, "sha256": digest}
        target = _hash_cache_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=target.parent, prefix=".weights-sha256.", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(cache, out, indent=1)
        os.replace(temp, target)
    except OSError:
        pass


def iter_status(entry: WeightsEntry, verify: bool = False,
                stop: StopToken | None = None) -> Generator[tuple[int, int | None], None, WeightsStatus]:
    """Find ``entry``'s file and judge it; yields hashing progress when it must hash.

    Without ``verify`` only the size and any cached digest are checked (instant); with
    it an unhashed file is hashed (seconds for VGG19) and the digest cached.
    """
    path = find_weights_file(entry.file)
    if path is None:
        return WeightsStatus(entry, MISSING, None, None, hashed=False)
    size = path.stat().st_size
    if entry.size is not None and size != entry.size:
        return WeightsStatus(entry, CORRUPT, path, size, hashed=False,
                             detail=f"{size} bytes, expected {entry.size}")
    digest = cached_sha256(path)
    if digest is None and verify:
        digest = yield from iter_sha256(path, stop)
        remember_sha256(path, digest)
    if digest is None:
        return WeightsStatus(entry, PRESENT, path, size, hashed=False)
    if not entry.matches_digest(digest):
        return WeightsStatus(entry, CORRUPT, path, size, hashed=True,
                             detail=f"SHA-256 {digest[:16]}... does not match the registry")
    return WeightsStatus(entry, PRESENT, path, size, hashed=True)


def weights_status(entry: WeightsEntry, verify: bool = False) -> WeightsStatus:
    """``iter_status`` run to the end, for callers that need no progress."""
    from texstudio.engine.generators import drive

    return drive(iter_status(entry, verify))


def download_weights(entry: WeightsEntry, stop: StopToken, source: str | Path | None = None,
                     dest: Path | None = None) -> Generator[tuple[int, int | None], None, Path]:
    """Fetch ``entry`` from its URL (or ``source``: another URL or a local file) into the user folder.

    Yields (bytes done, bytes total); the file is verified against the registry's size
    and SHA-256 before it is placed, and its digest is cached so ``list`` trusts it.
    """
    dest = dest or download_destination(entry)
    placed = yield from download(source or entry.url, dest, entry.sha256, stop,
                                 size=entry.size, sha256_prefix=entry.sha256_prefix)
    if entry.sha256:
        remember_sha256(placed, entry.sha256)
    else:
        # With only a prefix known, cache the real digest (a re-hash of a fresh file is cheap
        # compared with the download, and it keeps the cache honest).
        remember_sha256(placed, sha256_of(placed))
    return placed


def vgg19_weights_notice() -> str | None:
    """A one-line notice when VGG19 will run on random weights for lack of the ImageNet file.

    Front ends show it (the CLI on stderr, the GUI in its status area); None when the
    file is present. It only looks at the disk, never the network.
    """
    if find_weights_file(VGG19_IMAGENET) is not None:
        return None
    return (
        f"ImageNet VGG19 weights ({VGG19_IMAGENET}) not found; vgg19 uses seeded random weights. "
        "Get them with `texstudio weights download vgg19` (548 MB) or the studio's Weights dialog."
    )


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Load tensors from a safetensors or torch file; pickled code is refused, not run."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            state = load_file(str(path))
        else:
            # weights_only=True unpickles tensors and plain containers only: a payload that
            # would call a function raises instead of executing.
            state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, zipfile.BadZipFile, EOFError, OSError, ValueError,
            SafetensorError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BackboneError(f"{path} is not a usable weights file: {first_line}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BackboneError(f"{path} does not hold a dictionary of tensors")
    return state
