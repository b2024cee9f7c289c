"""The lattice an exemplar's cells repeat on, and a first canvas of its averaged cell.

A wall of bricks or blocks repeats one cell along two vectors. Laid out from noise, the
cells grow in several places at once and meet in faults, rows bending and stepping where
two grains meet (docs/structure_probes). Folding the exemplar onto its lattice, averaging
every pixel with the pixels whole periods away, gives one mean cell: sharp where every
cell agrees (the joints, the running bond's offset), smooth where cells differ (each
brick's own colour and grain). Tiled over the canvas it is a start with every row
straight and in phase; the feature losses then give the cells their texture back. The
mean of six or more cells (four, where no lattice of six is clear: a checkerboard cropped
to 2 x 4 squares) is no one place in the exemplar, so nothing is copied.

Only a lattice the exemplar itself vouches for is used: the cell means taken from one
half of the exemplar must predict the other half (``Lattice.share``, held-out share of
variance), which noise or a stochastic texture never does, whatever the vectors.

Some cells differ in the direction of their grain, not in colour (wicker's blocks of upright
strands beside blocks of level ones, all one tan; concrete tiles whose joints are faint
lines). Their pixels' mean cell predicts nothing, every block's strands being different, so
where no lattice passes on the pixels one is looked for on maps of the grain's direction
(``Lattice.grain``, docs/grain_lattice). The run still starts from the pixels' mean cell:
blocks of upright and of level streaks, which the feature losses turn into strands.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np
import torch

from texstudio.engine.imageio import resize_longest_side
from texstudio.engine.losses import periodic_component
from texstudio.engine.periodicity import REPEATING, periodicity

# Held-out share of variance a lattice must explain (docs/lattice_init: brick and block
# walls and the checker 0.6 to 0.9; stochastic photos and the few-repeat tiles 0.3 or less).
MIN_SHARE = 0.5
# At least this many cells in the exemplar: the mean cell is then an average of that many
# places, and both halves of the exemplar hold a few.
MIN_REPEATS = 6
# Where no lattice of MIN_REPEATS cells is clear, one of this many to MIN_REPEATS is tried:
# a checkerboard cropped to 2 x 4 squares holds four cells (and the periodicity measure,
# which sees periods up to ~45 % of the shorter side, calls it stochastic: 0.07). Tried
# second, so that a lattice of more cells is never passed over for a larger one.
FEW_REPEATS = 4
# Lags of the autocorrelation searched for candidate vectors, as a share of the shorter side.
MAX_LAG_FRACTION = 0.5
PEAKS = 16  # strongest autocorrelation peaks kept from each of the two autocorrelations
REFINED = 6  # candidate pairs refined to sub-pixel vectors before the best is chosen
# The fit runs on the exemplar shrunk to this side and its vectors are scaled back: its cost
# grows with the pixels (0.3 to 1.5 s at 256 px on one core), and a vector found to 1/16 px at
# 256 px is as close, relative to its cell, at any size.
FIT_SIDE = 256
# On a torus the canvas's sides must be whole lattice vectors: the lattice is nudged to make
# them so, and used only if no vector changes by more than this share of its length.
MAX_TORUS_STRETCH = 0.03
# Where it cannot, a finer lattice is looked for (torus_lattice): the cell split in two,
# three or five, this many times over. Five: the red bricks' whole photo is fitted a cell of
# five bricks (each course shifted by a fifth of it).
SPLITS = (2, 3, 5)
TORUS_SPLITS = 2
# Where neither the lattice nor a finer one wraps round, its cell may be scaled to the tile
# (scaled_to_torus): by up to this share, the same in every direction, as if the photo had
# been taken a little nearer or further (the CLI shrinks every exemplar to 256 px anyway),
# the shape changing by no more than MAX_TORUS_STRETCH. A cell 4.45 times into a 256 px
# tile needs 11 %.
MAX_TORUS_SCALE = 0.12
# A finer lattice must agree with the coarse mean cell this well (_cell_agreement): true
# splits of synthetic bricks and of four photos' cells 0.92 to 1, wrong ones 0.47 to 0.68.
MIN_CELL_AGREEMENT = 0.8
# The grain's lattice (_grain_lattice), where the pixels have none: its maps blur the grey
# image's gradients over a few strands (px at FIT_SIDE); the lattice must explain this share
# of both maps' held-out halves, and its cell be at most MAX_GRAIN_ASPECT times as long as
# wide. Measured on 201 photos' left halves (docs/grain_lattice): wicker 0.42, concrete
# tiles 0.53, the block wall 0.68, honeycomb 0.49, robosuite's near-flat light-gray plaster
# 0.49; the next without a pixel lattice 0.32 (parquet), a painting 0.27, rust's streaks
# 0.29; grooved doors 0.48 and 0.49 but their cells 19 and 21 times as long as wide (lines,
# not cells).
GRAIN_BLUR = 4.0
MIN_GRAIN_SHARE = 0.4
MAX_GRAIN_ASPECT = 4.0
GRAIN_REFINED = 20  # pairs refined: the grain maps' in-sample best is often a wrong, larger cell

Vector = tuple[float, float]  # (dy, dx) in pixels


@dataclass(frozen=True)
class Lattice:
    v1: Vector
    v2: Vector
    share: float  # held-out share of the exemplar's variance the mean cell explains
    grain: bool = False  # found on the grain's direction (share: of its maps), not the pixels

    @property
    def area(self) -> float:
        return _area(self.v1, self.v2)


def _area(v1: Vector, v2: Vector) -> float:
    return abs(v1[0] * v2[1] - v1[1] * v2[0])


def _cells(shape: tuple[int, int], v1: Vector, v2: Vector, offset: Vector = (0.0, 0.0), fast: bool = False):
    """Each pixel's place in the cell, as fractional lattice coordinates (2, H*W), and the bins per side.

    ``fast``: the 2 x 2 inverse applied row by row, under half of np.linalg.solve's time on
    (2, H*W) (1.9 against 4.4 ms at 256 x 128 px), for the thousands of lattices a fit
    scores. A pixel on a cell's edge can land in the bin on the other side of it (shares
    differ by 1e-5), so the mean cell and the canvas keep solve and the first canvases of
    runs stay as they were.
    """
    height, width = shape
    basis = np.array([[v1[0], v2[0]], [v1[1], v2[1]]], dtype=float)
    if fast:
        inverse = np.linalg.inv(basis)
        y = np.repeat(np.arange(height, dtype=float) + offset[0], width)
        x = np.tile(np.arange(width, dtype=float) + offset[1], height)
        coords = np.stack([inverse[0, 0] * y + inverse[0, 1] * x, inverse[1, 0] * y + inverse[1, 1] * x])
    else:
        yy, xx = np.mgrid[0:height, 0:width]
        points = np.stack([yy.ravel() + offset[0], xx.ravel() + offset[1]]).astype(float)
        coords = np.linalg.solve(basis, points)
    # About one bin per pixel of the cell along each vector.
    bins = (max(2, int(round(np.hypot(*v1)))), max(2, int(round(np.hypot(*v2)))))
    return coords - np.floor(coords), bins


def _bin_index(frac: np.ndarray, bins: tuple[int, int]) -> np.ndarray:
    i = np.minimum((frac[0] * bins[0]).astype(int), bins[0] - 1)
    j = np.minimum((frac[1] * bins[1]).astype(int), bins[1] - 1)
    return i * bins[1] + j


def _bin_means(index: np.ndarray, values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(size,) pixel counts and (size, C) means of ``values`` (N, C) per bin; an empty bin's mean is 0."""
    count = np.bincount(index, minlength=size).astype(float)
    sums = np.stack([np.bincount(index, values[:, c], minlength=size) for c in range(values.shape[1])], axis=1)
    return count, sums / np.maximum(count, 1)[:, None]


def _usable(shape: tuple[int, int], v1: Vector, v2: Vector,
            repeats: tuple[float, float] = (MIN_REPEATS, np.inf)) -> bool:
    """A cell of 16 px or more that the exemplar holds repeats[0] times or more, fewer than repeats[1]."""
    area = _area(v1, v2)
    if area < 16 or not repeats[0] <= shape[0] * shape[1] / area < repeats[1]:
        return False
    return area / (np.hypot(*v1) * np.hypot(*v2)) >= 0.3  # not nearly in line


@dataclass(frozen=True)
class _Pixels:
    """An exemplar's pixels as the shares need them, computed once for the thousands of lattices tried."""
    shape: tuple[int, int]
    values: np.ndarray  # (H*W, C), the mean colour removed
    total: float  # their sum of squares
    halves: tuple[np.ndarray, np.ndarray]  # (H*W,) True in the top half; True in the left half

    @classmethod
    def of(cls, image: np.ndarray) -> _Pixels:
        height, width, channels = image.shape
        values = image.reshape(-1, channels).astype(float)
        values = values - values.mean(axis=0)
        place = np.arange(height * width)
        halves = (place // width < height // 2, place % width < width // 2)
        return cls((height, width), values, max(float((values ** 2).sum()), 1e-12), halves)


def explained_share(image: np.ndarray, v1: Vector, v2: Vector, held_out: bool = False,
                    repeats: tuple[float, float] = (MIN_REPEATS, np.inf), both_ways: bool = False) -> float:
    """Share of ``image``'s variance (H, W, C) its lattice-cell means explain.

    ``held_out``: the means from the top half predict the bottom half and the other way
    round, so bins fitted to noise earn nothing (in-sample, a larger cell always explains
    more: fewer pixels per bin). ``both_ways``: the left and right halves likewise, the
    share the mean of the two: where the shift by half the height is a period, the top and
    bottom halves agree on any lattice that has it as a vector (a clean 2 x 4 checkerboard:
    0.71 for a wrong one). 0 for a cell outside ``repeats`` (see _usable).
    """
    return _share(_Pixels.of(image), v1, v2, held_out, repeats, both_ways)


def _share(pixels: _Pixels, v1: Vector, v2: Vector, held_out: bool, repeats: tuple[float, float],
           both_ways: bool = False) -> float:
    if not _usable(pixels.shape, v1, v2, repeats):
        return 0.0
    frac, bins = _cells(pixels.shape, v1, v2, fast=True)
    index = _bin_index(frac, bins)
    values, size = pixels.values, bins[0] * bins[1]
    if not held_out:
        count, means = _bin_means(index, values, size)
        return float((count[:, None] * means ** 2).sum() / pixels.total)
    halves = pixels.halves if both_ways else pixels.halves[:1]
    residual = 0.0
    for half in halves:
        for fit, test in ((half, ~half), (~half, half)):
            _, means = _bin_means(index[fit], values[fit], size)
            residual += ((values[test] - means[index[test]]) ** 2).sum()
    return float(1.0 - residual / (len(halves) * pixels.total))


def _autocorrelation(grey: np.ndarray) -> np.ndarray:
    """Circular autocorrelation of a mean-removed image, lag 0 at the centre and 1 there."""
    grey = grey - grey.mean()
    correlation = np.fft.fftshift(np.fft.ifft2(np.abs(np.fft.fft2(grey)) ** 2).real)
    return correlation / max(correlation[grey.shape[0] // 2, grey.shape[1] // 2], 1e-12)


def _peaks(correlation: np.ndarray, max_lag: float = MAX_LAG_FRACTION) -> list[Vector]:
    """The strongest local maxima of one half-plane of lags, past the central lobe, up to
    ``max_lag`` times the shorter side from the centre."""
    height, width = correlation.shape
    padded = np.pad(correlation, 1, mode="edge")
    around = np.stack([padded[1 + dy:1 + dy + height, 1 + dx:1 + dx + width]
                       for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]).max(axis=0)
    dy, dx = np.mgrid[0:height, 0:width]
    dy, dx = dy - height // 2, dx - width // 2
    radius = np.hypot(dy, dx)
    peak = ((correlation >= around) & (radius >= 3) & (radius <= max_lag * min(height, width))
            & ((dy > 0) | ((dy == 0) & (dx > 0))))
    order = np.argsort(-correlation[peak])[:PEAKS]
    return [(float(dy[peak][i]), float(dx[peak][i])) for i in order]


def _candidates(image: np.ndarray) -> list[Vector]:
    """Lattice vectors worth trying: autocorrelation peaks, their halves, sums and differences."""
    grey = periodic_component(torch.from_numpy(np.ascontiguousarray(image.mean(axis=2), dtype=np.float64))[None, None])
    grey = grey[0, 0].numpy()
    # The grey autocorrelation is dominated by long joints (a row of mortar correlates with
    # itself at any shift along it); the gradients' sees the head joints that set the bond.
    across = np.abs(np.roll(grey, -1, axis=1) - grey)
    down = np.abs(np.roll(grey, -1, axis=0) - grey)
    joints = np.minimum(_autocorrelation(across), _autocorrelation(down))
    return _combined(_peaks(_autocorrelation(grey)) + _peaks(joints))


def _combined(found: list[Vector]) -> list[Vector]:
    """Peaks of autocorrelations, with the halves, sums and differences of the strongest six, each once."""
    strong = found[:6]
    found += [(v[0] / 2, v[1] / 2) for v in strong]
    found += [(p[0] + q[0], p[1] + q[1]) for p, q in itertools.combinations(strong, 2)]
    found += [(p[0] - q[0], p[1] - q[1]) for p, q in itertools.combinations(strong, 2)]
    unique: list[Vector] = []
    for v in found:
        v = v if v[0] > 0 or (v[0] == 0 and v[1] > 0) else (-v[0], -v[1])
        if np.hypot(*v) >= 3 and all(abs(v[0] - u[0]) > 1 or abs(v[1] - u[1]) > 1 for u in unique):
            unique.append(v)
    return unique


def _refine(pixels: _Pixels, v1: Vector, v2: Vector, repeats: tuple[float, float]) -> tuple[Vector, Vector, float]:
    """Coordinate ascent on the in-sample share, steps from half a pixel down to 1/16."""
    best = _share(pixels, v1, v2, False, repeats)
    vectors = [list(v1), list(v2)]
    step = 0.5
    while step >= 1 / 16:
        improved = True
        while improved:
            improved = False
            for i, j, sign in itertools.product(range(2), range(2), (-1, 1)):
                trial = [list(vectors[0]), list(vectors[1])]
                trial[i][j] += sign * step
                share = _share(pixels, tuple(trial[0]), tuple(trial[1]), False, repeats)
                if share > best + 1e-6:
                    best, vectors, improved = share, trial, True
        step /= 2
    return tuple(vectors[0]), tuple(vectors[1]), best


def fit_lattice(image: np.ndarray, repeating: bool | None = None) -> Lattice | None:
    """The exemplar's lattice (``image`` (H, W, 3) in [0, 1]), or None where it has no clear one.

    ``repeating``: whether periodicity(image) is REPEATING or more (measured when None).
    Where it is, a lattice of MIN_REPEATS cells or more is looked for first, then one of
    FEW_REPEATS. Where it is not, only the few-repeat one: cells that large are what the
    periodicity measure misses, and a many-cell lattice it missed would be a doubtful one
    (on a clean checkerboard of 2 x 4 squares a lattice off the squares passes the held-out
    test: the shift by half the height is a period, so the halves agree whatever the other
    vector is). Where the pixels have none, the grain's lattice (_grain_lattice), or None.
    """
    if repeating is None:
        repeating = periodicity(image) >= REPEATING
    if max(image.shape[:2]) > FIT_SIDE:
        small = resize_longest_side(image, FIT_SIDE)
        found = fit_lattice(small, repeating)
        if found is None:
            return None
        sy, sx = image.shape[0] / small.shape[0], image.shape[1] / small.shape[1]
        return replace(found, v1=(found.v1[0] * sy, found.v1[1] * sx), v2=(found.v2[0] * sy, found.v2[1] * sx))
    candidates, pixels = _candidates(image), _Pixels.of(image)
    # A few-repeat lattice is held out both ways: its two or three cells a half are the case
    # where the shift by half the height is a period. Many-cell ones keep the top/bottom test
    # alone: tried both ways on the ten photos that take them, it chose other cells on four,
    # and all four came out with a worse spectrum (docs/lattice_init, "Few repeats").
    few = ((FEW_REPEATS, MIN_REPEATS), True)
    for repeats, both_ways in (((MIN_REPEATS, np.inf), False), few) if repeating else (few,):
        best = _best_lattice(pixels, candidates, repeats, both_ways)
        if best is not None and best.share >= MIN_SHARE:
            return best
    return _grain_lattice(image)


def grain_maps(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two maps of the grain's direction, (H, W, 1) and (H, W, 2): blur(|d/dx|) - blur(|d/dy|) of
    the grey image (upright strands positive, level ones negative), and the structure tensor's
    (Jxx - Jyy, 2 Jxy) / (Jxx + Jyy) (the direction whatever the contrast), blurred by GRAIN_BLUR."""
    grey = image.mean(axis=2).astype(np.float64)
    across, down = np.roll(grey, -1, axis=1) - grey, np.roll(grey, -1, axis=0) - grey
    frequencies = np.fft.fftfreq(grey.shape[0])[:, None] ** 2 + np.fft.fftfreq(grey.shape[1])[None] ** 2
    gaussian = np.exp(-2 * (np.pi * GRAIN_BLUR) ** 2 * frequencies)

    def blur(values: np.ndarray) -> np.ndarray:
        return np.real(np.fft.ifft2(np.fft.fft2(values) * gaussian))

    jxx, jyy, jxy = blur(across ** 2), blur(down ** 2), blur(across * down)
    total = jxx + jyy + 1e-12
    return ((blur(np.abs(across)) - blur(np.abs(down)))[..., None],
            np.stack([(jxx - jyy) / total, 2 * jxy / total], axis=-1))


def _linear_autocorrelation(values: np.ndarray) -> np.ndarray:
    """Autocorrelation of a mean-removed map, zero-padded, each lag divided by its overlap;
    lags up to half of each side, 0 at the centre and 1 there. A circular one wraps lags past
    half the side round: wicker's half is 127 px wide and its blocks repeat every 80 px."""
    values = values - values.mean()
    height, width = values.shape
    padded = (2 * height, 2 * width)
    power = np.fft.fftshift(np.fft.ifft2(np.abs(np.fft.fft2(values, padded)) ** 2).real)
    overlap = np.fft.fftshift(np.fft.ifft2(np.abs(np.fft.fft2(np.ones_like(values), padded)) ** 2).real)
    correlation = (power / np.maximum(overlap, 1.0))[height - height // 2:height + height // 2 + 1,
                                                      width - width // 2:width + width // 2 + 1]
    return correlation / max(correlation[height // 2, width // 2], 1e-12)


def _grain_lattice(image: np.ndarray) -> Lattice | None:
    """A few-repeat lattice of the grain's direction (grain_maps), or None.

    Looked for on the first map (_direction_lattice); it must explain MIN_GRAIN_SHARE of both
    maps, with a cell no longer than MAX_GRAIN_ASPECT times its width (_aspect).
    """
    direction, tensor = grain_maps(image)
    found = _direction_lattice(direction)
    if found is None or found.share < MIN_GRAIN_SHARE or _aspect(found) > MAX_GRAIN_ASPECT:
        return None
    share = min(found.share, _tensor_share(tensor, found))
    return Lattice(found.v1, found.v2, share, grain=True) if share >= MIN_GRAIN_SHARE else None


def _direction_lattice(direction: np.ndarray) -> Lattice | None:
    """The best few-repeat lattice of the direction map (H, W, 1): candidates from its
    autocorrelation's peaks, every lag to half of each side; held out both ways as a
    few-repeat lattice of pixels is."""
    candidates = _combined(_peaks(_linear_autocorrelation(direction[..., 0]), max_lag=np.inf))
    return _best_lattice(_Pixels.of(direction), candidates, (FEW_REPEATS, np.inf), True, GRAIN_REFINED)


def _tensor_share(tensor: np.ndarray, lattice: Lattice) -> float:
    """Held-out share (both ways) of the structure tensor map that ``lattice``'s mean cell explains."""
    return _share(_Pixels.of(tensor), lattice.v1, lattice.v2, True, (FEW_REPEATS, np.inf), True)


def _aspect(lattice: Lattice) -> float:
    """The longer cell vector's length over the shorter's."""
    shorter, longer = sorted([np.hypot(*lattice.v1), np.hypot(*lattice.v2)])
    return longer / shorter


def _best_lattice(pixels: _Pixels, candidates: list[Vector], repeats: tuple[float, float],
                  both_ways: bool, refined: int = REFINED) -> Lattice | None:
    """The pair of ``candidates`` whose mean cell explains most of the held-out half, cells within
    ``repeats``, among the ``refined`` best in-sample."""
    shape = pixels.shape
    pairs = [(_share(pixels, p, q, False, repeats), p, q)
             for p, q in itertools.combinations(candidates, 2) if _usable(shape, p, q, repeats)]
    best: Lattice | None = None
    for _, p, q in sorted(pairs, key=lambda item: -item[0])[:refined]:
        v1, v2, _ = _refine(pixels, p, q, repeats)
        if not _usable(shape, v1, v2, repeats):
            continue
        share = _share(pixels, v1, v2, True, repeats, both_ways)
        if best is None or share > best.share:
            best = Lattice(v1, v2, share)
    return best


def torus_lattice(image: np.ndarray, lattice: Lattice, height: int, width: int) -> Lattice | None:
    """The lattice a seamless ``height`` x ``width`` tile of ``image`` starts from, or None.

    ``lattice`` itself where it can be nudged to wrap round the tile (fitted_to_torus). Else
    the finer lattice under it (its cell split in two, three or five, once or twice) that can be, and
    that explains the most of the held-out half, MIN_SHARE at least, among those the coarse
    mean cell agrees with (MIN_CELL_AGREEMENT). The fit often keeps a cell of two to nine
    true cells (in-sample share favours larger cells), whose vectors rarely divide a tile's
    sides: the red bricks' four-brick cell needs an 8 % stretch at 256 px, their one-brick
    cell 0.5 %. A finer lattice holds every vector of the coarser one, so it wraps round
    whatever tile the coarser one does, and more. Where none can be nudged, the same order
    again with cells scaled to the tile (scaled_to_torus). ``torus_tiling`` says how it is laid.
    """
    if fitted_to_torus(lattice, height, width) is not None:
        return lattice
    finer = sorted(_finer_lattices(image, lattice), key=lambda found: -found.share)
    for wraps in (fitted_to_torus, scaled_to_torus):
        for candidate in ([] if wraps is fitted_to_torus else [lattice]) + finer:
            if wraps(candidate, height, width) is not None:
                return candidate
    return None


def _finer_lattices(image: np.ndarray, lattice: Lattice) -> list[Lattice]:
    """The lattices under ``lattice`` (its cell split by SPLITS, TORUS_SPLITS times) that
    explain MIN_SHARE of the held-out half and that its mean cell agrees with."""
    small = resize_longest_side(image, FIT_SIDE) if max(image.shape[:2]) > FIT_SIDE else image
    sy, sx = image.shape[0] / small.shape[0], image.shape[1] / small.shape[1]
    pixels = _Pixels.of(small)
    # Scored as the fit's pass that found it scored it: a few-repeat lattice both ways.
    both_ways = lattice.area > image.shape[0] * image.shape[1] / MIN_REPEATS
    coarse = Lattice((lattice.v1[0] / sy, lattice.v1[1] / sx), (lattice.v2[0] / sy, lattice.v2[1] / sx), lattice.share)
    cell = _centred_cell(small, coarse)  # once: every split is compared with the same cell
    found, level = [], [(coarse.v1, coarse.v2)]
    for _ in range(TORUS_SPLITS):
        level = [finer for v1, v2 in level for index in SPLITS for finer in _finer_bases(v1, v2, index)]
        for v1, v2 in level:
            share = _share(pixels, v1, v2, True, (FEW_REPEATS, np.inf), both_ways)
            if share >= MIN_SHARE and _cell_agreement(cell, coarse, v1, v2) >= MIN_CELL_AGREEMENT:
                found.append(Lattice((v1[0] * sy, v1[1] * sx), (v2[0] * sy, v2[1] * sx), share))
    return found


def torus_tiling(lattice: Lattice, height: int, width: int) -> Lattice | None:
    """How ``lattice``'s cell is laid on a seamless tile: nudged (fitted_to_torus), else scaled (scaled_to_torus)."""
    return fitted_to_torus(lattice, height, width) or scaled_to_torus(lattice, height, width)


def scaled_to_torus(lattice: Lattice, height: int, width: int) -> Lattice | None:
    """``lattice`` scaled by up to MAX_TORUS_SCALE so that (height, 0) and (0, width) are lattice vectors, or None.

    For each scale tried, each side is written as the nearest whole combination of the
    scaled vectors and the vectors solved back, as fitted_to_torus does; kept where the map
    from the old vectors to the new is a uniform scale within MAX_TORUS_STRETCH (no turn,
    shear or squeeze beyond a nudge), the one nearest the lattice's own size.
    """
    basis = np.array([lattice.v1, lattice.v2], dtype=float)  # rows: the vectors
    sides = np.array([[height, 0.0], [0.0, width]])
    exact = np.linalg.solve(basis.T, sides.T).T  # each side in lattice vectors
    best, nearest = None, np.inf
    for scale in np.linspace(1.0 - MAX_TORUS_SCALE, 1.0 + MAX_TORUS_SCALE, 25):
        counts = np.rint(exact / scale)
        if abs(np.linalg.det(counts)) < 0.5:
            continue
        vectors = np.linalg.solve(counts, sides)
        change = np.linalg.solve(basis, vectors)  # vectors = basis @ change
        size = float(np.sqrt(abs(np.linalg.det(change))))
        if abs(size - 1.0) > MAX_TORUS_SCALE or abs(size - 1.0) >= nearest \
                or np.linalg.norm(change - size * np.eye(2), 2) > MAX_TORUS_STRETCH * size:
            continue
        best, nearest = vectors, abs(size - 1.0)
    if best is None:
        return None
    return replace(lattice, v1=(float(best[0][0]), float(best[0][1])), v2=(float(best[1][0]), float(best[1][1])))


def _centred_cell(image: np.ndarray, lattice: Lattice) -> np.ndarray:
    """``lattice``'s mean cell of ``image`` as (bins0, bins1, C), its mean taken off."""
    means, bins = mean_cell(image, lattice)
    cell = means.reshape(bins[0], bins[1], -1)
    return cell - cell.mean(axis=(0, 1))


def _cell_agreement(cell: np.ndarray, coarse: Lattice, v1: Vector, v2: Vector) -> float:
    """How well ``coarse``'s centred mean ``cell`` (_centred_cell) repeats on the finer lattice
    (v1, v2): 1 exactly, 0 no better than chance.

    The held-out share cannot tell a right split of a cell from a wrong one: bins finer than
    the pixels keep a third of a brick's 32 px apart from the others whatever the lattice, so
    a split into bricks of 10.7 px scores as high (0.994) as the true one (0.995). Here the
    coarse cell itself is shifted by each finer vector and compared with itself: the true
    split agrees (0.999; the photos' 0.92 to 0.98), a wrong one moves the head joints onto
    brick (0.47; on the red bricks photo 0.68).
    """
    bins = np.array(cell.shape[:2])
    power = 2.0 * float((cell ** 2).mean())
    if power <= 0.0:
        return 0.0
    basis = np.array([coarse.v1, coarse.v2], dtype=float)
    agreement = 1.0
    for vector in (v1, v2):
        fraction = np.linalg.solve(basis.T, np.asarray(vector, dtype=float))  # in coarse cells
        shift = (fraction - np.round(fraction)) * bins
        agreement = min(agreement, 1.0 - float(((cell - _rolled(cell, shift)) ** 2).mean()) / power)
    return agreement


def _rolled(cell: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """``cell`` (bins0, bins1, C) moved by ``shift`` bins, fractional ones bilinearly, wrapping round."""
    whole = np.floor(shift)
    part = shift - whole
    moved = np.zeros_like(cell)
    for dy, wy in ((0, 1.0 - part[0]), (1, part[0])):
        for dx, wx in ((0, 1.0 - part[1]), (1, part[1])):
            moved += wy * wx * np.roll(cell, (int(whole[0]) + dy, int(whole[1]) + dx), axis=(0, 1))
    return moved


def _finer_bases(v1: Vector, v2: Vector, index: int) -> list[tuple[Vector, Vector]]:
    """The lattices that hold (v1, v2)'s as a sublattice of prime ``index``: its cell split in ``index``.

    Each is spanned by v1 / index and v2, or by v1 and (v2 + k v1) / index for k < index.
    """
    bases = [((v1[0] / index, v1[1] / index), v2)]
    for k in range(index):
        bases.append((v1, ((v2[0] + k * v1[0]) / index, (v2[1] + k * v1[1]) / index)))
    return bases


def fitted_to_torus(lattice: Lattice, height: int, width: int) -> Lattice | None:
    """``lattice`` nudged so that (height, 0) and (0, width) are lattice vectors, or None.

    A canvas tiled on it then wraps round with every cell whole: a seamless tile. Each side
    is written as the nearest whole combination of the two vectors, and the vectors solved
    back from those; None where that stretches a vector by more than MAX_TORUS_STRETCH (a
    cell too large for the canvas to hold many).
    """
    basis = np.array([[lattice.v1[0], lattice.v2[0]], [lattice.v1[1], lattice.v2[1]]])
    counts = np.rint(np.stack([np.linalg.solve(basis, [height, 0.0]), np.linalg.solve(basis, [0.0, width])]))
    if abs(np.linalg.det(counts)) < 0.5:
        return None
    vectors = np.linalg.solve(counts, np.array([[height, 0.0], [0.0, width]]))
    for new, old in zip(vectors, (lattice.v1, lattice.v2)):
        if np.hypot(*(new - np.asarray(old))) > MAX_TORUS_STRETCH * np.hypot(*old):
            return None
    return replace(lattice, v1=(float(vectors[0][0]), float(vectors[0][1])),
                   v2=(float(vectors[1][0]), float(vectors[1][1])))


def mean_cell(image: np.ndarray, lattice: Lattice) -> tuple[np.ndarray, tuple[int, int]]:
    """The exemplar folded onto one cell: (bins0 * bins1, C) means, and the bins per side."""
    height, width, channels = image.shape
    frac, bins = _cells((height, width), lattice.v1, lattice.v2)
    index = _bin_index(frac, bins)
    count, means = _bin_means(index, image.reshape(-1, channels).astype(float), bins[0] * bins[1])
    means = means.reshape(bins[0], bins[1], channels)
    # A lattice of whole-pixel vectors puts pixels in only some bins (64 places along a
    # 72-bin side): each empty bin takes the mean of its filled neighbours, round the cell.
    filled = (count > 0).reshape(bins)
    while not filled.all():
        total = np.zeros_like(means)
        weight = np.zeros(bins)
        for axis, shift in ((0, 1), (0, -1), (1, 1), (1, -1)):
            total += np.roll(means * filled[..., None], shift, axis)
            weight += np.roll(filled, shift, axis)
        grow = ~filled & (weight > 0)
        means[grow] = total[grow] / weight[grow][:, None]
        filled = filled | grow
    return means.reshape(-1, channels), bins


def lattice_canvas(image: np.ndarray, lattice: Lattice, height: int, width: int,
                   rng: np.random.Generator, tiling: Lattice | None = None) -> np.ndarray:
    """A (height, width, C) canvas of the mean cell tiled on the lattice, at a random phase.

    ``lattice`` is at the scale of ``image`` and of the canvas; the cell is folded from the
    exemplar on it and laid on the canvas on ``tiling`` (the same cell nudged to fit a torus:
    ``fitted_to_torus``), or on ``lattice`` itself. Sampled bilinearly from the cell's bins,
    wrapping round the cell.
    """
    means, bins = mean_cell(image, lattice)
    cell = means.reshape(bins[0], bins[1], -1)
    tiling = tiling or lattice
    phase = rng.random(2)
    offset = (phase[0] * tiling.v1[0] + phase[1] * tiling.v2[0], phase[0] * tiling.v1[1] + phase[1] * tiling.v2[1])
    frac, _ = _cells((height, width), tiling.v1, tiling.v2, offset)
    u = frac[0] * bins[0] - 0.5  # bin centres at (k + 0.5) / bins
    v = frac[1] * bins[1] - 0.5
    u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
    fu, fv = (u - u0)[:, None], (v - v0)[:, None]
    i0, i1 = u0 % bins[0], (u0 + 1) % bins[0]
    j0, j1 = v0 % bins[1], (v0 + 1) % bins[1]
    out = ((1 - fu) * (1 - fv) * cell[i0, j0] + (1 - fu) * fv * cell[i0, j1]
           + fu * (1 - fv) * cell[i1, j0] + fu * fv * cell[i1, j1])
    return out.reshape(height, width, -1).clip(0.0, 1.0).astype(np.float32)
