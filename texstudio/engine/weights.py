"""Find network weights on disk and load them without ever running code from a file.

Nothing here touches the network: weights are used when a file is already present.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from texstudio import paths
from texstudio.engine.errors import BackboneError

# torchvision's own file name for ImageNet VGG19, so a copy in torch's hub cache is found.
VGG19_IMAGENET = "vgg19-dcbb9e9d.pth"


def weights_search_path() -> list[Path]:
    """Folders searched for weights, in order: the repo's weights/, the user's, torch's cache."""
    return [paths.repo_weights_dir(), paths.user_weights_dir(), paths.torch_hub_checkpoints_dir()]


def find_weights_file(filename: str) -> Path | None:
    for folder in weights_search_path():
        candidate = folder / filename
        if candidate.is_file():
            return candidate
    return None


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Load tensors from a safetensors or torch file; pickled code is refused, not run."""
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            # weights_only=True unpickles tensors and plain containers only: a payload that
            # would call a function raises instead of executing.
            state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BackboneError(f"{path.name} is not a usable weights file: {first_line}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BackboneError(f"{path.name} does not hold a dictionary of tensors")
    return state
