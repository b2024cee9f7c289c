"""Does an exemplar repeat? The first test that turns the patch layout stage on by itself
(engine/coarseness.py is the second: large soft shapes).

The layout stage (engine/layout.py) keeps cells, checks, rows and tiles that the feature
losses alone lose, but it costs busy stochastic textures (grass gets dark pits) and copies
more (docs/bakeoff_layout). Those two kinds of photo differ in one thing a cheap measure
sees: a repeating texture's autocorrelation rises again after its central lobe, at the
period of its cells, while a stochastic one stays near zero. On the 40 shared photos
(docs/bakeoff_auto) every structured one scores 0.42 (wicker) to 0.96 (bricks), every
stochastic one 0.33 (clouds) or less; the only others above REPEATING are the scale-shaped
stones (0.54) and the snake skin (0.46), both lattices of scales. Measured on the
bake-off's exemplar halves instead, the weathered wood's diagonal cracks also score 0.58.
Photos from a source the threshold had not seen (robosuite's textures, docs/heldout_robosuite)
put a painted brick wall (0.37) and wooden parquet tiles (0.40) in the gap between the two
kinds: the layout gives both their bricks and tiles back, so the threshold sits low in it.
"""

from __future__ import annotations

import numpy as np
import torch

from texstudio.engine.imageio import resize_longest_side
from texstudio.engine.losses import periodic_component

# Measured at this size: small enough to cost a few milliseconds, large enough for a few periods.
MEASURE_SIDE = 256
# Shading and lighting gradients (a Gaussian high-pass of this fraction of the side) would
# otherwise lift every lag near the centre, and a photo's slow fall-off hide its lattice.
DETREND_FRACTION = 1 / 16
# Lags beyond this share of the side overlap too little of the image to be trusted.
MAX_LAG_FRACTION = 0.45
# Repeating above, stochastic below: the shared structured photos' lowest score is 0.42, the
# highest of the stochastic, natural and colourful ones but the scales' 0.34 (bark, 0.33 on
# its exemplar half). The exemplar halves of a painted brick wall and parquet tiles
# (0.37, 0.40: docs/heldout_robosuite) are structured too, so the line is near the bottom
# of the gap; no shared photo, whole or halved, scores between 0.35 and 0.40.
REPEATING = 0.35


def detrended_spectrum(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Fourier transform of ``image``'s grey at MEASURE_SIDE px, shading and mean removed,
    and each coefficient's squared frequency (cycles per pixel), for the measures of the layout.

    ``image`` is (H, W, 3) in [0, 1].
    """
    grey = resize_longest_side(image, MEASURE_SIDE).mean(axis=2)
    # The FFT sees the image as a tile: a photo's opposite edges rarely match, and the jump
    # between them is a line the full height of the image that correlates with itself at
    # every lag along it. Its periodic component (Moisan 2011) has no such jump.
    grey = periodic_component(torch.from_numpy(np.ascontiguousarray(grey))[None, None])[0, 0].double().numpy()
    height, width = grey.shape
    fy, fx = np.fft.fftfreq(height)[:, None], np.fft.fftfreq(width)[None, :]
    frequency2 = fx ** 2 + fy ** 2
    sigma = max(height, width) * DETREND_FRACTION
    high_pass = 1.0 - np.exp(-2.0 * (np.pi * sigma) ** 2 * frequency2)  # removes the mean too
    return np.fft.fft2(grey) * high_pass, frequency2


def autocorrelation(image: np.ndarray) -> tuple[np.ndarray, float, int] | None:
    """The detrended grey autocorrelation of ``image`` at MEASURE_SIDE px, lag 0 at the centre and 1 there;
    the radius where its central lobe ends; and the furthest lag trusted, in pixels of that size.

    ``image`` is (H, W, 3) in [0, 1]. None for a flat image or one whose lobe never ends
    (one smooth blob, or a constant).
    """
    spectrum, _ = detrended_spectrum(image)
    height, width = spectrum.shape
    power = np.abs(spectrum) ** 2
    if power.sum() <= 1e-12 * height * width:
        return None
    # Circular autocorrelation (Wiener-Khinchin), 1 at lag 0, lag 0 moved to the centre.
    correlation = np.fft.fftshift(np.fft.ifft2(power).real)
    correlation /= correlation[height // 2, width // 2]
    rings = lag_radius(correlation.shape).astype(int)
    profile = np.bincount(rings.ravel(), correlation.ravel()) / np.bincount(rings.ravel())
    reach = int(min(height, width) * MAX_LAG_FRACTION)
    below = np.flatnonzero(profile[:reach] <= 0.0)
    if below.size == 0:
        return None
    return correlation, float(below[0]), reach


def lag_radius(shape: tuple[int, int]) -> np.ndarray:
    """Each position's distance from the centre of an array of ``shape``, where lag 0 sits after fftshift."""
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return np.hypot(yy - shape[0] // 2, xx - shape[1] // 2)


def periodicity(image: np.ndarray) -> float:
    """How strongly the texture repeats: the autocorrelation's highest peak beyond its central lobe.

    ``image`` is (H, W, 3) in [0, 1]. 1 is a perfect repeat, 0 none; an image whose
    central lobe never ends (one smooth blob, or a constant) scores 0.
    """
    measured = autocorrelation(image)
    if measured is None:
        return 0.0
    correlation, lobe, reach = measured
    radius = lag_radius(correlation.shape)
    beyond = (radius > lobe) & (radius < reach)
    return float(max(0.0, correlation[beyond].max())) if beyond.any() else 0.0
