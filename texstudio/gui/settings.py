"""The GUI's remembered state: one JSON file in ``user_config_dir()``. Qt-free.

A file that cannot be read or no longer validates (hand-edited, or written by another
version) gives the defaults, keeps a ``.corrupt`` copy, and says so once. Paths and
dialog values in a file that does validate are still checked one by one: an odd entry
is dropped, never followed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from texstudio.engine.config import HAND_LAYOUT_FIELDS, SynthConfig
from texstudio.engine.errors import ConfigError
from texstudio.engine.presets import default_config
from texstudio.gui.model import MAX_RECENT
from texstudio.paths import user_config_dir

SETTINGS_NAME = "gui-settings.json"
FORMAT_VERSION = 1


@dataclass
class GuiSettings:
    config: SynthConfig = field(default_factory=default_config)
    recent_files: list[str] = field(default_factory=list)
    exemplar_path: str | None = None
    exemplar_region: list[int] | None = None
    exemplar_scale: float = 1.0
    export: dict[str, Any] = field(default_factory=dict)  # last folder, format, bit depth, sheet
    window_geometry: str | None = None  # base64 of QMainWindow.saveGeometry()
    window_state: str | None = None  # base64 of QMainWindow.saveState()

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["config"] = self.config.to_dict()
        data["version"] = FORMAT_VERSION
        return data


def settings_path() -> Path:
    return user_config_dir() / SETTINGS_NAME


def load_settings(path: Path | None = None) -> tuple[GuiSettings, str | None]:
    """(settings, notice): defaults and a message for the user when the file is unusable."""
    path = path or settings_path()
    if not path.exists():
        return GuiSettings(), None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        settings = _from_dict(data)
    except (OSError, ValueError, TypeError, RecursionError, ConfigError) as exc:  # RecursionError: [[[[...
        backup = path.with_name(path.name + ".corrupt")
        try:
            shutil.copyfile(path, backup)
            kept = f" (kept as {backup.name})"
        except OSError:
            kept = ""
        return GuiSettings(), f"Settings file {path} could not be used{kept}: {exc}. Using defaults."
    return settings, None


def _from_dict(data: dict[str, Any]) -> GuiSettings:
    config_data = data.get("config", {})
    if not isinstance(config_data, dict):
        raise ValueError("'config' is not a JSON object")
    # Settings from an older or newer texstudio may name fields this one lacks: drop them
    # rather than losing every other setting.
    known = {f.name for f in dataclasses.fields(SynthConfig)}
    config = SynthConfig.from_dict(_with_later_defaults({k: v for k, v in config_data.items() if k in known}))
    region = data.get("exemplar_region")
    if region is not None and (not isinstance(region, list) or len(region) != 4
                               or not all(isinstance(v, int) for v in region)):
        raise ValueError("'exemplar_region' must be four whole numbers")
    recent = data.get("recent_files", [])
    if not isinstance(recent, list):
        raise ValueError("'recent_files' must be a list of paths")
    scale = data.get("exemplar_scale", 1.0)
    if not isinstance(scale, (int, float)) or not 0 < scale <= 1:
        raise ValueError("'exemplar_scale' must be in (0, 1]")
    export = data.get("export", {})
    if not isinstance(export, dict):
        raise ValueError("'export' must be a JSON object")
    # Paths and values from the file are not trusted: odd ones are dropped, one by one,
    # so a hand-edited entry costs that entry and never a crash at start-up.
    return GuiSettings(
        config=config, recent_files=[p for p in recent if usable_path(p)][:MAX_RECENT],
        exemplar_path=data.get("exemplar_path") if usable_path(data.get("exemplar_path")) else None,
        exemplar_region=region, exemplar_scale=float(scale), export=_usable_export(export),
        window_geometry=_text_or_none(data.get("window_geometry")),
        window_state=_text_or_none(data.get("window_state")),
    )


def _with_later_defaults(saved: dict[str, Any]) -> dict[str, Any]:
    """A config written before ``auto_layout`` (or ``lighting``, ``auto_lattice``) existed gets the default's,
    not SynthConfig's off (keep).

    Otherwise everyone who had used the studio before would keep losing the cells, rows and
    checks of repeating exemplars that a first-time user gets. A pyramid set by hand keeps
    it off, as on the command line (config.with_hand_layout): auto layout would replace it.
    """
    defaults = default_config()
    if "lighting" not in saved:  # likewise for the lighting, added later still
        saved = {**saved, "lighting": defaults.lighting}
    if "auto_lattice" not in saved:  # and the lattice start, later again
        saved = {**saved, "auto_lattice": defaults.auto_lattice}
    if "auto_layout" in saved:
        return saved
    by_hand = any(name in saved and saved[name] != getattr(defaults, name) for name in HAND_LAYOUT_FIELDS)
    return {**saved, "auto_layout": defaults.auto_layout and not by_hand}


# What the export dialog remembers, and the values it can show.
EXPORT_CHOICES = {"format": ("PNG", "TIFF"), "bit_depth": (8, 16), "sidecar": (True, False), "sheet": (True, False)}


def usable_path(value: Any) -> bool:
    """An absolute path a file dialog could have given: text, no NUL, not absurdly long."""
    return (isinstance(value, str) and 0 < len(value) < 4096 and "\0" not in value
            and os.path.isabs(value))


def _usable_export(export: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    if usable_path(export.get("folder")):
        kept["folder"] = export["folder"]
    name = export.get("name")
    if isinstance(name, str) and name and name == Path(name).name and "\0" not in name and len(name) < 256:
        kept["name"] = name  # a bare file name: a remembered name never points into another folder
    for key, choices in EXPORT_CHOICES.items():
        if key in export and any(export[key] == c and type(export[key]) is type(c) for c in choices):
            kept[key] = export[key]
    for key in ("columns", "rows"):
        value = export.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 16:
            kept[key] = value
    return kept


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def save_settings(settings: GuiSettings, path: Path | None = None) -> None:
    """Write atomically, so a crash mid-write never leaves a half file to be called corrupt."""
    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(settings.to_dict(), indent=2, sort_keys=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())  # else a power cut after the rename can leave an empty file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
