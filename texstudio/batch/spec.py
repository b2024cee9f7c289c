"""What a batch is asked to do: a folder of exemplars, or a JSON/TOML job file.

A job file names the axes whose product is the batch; every key but ``exemplars`` is
optional, and what it leaves out comes from the command line (or the GUI's settings)::

    exemplars = ["photos", "more/bark.jpg"]  # files, or folders (their images, not recursive)
    sizes = [256, "512x256"]                  # output sizes, width x height
    seeds = [0, 1, 2]                         # or: variations = 3 (seeds S..S+2 from --seed)
    [[settings]]                              # each entry: SynthConfig fields over the defaults
    name = "sw"
    [[settings]]
    name = "gram"
    gram_weight = 1.0
    sw_weight = 0.0

Relative paths are relative to the job file. Mistakes here raise ConfigError before any
work starts; an exemplar that turns out unreadable only fails its own jobs.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from texstudio.engine.config import SynthConfig, parse_size
from texstudio.engine.errors import ConfigError

SPEC_KEYS = ("exemplars", "settings", "seeds", "variations", "sizes")
# The axes own these: a settings entry that set them would fight the product.
AXIS_FIELDS = ("seed", "width", "height")
MAX_VARIATIONS = 10_000


@dataclass(frozen=True)
class SettingsEntry:
    name: str  # shown in the summary; "" for the one unnamed entry of a folder spec
    changes: dict  # SynthConfig field -> value, applied over the base settings


@dataclass(frozen=True)
class BatchSpec:
    source: Path
    exemplars: tuple[Path, ...]
    settings: tuple[SettingsEntry, ...] = (SettingsEntry("", {}),)
    seeds: tuple[int, ...] | None = None  # None: from --seed and --variations
    variations: int | None = None
    sizes: tuple[tuple[int, int], ...] | None = None  # None: the base settings' size


def read_spec(source: str | Path) -> BatchSpec:
    """Read SPEC: a folder of exemplars, or a ``.json`` / ``.toml`` job file."""
    path = Path(source).expanduser()
    if path.is_dir():
        return BatchSpec(source=path, exemplars=tuple(images_in_folder(path)))
    if not path.exists():
        raise ConfigError(f"no such folder or job file: {path}")
    suffix = path.suffix.lower()
    if suffix not in (".json", ".toml"):
        raise ConfigError(f"{path.name}: a batch SPEC is a folder of exemplars, or a .json or .toml job file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read job file {path}: {exc}") from None
    try:
        if suffix == ".json":
            data = json.loads(text)
        else:
            try:
                import tomllib
            except ImportError:  # Python 3.10: the same parser, from PyPI
                import tomli as tomllib

            data = tomllib.loads(text)
    except (ValueError, json.JSONDecodeError) as exc:  # TOMLDecodeError is a ValueError
        raise ConfigError(f"{path.name} is not valid {suffix[1:].upper()}: {exc}") from None
    return parse_job_file(data, path)


def images_in_folder(folder: Path) -> list[Path]:
    """The image files directly in ``folder`` (hidden files left out), sorted by name."""
    from texstudio.engine.dataset import image_suffixes

    suffixes = image_suffixes()
    # Hidden files include macOS's "._name.jpg" companions, which are not images.
    found = sorted(p for p in folder.iterdir()
                   if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in suffixes)
    if not found:
        raise ConfigError(f"no image files in {folder}")
    return found


def parse_job_file(data, path: Path) -> BatchSpec:
    """Check a job file's content (already parsed from JSON/TOML) and resolve its paths."""
    name = path.name
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: the job file must be a table/object with an 'exemplars' key")
    unknown = sorted(set(data) - set(SPEC_KEYS))
    if unknown:
        raise ConfigError(f"{name}: unknown key(s) {', '.join(unknown)}; known: {', '.join(SPEC_KEYS)}")
    return BatchSpec(
        source=path,
        exemplars=tuple(_exemplars(data.get("exemplars"), path.parent, name)),
        settings=_settings(data.get("settings"), name),
        seeds=_seeds(data.get("seeds"), name),
        variations=_variations(data.get("variations"), name),
        sizes=_sizes(data.get("sizes"), name),
    )


def _as_list(value, key: str, name: str) -> list:
    if isinstance(value, (str, int, dict)) and not isinstance(value, bool):
        return [value]  # one exemplar, size or settings entry may be written without brackets
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{name}: '{key}' must be a non-empty list")
    return value


def _exemplars(value, base: Path, name: str) -> list[Path]:
    if value is None:
        raise ConfigError(f"{name}: 'exemplars' is missing (a list of image files and/or folders)")
    paths: list[Path] = []
    for item in _as_list(value, "exemplars", name):
        if not isinstance(item, str) or not item.strip():
            raise ConfigError(f"{name}: every exemplar must be a path, got {item!r}")
        path = Path(item).expanduser()
        path = path if path.is_absolute() else base / path
        if path.is_dir():
            paths += images_in_folder(path)
        elif path.is_file():
            paths.append(path)
        else:
            # A typo in the list: say so now rather than fail one job per seed and size later.
            raise ConfigError(f"{name}: exemplar {item!r} does not exist ({path})")
    return paths


def _settings(value, name: str) -> tuple[SettingsEntry, ...]:
    if value is None:
        return (SettingsEntry("", {}),)
    known = {f.name for f in dataclasses.fields(SynthConfig)}
    entries = []
    for number, item in enumerate(_as_list(value, "settings", name), start=1):
        if not isinstance(item, dict):
            raise ConfigError(f"{name}: settings entry {number} must be a table/object of settings")
        changes = dict(item)
        label = changes.pop("name", f"settings{number}")
        if not isinstance(label, str):
            raise ConfigError(f"{name}: settings entry {number}: 'name' must be text")
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigError(f"{name}: settings '{label}': unknown setting(s) {', '.join(unknown)}")
        on_axis = sorted(set(changes) & set(AXIS_FIELDS))
        if on_axis:
            raise ConfigError(f"{name}: settings '{label}': {', '.join(on_axis)} belong in 'seeds' / 'sizes'")
        entries.append(SettingsEntry(label, changes))
    labels = [entry.name for entry in entries]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"{name}: settings names must differ, got {labels}")
    return tuple(entries)


def _seeds(value, name: str) -> tuple[int, ...] | None:
    if value is None:
        return None
    seeds = _as_list(value, "seeds", name)
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise ConfigError(f"{name}: 'seeds' must be whole numbers >= 0, got {seeds}")
    return tuple(dict.fromkeys(seeds))  # a repeated seed would be the same job twice


def _variations(value, name: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_VARIATIONS:
        raise ConfigError(f"{name}: 'variations' must be a whole number from 1 to {MAX_VARIATIONS}, got {value!r}")
    return value


def _sizes(value, name: str) -> tuple[tuple[int, int], ...] | None:
    if value is None:
        return None
    sizes = []
    for item in _as_list(value, "sizes", name):
        if isinstance(item, list) and len(item) == 2 and all(isinstance(v, int) for v in item):
            sizes.append((item[0], item[1]))
        elif isinstance(item, (int, str)) and not isinstance(item, bool):
            try:
                sizes.append(parse_size(str(item)))
            except ConfigError as exc:
                raise ConfigError(f"{name}: {exc}") from None
        else:
            raise ConfigError(f"{name}: a size is 256, \"512x256\" or [512, 256], got {item!r}")
    return tuple(dict.fromkeys(sizes))
