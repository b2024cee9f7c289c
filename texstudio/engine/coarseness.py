"""Is an exemplar made of large soft shapes? The second test that turns the patch layout on.

Lava, slime and clouds are cells or billows tens of pixels across with soft edges and
little fine grain, and none of them repeats (periodicity 0.08 to 0.29). Learned by the
feature losses alone, their cells come out as blotches and veins: the random filters'
Gram statistics keep their colours and contrast, not the cells' round outlines. The patch
layout arranges such shapes on the coarse levels, where they are all there is to see
(docs/soft_cells). What sets these exemplars apart is where their detail lies: once the
shading is removed, most of it survives a blur that wipes out the grain of gravel or grass.
"""

from __future__ import annotations

import numpy as np

from texstudio.engine.periodicity import detrended_spectrum

# The blur a large shape survives: a Gaussian's sigma as a share of the longer side measured
# (4 px at periodicity.MEASURE_SIDE; a smaller exemplar is measured at its own size, and its
# shading removed in proportion, periodicity.DETREND_FRACTION).
SHAPE_FRACTION = 1 / 64
# Made of large soft shapes above: on the 40 shared photos, 44 miniworld textures, 30 robosuite and
# 5 scikit-image ones (halves at 256 px), lava 0.63 and 0.70, slime 0.54, clouds 0.57 and
# the black-and-white checker 0.55 (which its lattice takes); every other photo 0.44 (lego)
# or less, water caustics 0.39 to 0.43, gravel and grass under 0.2.
COARSE = 0.5


def coarseness(image: np.ndarray) -> float:
    """Share of the exemplar's detail (grey, shading removed) that survives a blur of SHAPE_FRACTION of its side.

    ``image`` is (H, W, 3) in [0, 1]. 0 for a flat image; near 1 where all detail is in
    shapes much larger than the blur.
    """
    spectrum, frequency2 = detrended_spectrum(image)
    power = np.abs(spectrum) ** 2
    total = power.sum()
    if total <= 1e-12 * power.size:
        return 0.0
    sigma = max(spectrum.shape) * SHAPE_FRACTION
    blur = np.exp(-2.0 * (np.pi * sigma) ** 2 * frequency2)  # the Gaussian blur in the Fourier domain
    return float((power * blur ** 2).sum() / total)
