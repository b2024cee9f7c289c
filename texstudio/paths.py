"""Where texstudio's files live: in a source checkout, an installed package or a bundle."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "texstudio"


def install_root() -> Path:
    """The folder holding ``resources/`` and ``weights/``.

    In a PyInstaller bundle that is the unpack folder; otherwise the checkout root
    (the package's parent), which is also where an editable install points.
    """
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle)
    return Path(__file__).resolve().parent.parent


def resources_dir() -> Path:
    return install_root() / "resources"


def repo_weights_dir() -> Path:
    """The first folder searched for weights files. TEXSTUDIO_WEIGHTS_DIR overrides it.

    The override exists so tests (and a user with a shared weights disk) can move the
    searched folder without moving the manifest, which ships with the code.
    """
    override = os.environ.get("TEXSTUDIO_WEIGHTS_DIR")
    return Path(override) if override else install_root() / "weights"


def weights_manifest_path() -> Path:
    """The registry of known weights. TEXSTUDIO_WEIGHTS_MANIFEST overrides it (tests use a tiny one)."""
    override = os.environ.get("TEXSTUDIO_WEIGHTS_MANIFEST")
    return Path(override) if override else install_root() / "weights" / "manifest.json"


def user_data_dir() -> Path:
    """Per-user data (downloaded weights, trained models). TEXSTUDIO_DATA_DIR overrides it."""
    override = os.environ.get("TEXSTUDIO_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME))


def user_weights_dir() -> Path:
    return user_data_dir() / "weights"


def user_config_dir() -> Path:
    """Per-user settings. TEXSTUDIO_CONFIG_DIR overrides it (tests point it at a temp folder)."""
    override = os.environ.get("TEXSTUDIO_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME))


def torch_hub_checkpoints_dir() -> Path:
    """torch's own download cache, where torchvision puts ImageNet weights it fetched."""
    hub = os.environ.get("TORCH_HOME")
    base = Path(hub) if hub else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "torch"
    return base / "hub" / "checkpoints"
