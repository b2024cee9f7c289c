"""The copy term's runner-up search: the old mask over every window pair against the scattered box.

    OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/python docs/full_copy/overlap_speed.py

One call of CopyPenalty with its backward pass, on the shapes a 256 px run from a photo's
half gives it (the full-size level seen at half size; the 64 px layout level; the 128 px
level pooled), timed in turns in one process, with the runner-up found both ways; the
penalties must come out equal.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from texstudio.engine import copy_penalty  # noqa: E402
from texstudio.engine.copy_penalty import COPY_WINDOW, FULL_SIZE_MAX_PAIRS, FULL_SIZE_WINDOW, CopyPenalty  # noqa: E402


class MaskedCopyPenalty(CopyPenalty):
    """The runner-up search as it was: a boolean mask over every (canvas, exemplar) window pair."""

    def _runner_up(self, similarity: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        every = torch.arange(similarity.shape[1])
        tops, lefts = every // self.columns * self.stride, every % self.columns * self.stride
        overlap = ((tops[None] - tops[where][:, None]).abs() < self.window) \
            & ((lefts[None] - lefts[where][:, None]).abs() < self.window)
        return similarity.masked_fill_(overlap, -1.0).max(dim=1).values


def seconds(penalty: CopyPenalty, canvas: torch.Tensor) -> tuple[float, float]:
    canvas = canvas.clone().requires_grad_(True)
    started = time.process_time()
    value = penalty(canvas)
    value.backward()
    return time.process_time() - started, float(value.detach())


def main() -> None:
    torch.set_num_threads(1)
    exemplar = torch.rand(1, 3, 256, 128, generator=torch.Generator().manual_seed(0))
    cases = {  # name: (exemplar at the level, canvas side, pool, pairs, window)
        "full-size level, seen at half size": (exemplar, 256, 2, FULL_SIZE_MAX_PAIRS, FULL_SIZE_WINDOW),
        "the same with 11 px windows and 2^23 pairs (its first version)": (exemplar, 256, 2, 1 << 23, COPY_WINDOW),
        "64 px layout level": (exemplar[:, :, ::4, ::4], 64, 1, copy_penalty.MAX_PAIRS, COPY_WINDOW),
        "128 px layout level, pooled by 2": (exemplar[:, :, ::2, ::2], 128, 2, copy_penalty.MAX_PAIRS, COPY_WINDOW),
    }
    for name, (theirs, side, pool, pairs, window) in cases.items():
        canvas = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(1))
        canvas[..., : side // 2, : side // 4] = theirs[..., : side // 2, : side // 4]  # a copied corner
        times = {"mask": [], "scatter": []}
        values = set()
        for _ in range(5):
            for kind, make in (("mask", MaskedCopyPenalty), ("scatter", CopyPenalty)):
                spent, value = seconds(make(theirs, False, 0, 0, pool, pairs, window), canvas)
                times[kind].append(spent)
                values.add(round(value, 7))
        mask, scatter = statistics.median(times["mask"]), statistics.median(times["scatter"])
        print(f"{name}: mask {mask:.3f} s, scatter {scatter:.3f} s, ratio {scatter / mask:.2f}, "
              f"penalties equal: {len(values) == 1} ({values.pop():.4f})")


if __name__ == "__main__":
    main()
