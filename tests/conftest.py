"""Shared fixtures: generated texture images and isolated per-test user folders."""

from __future__ import annotations

from pathlib import Path

import os

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
# The team's photo set sits beside the checkout; a clone elsewhere (a clean-clone CI run in
# /tmp) names it with TEXSTUDIO_SHARED_TEXTURES. Tests that need it skip without it.
SHARED_TEXTURES = Path(os.environ.get("TEXSTUDIO_SHARED_TEXTURES", REPO.parent / "shared" / "textures"))


def make_texture(size: int = 64, seed: int = 0) -> np.ndarray:
    """A small stochastic colour texture (blobs and oriented stripes), float32 (H, W, 3)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    image = np.zeros((size, size, 3), np.float32)
    for _ in range(12):
        fx, fy = rng.integers(1, 9, size=2)
        phase = rng.random() * 2 * np.pi
        wave = np.sin(2 * np.pi * (fx * x + fy * y) + phase)
        image += wave[:, :, None] * rng.normal(0, 0.08, size=3)
    image += rng.normal(0, 0.05, size=(size, size, 3))
    image += np.array([0.55, 0.45, 0.35], np.float32)
    return np.clip(image, 0, 1).astype(np.float32)


def runs_by(config, field: str, values, exemplar: np.ndarray) -> dict:
    """``field`` set to each of ``values`` in turn: value -> (the run's records, its result)."""
    from texstudio.engine.synthesis import run_synthesis  # torch only for the tests that run one

    runs = {}
    for value in values:
        records = []
        result = run_synthesis(config.replace(**{field: value}), exemplar, on_step=records.append)
        runs[value] = (records, result)
    return runs


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Tests never read or write the real user's settings, weights or models."""
    base = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("TEXSTUDIO_CONFIG_DIR", str(base / "config"))
    monkeypatch.setenv("TEXSTUDIO_DATA_DIR", str(base / "data"))
    monkeypatch.setenv("TORCH_HOME", str(base / "torch"))
    # A developer's own weights/vgg19-*.pth must not change which weights the tests use.
    monkeypatch.setenv("TEXSTUDIO_WEIGHTS_DIR", str(base / "repo-weights"))
    # The local test HTTP server must never be reached through a proxy.
    monkeypatch.setenv("no_proxy", "*")
    # fp32 everywhere unless a test asks for bf16: the suite checks exact arithmetic (tiled
    # against whole, replays bit for bit) and must mean the same on CPUs with and without
    # bf16 instructions (acceleration.cpu_has_bf16). test_acceleration covers bf16.
    monkeypatch.setenv("TEXSTUDIO_BF16", "0")


@pytest.fixture
def texture_file(tmp_path) -> Path:
    path = tmp_path / "texture.png"
    Image.fromarray((make_texture(64) * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def real_photo() -> np.ndarray:
    """A real texture photo from ../shared/textures when present, else a generated texture."""
    candidate = SHARED_TEXTURES / "gravel1-texturize.png"
    if candidate.exists():
        from texstudio.engine.imageio import load_image, resize_longest_side

        return resize_longest_side(load_image(candidate), 64)
    return make_texture(64, seed=3)
