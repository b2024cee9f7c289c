"""Quality measures that need no pretrained network."""

from __future__ import annotations

import numpy as np


# The share of interior lines a seamless wrap may be rougher than: a texture's own strongest
# lines (mortar joints, cell walls) set the scale, not its average line.
SEAM_QUANTILE = 0.99


def _line_steps(image: np.ndarray, axis: int) -> np.ndarray:
    """Mean absolute step between neighbouring lines along axis; the last entry is the wrap (last to first)."""
    wrapped = np.concatenate([image, np.take(image, [0], axis=axis)], axis=axis)
    return np.abs(np.diff(wrapped, axis=axis)).mean(axis=tuple(a for a in range(image.ndim) if a != axis))


def seam_score(image: np.ndarray) -> float:
    """How rough the wrap-around edges are next to the texture's own lines, for tiles.

    Per direction: the mean absolute step between neighbouring rows (columns), line by line;
    the wrap's step (last row to first) divided by the 99th percentile of the interior
    lines' steps; the worse of the two directions. Up to 1 the wrap is no rougher than
    lines the texture has anyway; a seam scores above (the default at 128 px on ten shared
    photos: 0.13 to 0.93 tileable, 1.11 to 3.68 untiled; docs/seam_score).

    Dividing by the interior's mean step instead (the score before 2026-12) made one
    line's chance the verdict: a seamless brick or honeycomb tile whose wrap fell on a
    mortar joint or a cell wall scored 1.4 to 1.8 and was flagged as a seam. A seam fainter
    than the texture's strongest lines still scores below 1: this measure cannot tell it
    from one of them.
    """
    image = np.asarray(image, dtype=np.float64)
    scores = []
    for axis in (0, 1):
        steps = _line_steps(image, axis)
        interior = np.quantile(steps[:-1], SEAM_QUANTILE)
        scores.append(steps[-1] / max(interior, 1e-12))
    return float(max(scores))


def _sliced_distance(a: np.ndarray, b: np.ndarray, directions: int, seed: int) -> float:
    """Sliced Wasserstein-1 distance between point sets a (N, D) and b (M, D), fixed directions."""
    rng = np.random.default_rng(seed)
    dirs = rng.normal(size=(a.shape[1], directions))
    dirs /= np.linalg.norm(dirs, axis=0, keepdims=True)
    pa, pb = np.sort(a @ dirs, axis=0), np.sort(b @ dirs, axis=0)
    quantiles = (np.arange(256) + 0.5) / 256
    qa = np.quantile(pa, quantiles, axis=0, method="nearest")
    qb = np.quantile(pb, quantiles, axis=0, method="nearest")
    return float(np.abs(qa - qb).mean())


# Pixels per image the colour distance compares: all of them up to 512x512. A 4096 px
# output has 16 million, and their projections on 64 directions alone would take 8 GB; a
# quarter million samples read the 256 quantiles compared to well within the measure's noise.
COLOR_MAX_PIXELS = 1 << 18


def _some_pixels(image: np.ndarray, seed: int) -> np.ndarray:
    pixels = image.reshape(-1, 3)
    if len(pixels) <= COLOR_MAX_PIXELS:
        return pixels
    return pixels[np.random.default_rng(seed).choice(len(pixels), COLOR_MAX_PIXELS, replace=False)]


def color_distance(output: np.ndarray, reference: np.ndarray) -> float:
    """How far the RGB distributions are apart (sliced Wasserstein-1, in [0, 1] units)."""
    return _sliced_distance(_some_pixels(output, 1), _some_pixels(reference, 2), directions=64, seed=0)


def _radial_log_power(image: np.ndarray, bins: int = 32) -> np.ndarray:
    grey = image.mean(axis=2)
    grey = grey - grey.mean()
    power = np.abs(np.fft.fft2(grey)) ** 2 / grey.size
    fy = np.fft.fftfreq(grey.shape[0])[:, None]
    fx = np.fft.fftfreq(grey.shape[1])[None, :]
    radius = np.sqrt(fx ** 2 + fy ** 2)
    edges = np.linspace(0, 0.5, bins + 1)
    which = np.digitize(radius, edges) - 1
    profile = np.array([power[which == i].mean() if np.any(which == i) else 0.0 for i in range(bins)])
    return np.log10(profile + 1e-10)


def spectrum_distance(output: np.ndarray, reference: np.ndarray) -> float:
    """Mean absolute gap between radially averaged log power spectra (decades; 0 = same)."""
    return float(np.abs(_radial_log_power(output) - _radial_log_power(reference))[1:].mean())


def _patches(image: np.ndarray, size: int, count: int, rng: np.random.Generator) -> np.ndarray:
    height, width = image.shape[:2]
    ys = rng.integers(0, height - size + 1, count)
    xs = rng.integers(0, width - size + 1, count)
    return np.stack([image[y:y + size, x:x + size].reshape(-1) for y, x in zip(ys, xs)])


def _halve(image: np.ndarray) -> np.ndarray:
    height, width = (image.shape[0] // 2) * 2, (image.shape[1] // 2) * 2
    image = image[:height, :width]
    return image.reshape(height // 2, 2, width // 2, 2, 3).mean(axis=(1, 3))


def patch_distance(output: np.ndarray, reference: np.ndarray, scales: int = 3, patch: int = 7,
                   count: int = 2000, seed: int = 0) -> float:
    """Multi-scale patch-distribution distance: sliced Wasserstein between 7x7 patch sets.

    Compared at full, half and quarter scale, so both fine grain and larger structures
    count; averaged over scales. Lower is better; two crops of one texture score low.
    """
    rng = np.random.default_rng(seed)
    distances = []
    for scale in range(scales):
        if min(output.shape[:2]) < patch or min(reference.shape[:2]) < patch:
            break
        a = _patches(output, patch, count, rng)
        b = _patches(reference, patch, count, rng)
        distances.append(_sliced_distance(a, b, directions=128, seed=seed + scale))
        output, reference = _halve(output), _halve(reference)
    return float(np.mean(distances)) if distances else float("nan")


def copy_fraction(output: np.ndarray, exemplar: np.ndarray, patch: int = 16, stride: int = 8,
                  threshold: float = 0.9) -> float:
    """Share of the output's patches that are near-verbatim copies of an exemplar patch.

    Each output patch (every ``stride`` px) is matched to the exemplar patch it correlates
    with best (normalised cross-correlation c1, any position) and to the best one that does
    not overlap that match (c2). It counts as copied when c1 is at least ``threshold`` and
    the match is distinctive: its distance (between unit vectors, sqrt(2 - 2c)) at most
    COPY_RATIO times the runner-up's, as in Lowe's ratio test for feature matches. A copy
    survives the blur and faint noise that synthesis adds and still points at one place in
    the exemplar; a brick drawn like the exemplar's bricks correlates with all of them about
    equally, so a texture's own repeats do not count. (On the 40 shared photos a second
    crop of the same photo used to count as 38 % copied on average, all of it for fur,
    bricks and honeycomb; now 3 %, and a noisy copy is found at 80 %, not 46 %:
    docs/copy_metric.) A perfectly periodic exemplar admits no copies: a copy of it and a
    perfect synthesis are the same image. Flat patches (no texture) never count. 0 means
    no copying.
    """
    ours, our_norms = _unfold_centred(output, patch, stride, 0, output.shape[0])
    return _copied_share(ours, our_norms, exemplar, patch, threshold)


def self_copy_fraction(exemplar: np.ndarray, patch: int = 16, stride: int = 8, threshold: float = 0.9) -> float:
    """How often the exemplar's own patches pass copy_fraction's test against its other parts.

    Each exemplar patch (every ``stride`` px) is matched as copy_fraction matches an output
    patch, but only to exemplar patches that do not overlap it. This is the share a second
    sample of the same texture would score by chance: where the exemplar holds only a few
    large structures (a half of a checker of 2 x 4 squares, a few smooth blobs, at quarter
    scale), each of them resembles its one best match far more than the runner-up, and a
    faithful synthesis "copies" them. layout_copy_fraction discounts such scales.
    """
    ours, our_norms = _unfold_centred(exemplar, patch, stride, 0, exemplar.shape[0])
    columns = (exemplar.shape[1] - patch) // stride + 1
    index = np.arange(len(ours))
    own = (index // columns * stride, index % columns * stride)
    # A quarter of the budget, a sample of at least 256 patches (the share within about 3
    # points): only its double is compared with, and a 512 px report searched it as long as
    # its result's copies (9 s).
    return _copied_share(ours, our_norms, exemplar, patch, threshold, own=own, max_pairs=COPY_MAX_PAIRS // 4,
                         min_sample=256)


def _copied_share(ours, our_norms, exemplar: np.ndarray, patch: int, threshold: float, own=None,
                  max_pairs: int | None = None, min_sample: int = 1024) -> float:
    """copy_fraction's test on the unit patch vectors ``ours`` (their norms ``our_norms``).

    ``own`` (tops, lefts), for patches cut from the exemplar itself: where each came from;
    its best match and runner-up are then sought away from it. Past ``max_pairs`` patch pairs
    (COPY_MAX_PAIRS) a seeded sample of ``ours`` is searched, ``min_sample`` at least."""
    import torch  # the nearest-neighbour searches are big matrix products

    if len(ours) == 0 or min(exemplar.shape[:2]) < patch:
        return 0.0
    own = None if own is None else [torch.as_tensor(np.asarray(side)) for side in own]
    # Every exemplar position: a copy one pixel off the search grid correlates far less on a
    # fine texture (a copy of the grass photo under faint noise: 0.4 % found searching every
    # 2nd pixel, 91 % every pixel).
    # Where even the smallest sample of ours against every position would pass the pair
    # budget (exemplars above about 512 px), every 2nd or 4th position.
    max_pairs = max_pairs or COPY_MAX_PAIRS
    step = 1
    while step < 4 and ((exemplar.shape[0] - patch) // step + 1) * ((exemplar.shape[1] - patch) // step + 1) \
            * min(len(ours), min_sample) > max_pairs:
        step *= 2
    rows, columns = [(side - patch) // step + 1 for side in exemplar.shape[:2]]
    if len(ours) * rows * columns > max_pairs:
        # A seeded sample of the patches: the share of copies, within a percent (1,024).
        keep = max(min_sample, max_pairs // (rows * columns))
        if keep < len(ours):
            pick = torch.from_numpy(np.random.default_rng(0).choice(len(ours), keep, replace=False))
            ours, our_norms = ours[pick], our_norms[pick]
            own = None if own is None else [side[pick] for side in own]
    textured = _textured(our_norms, ours.shape[1])
    if not bool(textured.any()):
        return 0.0
    ours = ours[textured]
    own = [] if own is None else [(own[0][textured], own[1][textured])]
    best, where = _best_exemplar_match(ours, exemplar, patch, step, rows, columns, exclude=own)
    candidates = best >= threshold
    if not bool(candidates.any()):
        return 0.0
    # The runner-up: the best match that does not overlap the best one (nor, for the
    # exemplar's own patches, where the patch came from).
    where = where[candidates]
    exclude = [(where // columns * step, where % columns * step)] + [(t[candidates], l[candidates]) for t, l in own]
    runner_up, _ = _best_exemplar_match(ours[candidates], exemplar, patch, step, rows, columns, exclude=exclude)
    copied = (1.0 - best[candidates]) <= COPY_RATIO ** 2 * (1.0 - runner_up)
    return float(copied.sum()) / len(ours)


def _textured(norms, size: int):
    """Which patches (their mean-free norms, ``size`` values each) have texture: RMS contrast
    above 2 % of the full range. Flat patches correlate with anything and never count."""
    return norms > 0.02 * np.sqrt(size)


def _best_exemplar_match(ours, exemplar: np.ndarray, patch: int, step: int, rows: int, columns: int,
                         exclude=()):
    """For each unit patch vector in ``ours``: its best correlation with the exemplar's
    patches (every ``step`` px) and that patch's index (row * columns + column). ``exclude``: a
    list of positions (tops, lefts), one per vector each: patches overlapping any are left out."""
    import torch

    best = torch.full((len(ours),), -1.0)
    where = torch.zeros(len(ours), dtype=torch.long)
    # The exemplar's patches are unfolded a band of rows at a time: all at once, a 2048 px
    # exemplar's million patches would take 6 GB.
    band = max(1, 4096 // columns)
    for first in range(0, rows, band):
        top = step * first
        theirs, _ = _unfold_centred(exemplar, patch, step, top,
                                    min(exemplar.shape[0], top + step * (band - 1) + patch))
        similarity = ours @ theirs.t()
        tops = (first + torch.arange(len(theirs) // columns)) * step
        lefts = torch.arange(columns) * step
        for excluded_tops, excluded_lefts in exclude:
            # Overlap is "rows overlap and columns overlap": built from the two small tables.
            rows_overlap = (tops[None] - excluded_tops[:, None]).abs() < patch
            columns_overlap = (lefts[None] - excluded_lefts[:, None]).abs() < patch
            overlap = rows_overlap[:, :, None] & columns_overlap[:, None, :]
            similarity.masked_fill_(overlap.reshape(len(ours), -1), -1.0)
        value, index = similarity.max(dim=1)
        better = value > best
        best = torch.where(better, value, best)
        where = torch.where(better, index + first * columns, where)
    return best, where


# Output x exemplar patch pairs one copy search compares at most (about 4 s of one core):
# 256 px against a 512 px tall half compares all of them (110 million); beyond that the
# output's patches are sampled, at least 1,024 (the share of copies within about 2 points),
# and past 512 px exemplars are searched every 2nd pixel, past 1024 px every 4th. (A 2048 px
# result against a 2048 px exemplar once compared all 65 billion pairs, every 2 px, for
# most of an hour; with a budget of 2^30 pairs a 512 px report took 47 s.)
COPY_MAX_PAIRS = 1 << 28
# Best match's distance over the runner-up's, at most (copy_fraction). On the 40 shared
# photos (bench/copy_metric.py) 0.7 kept second crops of the same photo at 3 % copied on
# average and found 80 % of a copy under faint noise (90 % is the most: a tenth of that
# copy's patches straddle its wrap-around).
COPY_RATIO = 0.7


def _unfold_centred(image: np.ndarray, patch: int, step: int, top: int, bottom: int):
    """Rows ``top:bottom`` of ``image`` cut into patch x patch patches every ``step`` px:
    (count, 3 * patch * patch) mean-free unit vectors, and their norms before scaling."""
    import torch

    tensor = torch.from_numpy(np.ascontiguousarray(image[top:bottom], dtype=np.float32)).permute(2, 0, 1)[None]
    return unit_vectors(torch.nn.functional.unfold(tensor, patch, stride=step)[0].t())  # (count, 3*patch*patch)


def unit_vectors(rows):
    """(N, D) tensor -> each row made mean-free and of unit length, and its norm before scaling (N,).

    Normalised cross-correlation is then a dot product: the copy metric's, and the layout's
    copy term's (engine/copy_penalty.py), which differentiates through it."""
    centred = rows - rows.mean(dim=1, keepdim=True)
    norms = centred.norm(dim=1, keepdim=True)
    return centred / norms.clamp_min(1e-6), norms[:, 0]


def copy_fraction_by_scale(output: np.ndarray, exemplar: np.ndarray, scales: int = 3) -> list[float]:
    """copy_fraction at full, half and quarter scale (fewer where either image gets under 16 px)."""
    fractions = []
    for _ in range(scales):
        if min(output.shape[:2]) < 16 or min(exemplar.shape[:2]) < 16:
            break
        fractions.append(copy_fraction(output, exemplar))
        output, exemplar = _halve(output), _halve(exemplar)
    return fractions


def layout_copy_fraction(output: np.ndarray, exemplar: np.ndarray, scales: int = 3) -> float:
    """The worst copy fraction over full, half and quarter scale, where it is more than chance.

    A result can reproduce the exemplar's arrangement (where the big blobs are) while its
    fine detail differs: at a coarser scale that shows up as copied patches. But at a coarse
    scale an exemplar may hold so few structures that its own parts pass for copies of each
    other (self_copy_fraction), and so would a second crop of it: a scale counts only where
    the output's share is at least CHANCE_FACTOR times the exemplar's own.
    """
    worst, chance_scale = 0.0, exemplar
    for fraction in copy_fraction_by_scale(output, exemplar, scales):
        if fraction > worst and fraction >= CHANCE_FACTOR * self_copy_fraction(chance_scale):
            worst = fraction
        chance_scale = _halve(chance_scale)
    return worst


# How many times the exemplar's own share of chance copies a scale's copy fraction must be
# to count (layout_copy_fraction). At quarter scale the black-and-white checker's half scores
# 0.35 against itself, its second half 0.24, a faithful checker 0.47; slime 0.43, 0.38 and
# 0.33; an earlier default's layout copy of robosuite's wood panels: 0.10 and 0.63
# (docs/heldout_robosuite). On the 40 shared photos (docs/copy_metric) second crops fall from
# 0.034 to 0.014 on average, faint-noise copies from 0.80 to 0.79.
CHANCE_FACTOR = 2.0


# Values above which a report means a visible problem, and that problem in words; shared by
# the GUI's quality panel and the CLI. A tenth of the patches copied is a visible copy, and
# more than chance: a second crop of a shared photo scores up to 0.02 (but the scale stones,
# a photo tiled from one small tile: 0.47), the default's results on them up to 0.06,
# faint-noise copies 0.8 on average (docs/copy_metric). Seamless tiles of ten shared photos
# scored 0.13 to 0.95, the same runs untiled 1.11 to 3.68 (docs/seam_score).
PROBLEM_LIMITS = {"copy_fraction": 0.1, "seam_score": 1.0}
PROBLEMS = {"copy_fraction": "copies the exemplar", "seam_score": "a seam shows when tiled"}


def problems(report: dict[str, float]) -> dict[str, str]:
    """The report's numbers that mean a visible problem: metric -> the problem in words."""
    return {key: PROBLEMS[key] for key, limit in PROBLEM_LIMITS.items()
            if report.get(key) is not None and report[key] > limit}


def quality_report(output: np.ndarray, exemplar: np.ndarray, tileable: bool = False) -> dict[str, float]:
    """All metrics of one result against its exemplar, for the GUI and the sidecar."""
    report = {
        "color_distance": color_distance(output, exemplar),
        "spectrum_distance": spectrum_distance(output, exemplar),
        "patch_distance": patch_distance(output, exemplar),
        "copy_fraction": layout_copy_fraction(output, exemplar),
    }
    if tileable:
        report["seam_score"] = seam_score(output)
    return {k: round(v, 5) for k, v in report.items()}
