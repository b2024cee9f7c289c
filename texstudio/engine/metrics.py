"""Quality measures that need no pretrained network."""

from __future__ import annotations

import numpy as np


def seam_score(image: np.ndarray) -> float:
    """How much the wrap-around edges differ from the image's interior, for tiles.

    The mean absolute step across the wrap (last column to first, last row to first)
    divided by the mean step between neighbouring interior columns/rows; the worse of
    the two directions. About 1 for a seamless tile; clearly above 1 where a seam shows.
    """
    image = np.asarray(image, dtype=np.float64)
    scores = []
    for axis in (0, 1):
        interior = np.abs(np.diff(image, axis=axis)).mean()
        first = np.take(image, 0, axis=axis)
        last = np.take(image, -1, axis=axis)
        wrap = np.abs(first - last).mean()
        scores.append(wrap / max(interior, 1e-12))
    return float(max(scores))
