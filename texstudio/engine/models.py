"""Trained models on disk, and the backbone that puts one to work in synthesis.

A model folder holds ``model.safetensors`` (every tensor of the network, loaded without
pickle, so a file cannot run code) and ``model.json`` (architecture, layer names,
input normalisation, dataset summary, metrics). Saved models live in
``user_data_dir()/models/<name>/`` unless the user picks another folder; any model
folder can be given wherever a backbone name is accepted.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from texstudio import paths
from texstudio.engine.backbones import SequentialBackbone
from texstudio.engine.errors import BackboneError
from texstudio.engine.imageio import _atomic_write, write_sidecar
from texstudio.engine.trainable import TrainableNet, build_network

MODEL_FORMAT = "texstudio-model"
MODEL_FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
METADATA_FILE = "model.json"


def models_dir() -> Path:
    """Where trained models are saved by default (per user; TEXSTUDIO_DATA_DIR overrides)."""
    return paths.user_data_dir() / "models"


def is_model_dir(path: str | os.PathLike) -> bool:
    path = Path(path)
    return (path / METADATA_FILE).is_file() and (path / WEIGHTS_FILE).is_file()


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` through a temp file: a crash never leaves half a file."""
    _atomic_write(path, lambda handle: handle.write(data), binary=True, overwrite=True)


def save_model(net: TrainableNet, out_dir: str | os.PathLike, metadata: dict[str, Any]) -> Path:
    """Write the network's weights and metadata into ``out_dir`` (created if needed)."""
    from safetensors.torch import save

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    data = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "architecture": net.spec(),
        "objective": net.objective,
        "layer_names": list(net.stages.keys()),
        "default_layers": list(net.default_layers),
        **metadata,
    }
    # Weights first: a model.json is only ever next to the weights it describes.
    write_bytes_atomic(out_dir / WEIGHTS_FILE, save(state))
    write_sidecar(out_dir / METADATA_FILE, data, overwrite=True)
    return out_dir


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The model.json of a model folder; BackboneError if it is not one."""
    path = Path(path)
    if not is_model_dir(path):
        raise BackboneError(
            f"{path} is a folder but not a texstudio model folder (it needs {METADATA_FILE} and {WEIGHTS_FILE})"
        )
    try:
        data = json.loads((path / METADATA_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackboneError(f"{path / METADATA_FILE} cannot be read: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
        raise BackboneError(f"{path} is a folder but not a texstudio model folder ({METADATA_FILE} is not ours)")
    return data


def load_network(path: str | os.PathLike, torus: bool = False) -> tuple[TrainableNet, dict[str, Any]]:
    """Rebuild a saved network and load its weights (safetensors only); returns (net, metadata)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    metadata = read_metadata(path)
    net = build_network(metadata.get("architecture") or {}, torus=torus)
    try:
        state = load_file(str(path / WEIGHTS_FILE))
    except (SafetensorError, OSError, ValueError) as exc:
        raise BackboneError(f"{path / WEIGHTS_FILE} is not a usable weights file: {exc}") from None
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise BackboneError(f"{path / WEIGHTS_FILE} does not match its model.json: {first}") from None
    return net, metadata


class TrainedBackbone(SequentialBackbone):
    """A network trained in texstudio, seen as a backbone: its named stages, frozen.

    Batch norm runs with the statistics learnt in training (eval mode), so the network
    is a fixed function of the image, the same for the exemplar and the canvas.
    """

    def __init__(self, net: TrainableNet, metadata: dict[str, Any], folder: Path) -> None:
        super().__init__()
        self.stages = net.stages
        self.name = str(metadata.get("name") or folder.name)
        self.architecture = net.architecture
        layers = tuple(metadata.get("default_layers") or net.default_layers)
        self.default_layers = tuple(layer for layer in layers if layer in self.stages)
        norm = metadata.get("normalization") or {}
        mean = norm.get("mean", [0.0, 0.0, 0.0])
        std = norm.get("std", [1.0, 1.0, 1.0])
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        self.weights_source = f"trained {net.architecture} ({folder})"
        self.freeze()


def load_trained_backbone(path: str | os.PathLike, torus: bool = False) -> TrainedBackbone:
    """The backbone for a model folder (what ``build_backbone`` returns for a folder path)."""
    path = Path(path).expanduser()
    net, metadata = load_network(path, torus=torus)
    return TrainedBackbone(net, metadata, path.resolve())


@dataclass(frozen=True)
class ModelInfo:
    """One saved model, for lists in the GUI and ``texstudio train --list``."""

    path: Path
    name: str
    architecture: str
    objective: str
    layer_names: tuple[str, ...]
    default_layers: tuple[str, ...]
    summary: str  # one line: data and metrics


def describe_model(path: str | os.PathLike) -> ModelInfo:
    path = Path(path)
    data = read_metadata(path)
    metrics = data.get("metrics") or {}
    dataset = data.get("dataset") or {}
    parts = [f"{dataset.get('images', '?')} images"]
    if metrics.get("epochs_done") is not None:
        parts.append(f"{metrics['epochs_done']} epochs")
    if metrics.get("val_accuracy") is not None:
        parts.append(f"val accuracy {metrics['val_accuracy']:.1%}")
    elif metrics.get("val_loss") is not None:
        parts.append(f"val loss {metrics['val_loss']:.4g}")
    return ModelInfo(
        path=path, name=str(data.get("name") or path.name),
        architecture=str((data.get("architecture") or {}).get("name", "?")),
        objective=str(data.get("objective", "?")),
        layer_names=tuple(data.get("layer_names") or ()),
        default_layers=tuple(data.get("default_layers") or ()),
        summary=", ".join(parts),
    )


def list_models(root: str | os.PathLike | None = None) -> list[ModelInfo]:
    """Every model folder directly inside ``root`` (default: the user's models folder), by name."""
    root = Path(root) if root is not None else models_dir()
    if not root.is_dir():
        return []
    found = []
    for child in sorted(root.iterdir()):
        if child.is_dir() and is_model_dir(child):
            try:
                found.append(describe_model(child))
            except BackboneError:
                continue  # a half-written or foreign folder is not a model to offer
    return found
