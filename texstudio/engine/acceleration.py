"""Per-device speed settings for the backbone: memory layout and reduced-precision autocast.

Each is on only where bench/speed.py measured it to pay (see BENCHMARKS.md):
  channels_last  the convolutions (84% of a CPU step) run 5-10% faster in oneDNN's
                 NHWC kernels; on CUDA cuDNN's tensor-core kernels want NHWC as well.
  bf16 autocast  always on CUDA; on a CPU only when a quick self-test shows bf16
                 convolutions beating fp32 (CPUs without AMX or AVX512-BF16 emulate it
                 and run 10x slower). Gram matrices and losses stay in fp32.
``TEXSTUDIO_CHANNELS_LAST`` and ``TEXSTUDIO_BF16`` (``0`` or ``1``) override the choice,
so the benchmark can measure both ways.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time

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
        return _cpu_bf16_is_faster()
    return False


@functools.lru_cache(maxsize=1)
def _cpu_bf16_is_faster() -> bool:
    """Time one small convolution both ways (a fraction of a second, once per process)."""
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).eval()
    x = torch.rand(1, 64, 32, 32)

    def timed(dtype: torch.dtype) -> float:
        best = float("inf")
        with torch.no_grad(), torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
            for _ in range(3):
                started = time.perf_counter()
                conv(x)
                best = min(best, time.perf_counter() - started)
        return best

    try:
        return timed(torch.bfloat16) < 0.8 * timed(torch.float32)
    except RuntimeError:  # no bf16 kernels at all
        return False


def autocast(device: torch.device, enabled: bool):
    """The context the backbone's forward runs in."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)
