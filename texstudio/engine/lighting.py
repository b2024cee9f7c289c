"""The exemplar's lighting: a smooth gradient across the photo, taken out before synthesis.

A photo lit from one side is brighter there, and the largest filters' statistics carry
that difference. A canvas the size of the photo spreads it across as the photo does; a
larger canvas cannot, and painted it onto its own edges instead: a bright band on the
side where the photo is bright and a dark one opposite (up to a fifth of the range on
foam at twice the photo's side), and from a much smaller photo, ridges larger than the
photo (BENCHMARKS.md "On a GPU", "Lighting"). A smooth surface fitted to the photo (a
polynomial in x and y per channel) and taken out, its mean kept, removes the lighting
and leaves the texture.
"""

from __future__ import annotations

import numpy as np

# "auto" takes the lighting out when the canvas has at least this many times the
# exemplar's pixels. The bands were measured from twice the side (4x the pixels) up; half a
# photo learned onto a square (2x, the held-out check's runs) keeps its lighting as before.
AUTO_AREA_RATIO = 3.0
# The surface is smooth, so fitting it to every pixel of a large photo adds nothing:
# it is fitted to at most this many pixels along a side, sampled evenly.
FIT_SIDE = 128
DEGREE = 2


POWERS = [(i, j) for i in range(DEGREE + 1) for j in range(DEGREE + 1 - i)]


def _coordinates(height: int, width: int, rows: np.ndarray, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres scaled to [-1, 1]: (x, y)."""
    return (2 * columns + 1) / width - 1, (2 * rows + 1) / height - 1


def lighting_surface(image: np.ndarray) -> np.ndarray:
    """The smooth part of ``image`` (H, W, 3) without its mean: what remove_lighting takes out."""
    height, width = image.shape[:2]
    step_y, step_x = max(1, height // FIT_SIDE), max(1, width // FIT_SIDE)
    rows, columns = np.mgrid[0:height:step_y, 0:width:step_x]
    samples = image[::step_y, ::step_x].reshape(-1, image.shape[2]).astype(np.float64)
    x, y = _coordinates(height, width, rows.ravel(), columns.ravel())
    coefficients, *_ = np.linalg.lstsq(np.stack([x ** i * y ** j for i, j in POWERS], axis=-1), samples, rcond=None)
    # Summed term by term from a row and a column vector: no (H, W, terms) array for a 4096 px photo.
    x, y = _coordinates(height, width, np.arange(height)[:, None], np.arange(width)[None, :])
    surface = np.zeros(image.shape, np.float32)
    for (i, j), weights in zip(POWERS, coefficients):
        surface += ((x ** i) * (y ** j)).astype(np.float32)[..., None] * weights.astype(np.float32)
    return surface - surface.mean(axis=(0, 1), dtype=np.float64).astype(np.float32)


def remove_lighting(image: np.ndarray) -> np.ndarray:
    """``image`` with its lighting surface taken out, mean colour kept, clipped to [0, 1]."""
    return np.clip(image - lighting_surface(image), 0.0, 1.0).astype(np.float32)


def resolve_lighting(setting: str, canvas: tuple[int, int], exemplar: tuple[int, int]) -> str:
    """"remove" or "keep" for a setting of "auto", "remove" or "keep"; shapes are (height, width)."""
    if setting != "auto":
        return setting
    larger = canvas[0] * canvas[1] >= AUTO_AREA_RATIO * exemplar[0] * exemplar[1]
    return "remove" if larger else "keep"
