"""Per-device speed settings for the backbone: memory layout and reduced-precision autocast.

Each is on only where bench/speed.py measured it to pay (see BENCHMARKS.md):
  channels_last  the convolutions (84% of a CPU step) run 5-10% faster in oneDNN's
                 NHWC kernels; on CUDA cuDNN's tensor-core kernels want NHWC as well.
  bf16 autocast  always on CUDA; on a CPU only where it has bf16 instructions
                 (AVX512-BF16 or AMX): 1.3-1.5x faster per step there, while CPUs
                 without them emulate bf16 and run 10x slower. Gram matrices and
                 losses stay in fp32.
``TEXSTUDIO_CHANNELS_LAST`` and ``TEXSTUDIO_BF16`` (``0`` or ``1``) override the choice,
so the benchmark can measure both ways.
"""

from __future__ import annotations

import contextlib
import functools
import os

import torch


def _override(name: str) -> bool | None:
    value = os.environ.get(name, "").strip()
    return None if value == "" else value not in ("0", "false", "no", "off")


def channels_last(device: torch.device) -> bool:
    """Whether the backbone should run in NHWC layout on ``device``."""
    forced = _override("TEXSTUDIO_CHANNELS_LAST")
    return (device.type in ("cpu", "cuda")) if forced is None else forced


def bf16_autocast(device: torch.device) -> bool:
    """Whether the backbone's convolutions should run under bf16 autocast on ``device``."""
    forced = _override("TEXSTUDIO_BF16")
    if forced is not None:
        return forced and device.type in ("cpu", "cuda")
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return cpu_has_bf16()
    return False


@functools.lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Whether this CPU runs bf16 arithmetic natively (AVX512-BF16, or AMX tiles).

    Asked of the CPU, not timed: a timed self-test here chose differently from one
    process to the next on a busy machine (bf16 in 4 runs of 5 on two threads), so the
    same seed and settings gave different images. The probes are torch's own, private
    ones; a torch without them gets fp32.
    """
    probes = (getattr(torch.cpu, "_is_avx512_bf16_supported", None), getattr(torch.cpu, "_is_amx_tile_supported", None))
    return any(probe is not None and bool(probe()) for probe in probes)


def precision(device: torch.device) -> str:
    """What the backbone's convolutions run in on ``device``, "bf16" or "fp32": for the sidecar."""
    return "bf16" if bf16_autocast(device) else "fp32"


def autocast(device: torch.device, enabled: bool):
    """The context the backbone's forward runs in."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)
