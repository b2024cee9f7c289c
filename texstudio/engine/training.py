"""Train a feature network on the user's photos: a generator the CLI, tests and GUI all drive.

``train(config, folder, out_dir, stop)`` yields a ``TrainProgress`` per batch and per
validation, checks the stop token between batches, checkpoints at the end of every
epoch and when stopped, and always leaves ``out_dir`` holding a usable model folder.

Reproducibility: the network's initial weights, the train/validation split, the order
of patches and every augmentation come from generators seeded by ``config.seed`` (and
the epoch and position), never from torch's global RNG. A run stopped mid-epoch and
resumed therefore sees the same patches in the same order as one that never stopped.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from texstudio.engine.cancel import StopToken
from texstudio.engine.dataset import (
    DatasetError,
    PatchAugment,
    PhotoDataset,
    center_patch,
    scan_folder,
    split_indices,
)
from texstudio.engine.devices import DEVICE_CHOICES, resolve_device
from texstudio.engine.errors import ConfigError, NumericalError, ResourceError, is_out_of_memory
from texstudio.engine.imageio import write_sidecar
from texstudio.engine.models import is_model_dir, save_model, write_bytes_atomic
from texstudio.engine.trainable import (
    AUTOENCODER_ARCHITECTURES,
    CLASSIFIER_ARCHITECTURES,
    DEFAULT_ARCHITECTURE,
    TrainableNet,
    build_network,
)

OBJECTIVES = ("autoencoder", "classifier")
CHECKPOINT_WEIGHTS = "checkpoint.safetensors"
CHECKPOINT_STATE = "checkpoint.json"
# The reference FCN lichen run used 512 px patches; on a CPU 128 px is ~16x cheaper per patch.
REFERENCE_PATCH_SIZE = 512


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of one training run. Units in the field comments."""

    # "autoencoder" (reconstruct patches) or "classifier" (sub-folders are classes).
    objective: str = "autoencoder"
    # Network; "" picks the objective's default (fcn-pyramid, vgg-small). "fcn-lichen"
    # is the published reference FCN.
    architecture: str = ""
    # Side of the square training patches in pixels. The reference used 512; 128 keeps a
    # CPU epoch in minutes. Synthesis can later use any canvas size (the nets are conv-only).
    patch_size: int = 128
    # Full passes; one pass cuts `crops_per_image` random patches from every training photo.
    epochs: int = 2
    # Random patches per training image per epoch: a few photos still give a real epoch.
    crops_per_image: int = 4
    # Patches per optimiser step; the reference used 8.
    batch_size: int = 8
    # Adam step size; the reference used 1e-3.
    learning_rate: float = 1e-3
    # Seeds initial weights, the split, patch order and augmentation.
    seed: int = 0
    # "auto" picks cuda, then mps, then cpu.
    device: str = "auto"
    # Share of the images (per class) held out for validation; 0 = no validation.
    val_fraction: float = 0.2
    # Horizontal flips and quarter turns: exact symmetries of most textures.
    flips: bool = True
    rotations: bool = True
    # Strength of random brightness/contrast/saturation/hue changes, 0 = off: colour is
    # often what tells materials apart, so it is opt-in.
    color_jitter: float = 0.0
    # Photos are shrunk so the longer side is at most this (px) when loaded, bounding
    # memory; 0 keeps full size.
    max_image_side: int = 1024
    # Send sample reconstructions every this many batches (0 = only at epoch ends).
    preview_every: int = 20

    def __post_init__(self) -> None:
        self.validate()

    @property
    def resolved_architecture(self) -> str:
        return self.architecture or DEFAULT_ARCHITECTURE.get(self.objective, "")

    def validate(self) -> None:
        """Raise ConfigError with a user-readable message for any out-of-range value."""
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}")
        allowed = AUTOENCODER_ARCHITECTURES if self.objective == "autoencoder" else CLASSIFIER_ARCHITECTURES
        if self.architecture and self.architecture not in allowed:
            raise ConfigError(
                f"architecture {self.architecture!r} does not fit objective {self.objective}; "
                f"use {' or '.join(allowed)}"
            )
        whole = {"patch_size": (16, 2048), "epochs": (1, 100_000), "crops_per_image": (1, 10_000),
                 "batch_size": (1, 4096), "preview_every": (0, 1_000_000)}
        for name, (low, high) in whole.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ConfigError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be a whole number >= 0, got {self.seed!r}")
        if not (isinstance(self.learning_rate, (int, float)) and 0 < self.learning_rate <= 1):
            raise ConfigError(f"learning rate must be > 0 and <= 1, got {self.learning_rate!r}")
        if self.device not in DEVICE_CHOICES:
            raise ConfigError(f"device must be one of {', '.join(DEVICE_CHOICES)}, got {self.device!r}")
        if not 0 <= self.val_fraction < 1:
            raise ConfigError(f"val_fraction must be from 0 to below 1, got {self.val_fraction!r}")
        if not 0 <= self.color_jitter <= 1:
            raise ConfigError(f"color_jitter must be from 0 to 1, got {self.color_jitter!r}")
        if not isinstance(self.max_image_side, int) or (0 < self.max_image_side < self.patch_size) \
                or self.max_image_side < 0:
            raise ConfigError(f"max_image_side must be 0 or at least the patch size, got {self.max_image_side!r}")

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a dict (e.g. a checkpoint); unknown keys are an error."""
        if not isinstance(data, dict):
            raise ConfigError("training settings must be a JSON object")
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ConfigError(f"unknown training setting(s): {', '.join(unknown)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ConfigError(f"invalid training settings: {exc}") from None


@dataclass
class TrainProgress:
    """What one point of training reports. Arrays are copies, safe to hand to another thread."""

    phase: str  # "start", "batch", "validation" (end of an epoch, checkpoint written), "stopped"
    epoch: int  # 1-based epoch in progress (or just finished, for "validation")
    epochs: int
    batch: int  # batches done in this epoch
    batches_per_epoch: int
    step: int  # optimiser steps done in the whole run, earlier sessions included
    total_steps: int
    elapsed: float  # seconds in this session
    eta: float | None  # seconds left, from this session's pace; None until measurable
    train_loss: float | None = None  # this batch's loss ("batch") or the epoch's mean ("validation")
    val_loss: float | None = None
    train_accuracy: float | None = None  # classifier: this epoch's share of correct training patches
    val_accuracy: float | None = None
    confusion: np.ndarray | None = None  # classifier: (classes, classes) counts, rows true, columns predicted
    classes: list[str] | None = None
    inputs: np.ndarray | None = None  # autoencoder preview: (k, P, P, 3) float32 patches ...
    outputs: np.ndarray | None = None  # ... and their reconstructions, same shape
    history: dict[str, list[float]] | None = None  # per-epoch curves so far ("validation", "start")
    summary: dict[str, Any] | None = None  # dataset summary ("start")


@dataclass
class TrainResult:
    """What the generator returns when it finishes or is stopped."""

    out_dir: Path
    epochs_done: int
    step: int
    stopped: bool
    metrics: dict[str, Any] = field(default_factory=dict)


def _mix_seed(*parts: int) -> int:
    """A generator seed from several integers; equal inputs, equal seed, on every platform."""
    value = 0x9E3779B97F4A7C15
    for part in parts:
        value = (value ^ (part + 0x9E3779B97F4A7C15 + (value << 6) + (value >> 2))) & 0xFFFFFFFFFFFFFFFF
    return value & 0x7FFFFFFFFFFFFFFF


def _optimizer_to_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimiser's state into tensors (for safetensors) and JSON (the rest)."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, entry in state["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _optimizer_from_tensors(tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    for key, value in extra.get("scalars", {}).items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    return {"state": state, "param_groups": extra["param_groups"]}


def has_checkpoint(out_dir: str | os.PathLike) -> bool:
    out_dir = Path(out_dir)
    return (out_dir / CHECKPOINT_STATE).is_file() and (out_dir / CHECKPOINT_WEIGHTS).is_file()


def read_checkpoint_config(out_dir: str | os.PathLike) -> TrainConfig:
    """The settings a checkpointed run was started with (to resume it with the same ones)."""
    data = _read_checkpoint_state(Path(out_dir))
    return TrainConfig.from_dict(data["config"])


def _read_checkpoint_state(out_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((out_dir / CHECKPOINT_STATE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot resume: {out_dir / CHECKPOINT_STATE} is unreadable ({exc})") from None


def check_out_dir(out_dir: str | os.PathLike, resume: bool, overwrite: bool = False) -> Path:
    """Refuse to train over something the user did not ask to replace; fail before any work."""
    out_dir = Path(out_dir).expanduser()
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir} is a file; the model needs a folder")
    if resume:
        if not has_checkpoint(out_dir):
            raise ConfigError(f"cannot resume: {out_dir} holds no training checkpoint")
        return out_dir
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        what = "a model" if is_model_dir(out_dir) or has_checkpoint(out_dir) else "files"
        raise ConfigError(f"{out_dir} already holds {what}; resume it (--resume), replace it (--overwrite), "
                          "or choose another folder")
    return out_dir


class _Batches:
    """The patches of one epoch, in a seeded order, cut lazily batch by batch."""

    def __init__(self, dataset: PhotoDataset, indices: list[int], config: TrainConfig, epoch: int) -> None:
        self.dataset = dataset
        self.augment = PatchAugment(config.patch_size, config.flips, config.rotations, config.color_jitter)
        generator = torch.Generator().manual_seed(_mix_seed(config.seed, epoch, 1))
        order = [indices[i] for i in torch.randperm(len(indices), generator=generator).tolist()]
        # Each image appears crops_per_image times, shuffled together.
        repeated = order * config.crops_per_image
        perm = torch.randperm(len(repeated), generator=generator).tolist()
        self.items = [repeated[i] for i in perm]
        self.seed = config.seed
        self.epoch = epoch
        self.batch_size = config.batch_size

    def __len__(self) -> int:
        return math.ceil(len(self.items) / self.batch_size)

    def batch(self, number: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch ``number`` (0-based): (patches (B, 3, P, P), labels (B,))."""
        start = number * self.batch_size
        chosen = range(start, min(start + self.batch_size, len(self.items)))
        patches, labels = [], []
        for position in chosen:
            image_index = self.items[position]
            generator = torch.Generator().manual_seed(_mix_seed(self.seed, self.epoch, 2, position))
            patches.append(self.augment(self.dataset.images[image_index], generator))
            labels.append(self.dataset.labels[image_index] if self.dataset.labels else 0)
        return torch.stack(patches), torch.tensor(labels, dtype=torch.long)


def _validation_set(dataset: PhotoDataset, indices: list[int], patch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Central patches of the held-out images: the same every epoch, so the curve compares."""
    if not indices:
        return torch.empty(0, 3, patch_size, patch_size), torch.empty(0, dtype=torch.long)
    patches = torch.stack([center_patch(dataset.images[i], patch_size) for i in indices])
    labels = torch.tensor([dataset.labels[i] if dataset.labels else 0 for i in indices], dtype=torch.long)
    return patches, labels


def _to_images(batch: torch.Tensor) -> np.ndarray:
    """(k, 3, P, P) tensor -> independent (k, P, P, 3) float32 numpy copy in [0, 1]."""
    return batch.detach().float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy().copy()


class _Objective:
    """The loss and the metrics of one objective, on normalised inputs."""

    def __init__(self, config: TrainConfig, net: TrainableNet, mean: torch.Tensor, std: torch.Tensor,
                 num_classes: int) -> None:
        self.classifier = config.objective == "classifier"
        self.net = net
        self.mean, self.std = mean, std
        self.num_classes = num_classes

    def outputs(self, patches: torch.Tensor) -> torch.Tensor:
        return self.net((patches - self.mean) / self.std)

    def loss(self, outputs: torch.Tensor, patches: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.classifier:
            return F.cross_entropy(outputs, labels)
        # The reconstruction target is the patch itself, in [0, 1] (the reference's MSE).
        return F.mse_loss(outputs, patches)


def _save_checkpoint(out_dir: Path, net: TrainableNet, optimizer: torch.optim.Optimizer,
                     state: dict[str, Any]) -> None:
    from safetensors.torch import save

    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    optimizer_tensors, optimizer_extra = _optimizer_to_tensors(optimizer)
    tensors.update(optimizer_tensors)
    write_bytes_atomic(out_dir / CHECKPOINT_WEIGHTS, save(tensors))
    write_sidecar(out_dir / CHECKPOINT_STATE, {**state, "optimizer": optimizer_extra}, overwrite=True)


def _load_checkpoint(out_dir: Path, net: TrainableNet, optimizer: torch.optim.Optimizer,
                     device: torch.device) -> dict[str, Any]:
    from safetensors.torch import load_file

    state = _read_checkpoint_state(out_dir)
    try:
        tensors = load_file(str(out_dir / CHECKPOINT_WEIGHTS))
    except Exception as exc:  # safetensors raises its own error type for a damaged file
        raise ConfigError(f"cannot resume: {out_dir / CHECKPOINT_WEIGHTS} is damaged ({exc})") from None
    model_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        net.load_state_dict(model_state, strict=True)
        optimizer.load_state_dict(_optimizer_from_tensors(
            {k: v.to(device) for k, v in tensors.items()}, state["optimizer"]))
    except (RuntimeError, KeyError, ValueError) as exc:
        raise ConfigError(f"cannot resume: the checkpoint in {out_dir} does not match its settings ({exc})") from None
    return state


def train(config: TrainConfig, folder: str | os.PathLike, out_dir: str | os.PathLike,
          stop: StopToken | None = None, resume: bool = False, name: str | None = None,
          overwrite: bool = False) -> Generator[TrainProgress, None, TrainResult]:
    """Train on the photos in ``folder``; ``out_dir`` receives checkpoints and the model.

    With ``resume``, the run continues from ``out_dir``'s checkpoint (its settings win,
    except ``epochs`` and ``device``, which may be raised or changed to train on).
    The generator's return value is a TrainResult. Running out of memory is a
    ResourceError saying what to make smaller; the last checkpoint stays as it was.
    """
    try:
        return (yield from _train(config, folder, out_dir, stop, resume, name, overwrite))
    except Exception as exc:
        if is_out_of_memory(exc):
            raise ResourceError(
                f"out of memory while training on {config.device}; try a smaller batch size "
                f"(now {config.batch_size}), patch size (now {config.patch_size}) or largest photo side "
                f"(now {config.max_image_side}), or the cpu device") from None
        raise


def _train(config: TrainConfig, folder: str | os.PathLike, out_dir: str | os.PathLike, stop: StopToken | None,
           resume: bool, name: str | None, overwrite: bool) -> Generator[TrainProgress, None, TrainResult]:
    started = time.perf_counter()
    out_dir = check_out_dir(out_dir, resume, overwrite)
    saved: dict[str, Any] | None = None
    if resume:
        saved = _read_checkpoint_state(out_dir)
        previous = TrainConfig.from_dict(saved["config"])
        config = previous.replace(epochs=max(config.epochs, previous.epochs), device=config.device)
    device = resolve_device(config.device)

    summary = scan_folder(folder, config.objective)
    dataset = PhotoDataset(summary, config.patch_size, config.max_image_side)
    if config.objective == "classifier" and len(set(dataset.labels)) < 2:
        raise DatasetError(f"the classifier needs images of at least 2 classes; {folder} has readable images of 1")
    train_idx, val_idx = split_indices(dataset.labels, len(dataset), config.val_fraction, config.seed)
    architecture = config.resolved_architecture
    spec: dict[str, Any] = {"name": architecture}
    if config.objective == "classifier":
        spec["num_classes"] = len(summary.classes)
    net = build_network(spec, seed=config.seed)
    if architecture == "fcn-lichen":
        # The reference feeds the network raw [0, 1] pixels.
        norm_mean, norm_std = [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]
    else:
        norm_mean, norm_std = dataset.channel_stats()
    if config.objective == "autoencoder":
        net.start_from_mean_colour(dataset.channel_stats()[0])
    if saved is not None:
        norm_mean, norm_std = saved["normalization"]["mean"], saved["normalization"]["std"]
        if saved.get("classes", []) != summary.classes:
            raise ConfigError(
                f"cannot resume: the checkpoint was trained on classes {saved.get('classes')}, "
                f"the folder now has {summary.classes}")
    net.to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    mean = torch.tensor(norm_mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(norm_std, device=device).view(1, 3, 1, 1)
    objective = _Objective(config, net, mean, std, len(summary.classes))

    history: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "train_accuracy": [], "val_accuracy": []}
    epoch, batch_done, step = 1, 0, 0
    if saved is not None:
        saved = _load_checkpoint(out_dir, net, optimizer, device)
        history = {k: list(v) for k, v in saved["history"].items()}
        epoch, batch_done, step = saved["epoch"], saved["batch"], saved["step"]
    out_dir.mkdir(parents=True, exist_ok=True)

    val_patches, val_labels = _validation_set(dataset, val_idx, config.patch_size)
    preview_source = val_patches[:4] if len(val_patches) else None
    batches_per_epoch = len(_Batches(dataset, train_idx, config, 1))
    total_steps = batches_per_epoch * config.epochs
    summary_dict = {**summary.to_dict(), "train_images": len(train_idx), "val_images": len(val_idx)}
    session_start_step = step

    def eta() -> float | None:
        done = step - session_start_step
        if done < 2:
            return None
        return (time.perf_counter() - started) / done * (total_steps - step)

    def progress(phase: str, **values: Any) -> TrainProgress:
        return TrainProgress(phase=phase, epoch=min(epoch, config.epochs), epochs=config.epochs, batch=batch_done,
                             batches_per_epoch=batches_per_epoch, step=step, total_steps=total_steps,
                             elapsed=time.perf_counter() - started, eta=eta(), **values)

    epoch_sums = {"loss": 0.0, "correct": 0.0, "seen": 0}
    if saved is not None:
        epoch_sums.update(saved.get("epoch_sums") or {})
    confusion_matrix: np.ndarray | None = None
    if saved is not None and saved.get("confusion") is not None:
        confusion_matrix = np.asarray(saved["confusion"], dtype=np.int64)

    def save_all(next_epoch: int, next_batch: int, stopped: bool) -> None:
        """Checkpoint (to resume at ``next_epoch``/``next_batch``) and the usable model beside it."""
        last = {k: (v[-1] if v else None) for k, v in history.items()}
        metrics = {"epochs_done": round(next_epoch - 1 + next_batch / batches_per_epoch, 4),
                   "steps": step, "stopped": stopped, **last}
        if confusion_matrix is not None:
            metrics["confusion"] = confusion_matrix.tolist()
        state = {"config": config.to_dict(), "epoch": next_epoch, "batch": next_batch, "step": step,
                 "history": history, "epoch_sums": epoch_sums,
                 "normalization": {"mean": norm_mean, "std": norm_std}, "classes": summary.classes,
                 "confusion": metrics.get("confusion"), "dataset": summary_dict}
        _save_checkpoint(out_dir, net, optimizer, state)
        save_model(net, out_dir, {
            "name": name or out_dir.name,
            "normalization": {"mean": norm_mean, "std": norm_std, "range": "RGB in [0, 1], then (x - mean) / std"},
            "training": config.to_dict(), "classes": summary.classes, "dataset": summary_dict,
            "metrics": metrics, "history": history,
        })

    def snapshot() -> dict[str, list[float]]:
        return {k: list(v) for k, v in history.items()}

    yield progress("start", history=snapshot(), summary=summary_dict, classes=list(summary.classes) or None)

    def reconstructions(patches: torch.Tensor) -> dict[str, np.ndarray]:
        """Input beside output for a few patches, in eval mode (what synthesis will see)."""
        net.eval()
        with torch.no_grad():
            shown = patches.to(device)
            result = {"inputs": _to_images(shown), "outputs": _to_images(objective.outputs(shown))}
        net.train()
        return result

    def validate() -> dict[str, Any]:
        """Loss (and accuracy, confusion) on the held-out central patches, in eval mode."""
        nonlocal confusion_matrix
        results: dict[str, Any] = {}
        if not len(val_patches):
            return results
        net.eval()
        with torch.no_grad():
            losses, predictions = [], []
            for start in range(0, len(val_patches), config.batch_size):
                patches = val_patches[start:start + config.batch_size].to(device)
                labels = val_labels[start:start + config.batch_size].to(device)
                outputs = objective.outputs(patches)
                losses.append(objective.loss(outputs, patches, labels) * len(patches))
                if objective.classifier:
                    predictions.append(outputs.argmax(dim=1).cpu())
            results["val_loss"] = float(torch.stack(losses).sum()) / len(val_patches)
            if objective.classifier:
                predicted = torch.cat(predictions)
                confusion = np.zeros((len(summary.classes),) * 2, dtype=np.int64)
                np.add.at(confusion, (val_labels.numpy(), predicted.numpy()), 1)
                confusion_matrix = confusion
                results["val_accuracy"] = float((predicted == val_labels).float().mean())
                results["confusion"] = confusion.copy()
        net.train()
        return results

    net.train()
    stopped = False
    while epoch <= config.epochs:
        batches = _Batches(dataset, train_idx, config, epoch)
        while batch_done < len(batches):
            if stop is not None and stop.is_set():
                stopped = True
                break
            patches, labels = batches.batch(batch_done)
            patches, labels = patches.to(device), labels.to(device)
            optimizer.zero_grad(set_to_none=True)
            outputs = objective.outputs(patches)
            loss = objective.loss(outputs, patches, labels)
            loss.backward()
            optimizer.step()
            batch_done += 1
            step += 1
            # One sync per batch, on purpose: the loss is reported every batch.
            value = float(loss.detach())
            if not math.isfinite(value):
                raise NumericalError(f"the training loss became {value} at step {step}; what was saved at the end "
                                     "of the last whole epoch (if any) is kept. Train again with a smaller learning rate")
            epoch_sums["loss"] += value * len(patches)
            epoch_sums["seen"] += len(patches)
            if objective.classifier:
                epoch_sums["correct"] += float((outputs.detach().argmax(dim=1) == labels).sum())
            extra: dict[str, Any] = {}
            if not objective.classifier and config.preview_every and batch_done % config.preview_every == 0:
                # Held-out patches when there are some, else the batch being learnt.
                extra = reconstructions(preview_source if preview_source is not None else patches[:4].detach())
            yield progress("batch", train_loss=value, **extra)
        if stopped:
            break
        results = validate()
        seen = max(epoch_sums["seen"], 1)
        history["train_loss"].append(epoch_sums["loss"] / seen)
        history["val_loss"].append(results.get("val_loss", float("nan")))
        if objective.classifier:
            history["train_accuracy"].append(epoch_sums["correct"] / seen)
            history["val_accuracy"].append(results.get("val_accuracy", float("nan")))
        epoch_sums = {"loss": 0.0, "correct": 0.0, "seen": 0}
        save_all(epoch + 1, 0, stopped=False)
        shown = {} if objective.classifier else reconstructions(
            preview_source if preview_source is not None else patches[:4].detach())
        yield progress(
            "validation", train_loss=history["train_loss"][-1], val_loss=results.get("val_loss"),
            train_accuracy=history["train_accuracy"][-1] if objective.classifier else None,
            val_accuracy=results.get("val_accuracy"), confusion=results.get("confusion"),
            classes=list(summary.classes) or None, history=snapshot(), **shown,
        )
        epoch += 1
        batch_done = 0

    if stopped:
        save_all(epoch, batch_done, stopped=True)
        yield progress("stopped", history=snapshot())
    last = {k: v[-1] for k, v in history.items() if v}
    return TrainResult(out_dir=out_dir, epochs_done=epoch - 1, step=step, stopped=stopped, metrics=last)


def run_training(config: TrainConfig, folder, out_dir, stop: StopToken | None = None, resume: bool = False,
                 on_progress=None, **kwargs: Any) -> TrainResult:
    """Drive ``train`` to the end, calling ``on_progress(record)`` for each record."""
    from texstudio.engine.generators import drive

    return drive(train(config, folder, out_dir, stop, resume, **kwargs), on_progress)
