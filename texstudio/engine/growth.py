"""The first layout canvas grown outwards from one small region, so its lattice has one grain.

A patch-distribution layout started from noise everywhere grows its lattice in many places
at once, and where those places meet, rows end and start again half a brick up: faults,
like the grain boundaries of a crystal (docs/structure_probes). No local term removes them.
Growing leaves fewer of them (docs/grow_layout: the red bricks' first canvas scores a
periodicity of 0.68-0.77 against 0.50-0.54, and fewer faults show, not none): a small
square in the middle is laid out first, on its own, and holds one grain. Then ring after ring is added around it, each
learned with everything inside held fixed; a ring is narrow, so its patches lie mostly
over canvas already made, and they carry its rows and columns on instead of starting their
own. The whole level then runs its own steps from the grown canvas as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

import torch

from texstudio.engine.layout import LAYOUT_PATCH, layout_optimizer

# The seed square is this share of the level's shorter side, and GROW_RINGS rings of equal
# width take it to the full canvas: on a 32 px first level, a 12 px square and 2 px rings.
SEED_SHARE = 3 / 8
GROW_RINGS = 5
# The seed square learns this many times a ring's steps: it starts from noise everywhere.
SEED_STEP_FACTOR = 3
# Added to the run's seed for the growing objective's own random stream.
GROW_SEED_OFFSET = 1000


def growth_regions(height: int, width: int) -> list[tuple[int, int, int, int]]:
    """(top, left, bottom, right) of the seed square, then of each larger region, ending with the whole canvas."""
    side = max(LAYOUT_PATCH + 1, round(min(height, width) * SEED_SHARE))
    ring = max(1, -(-(max(height, width) - side) // (2 * GROW_RINGS)))
    top, left = max(0, (height - side) // 2), max(0, (width - side) // 2)
    region = (top, left, min(height, top + side), min(width, left + side))
    regions = [region]
    while region != (0, 0, height, width):
        top, left, bottom, right = region
        region = (max(0, top - ring), max(0, left - ring), min(height, bottom + ring), min(width, right + ring))
        regions.append(region)
    return regions


def growth_steps(height: int, width: int, ring_steps: int) -> int:
    """How many Adam steps growing a ``height`` x ``width`` canvas takes: what progress counts to."""
    if ring_steps < 1:
        return 0
    return ring_steps * (SEED_STEP_FACTOR + len(growth_regions(height, width)) - 1)


@dataclass
class GrowthStep:
    """One growing step done. ``canvas`` is the growing canvas itself, new pixels written in: copy it to keep it."""

    done: int
    total: int
    canvas: torch.Tensor


def grow_canvas(noise: torch.Tensor, loss_and_grad: Callable[[torch.Tensor], object], ring_steps: int,
                stopped: Callable[[], bool] = lambda: False) -> Generator[GrowthStep, None, torch.Tensor]:
    """``noise`` (1, C, H, W) turned into a layout grown from its middle outwards; yields after every step.

    ``loss_and_grad(canvas)`` adds the layout objective's gradient to ``canvas.grad`` for a
    canvas of any size. Each region learns ``ring_steps`` Adam steps (the seed square
    SEED_STEP_FACTOR times as many), only where it is new. ``stopped()`` is asked before
    every step and ends the growing; the canvas then keeps the noise where no ring has reached.
    """
    if ring_steps < 1:
        return noise
    height, width = noise.shape[-2:]
    total = growth_steps(height, width, ring_steps)
    grown = noise.detach().clone()
    made = torch.zeros_like(grown, dtype=torch.bool)  # pixels already learned, held from now on
    done = 0
    for index, (top, left, bottom, right) in enumerate(growth_regions(height, width)):
        part = grown[..., top:bottom, left:right].clone().requires_grad_(True)
        held, free = part.detach().clone(), ~made[..., top:bottom, left:right]
        steps = ring_steps * (SEED_STEP_FACTOR if index == 0 else 1)
        optimizer = layout_optimizer(part, steps)
        for _ in range(steps):
            if stopped():
                return grown
            optimizer.zero_grad(set_to_none=True)
            loss_and_grad(part)
            optimizer.step()
            with torch.no_grad():
                part.clamp_(0.0, 1.0)
                part.copy_(torch.where(free, part, held))
                grown[..., top:bottom, left:right] = part
            done += 1
            yield GrowthStep(done, total, grown)
        made[..., top:bottom, left:right] = True
    return grown
