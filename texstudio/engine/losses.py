"""Texture statistics and the losses that match them.

Every loss is normalised by the size of its target, so a weight of 1 means "as
important as one layer's Gram loss" whatever the backbone's activation scale.
Statistics are computed in fp32 even when features come from a lower precision.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

EPS = 1e-12


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, C): channel co-activations averaged over positions (Gatys 2015)."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w).float()
    # One batched matmul; dividing by H*W makes Grams of different canvas sizes comparable.
    return torch.bmm(flat, flat.transpose(1, 2)) / (h * w)


def shifted_gram(features: torch.Tensor, dy: int, dx: int, torus: bool = False) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, C): co-activations of each position with the one (dy, dx) away.

    Berger & Memisevic (2017): a Gram matrix forgets where things are, so rows of bricks or
    a lattice of cells dissolve; matching these cross-correlations at a few shifts as well
    keeps how features repeat across the image. On a torus the shift wraps around (so the
    seam is held to the same statistics); otherwise only the overlapping part counts.
    """
    if torus:
        shifted = features.roll(shifts=(-dy, -dx), dims=(-2, -1))
        first = features
    else:
        h, w = features.shape[-2:]
        first = features[..., :h - dy, :w - dx]
        shifted = features[..., dy:, dx:]
    n, c, h, w = first.shape
    a = first.reshape(n, c, h * w).float()
    b = shifted.reshape(n, c, h * w).float()
    return torch.bmm(a, b.transpose(1, 2)) / (h * w)


def correlation_shifts(side: int, fractions: tuple[float, ...] = (1 / 16, 1 / 8, 1 / 4)) -> list[tuple[int, int]]:
    """(dy, dx) shifts for ``shifted_gram``: fractions of an image side, down and across.

    Relative to the image, so each pyramid level looks at the same layout at its own scale.
    A side under 2 px has no room for any shift: none.
    """
    if side < 2:
        return []
    steps = sorted({max(1, round(side * f)) for f in fractions if round(side * f) < side})
    return [(d, 0) for d in steps] + [(0, d) for d in steps]


def channel_means(features: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, C): the global-average-pooling descriptor (FCN lichen project)."""
    return features.float().mean(dim=(2, 3))


def backward_sum(terms: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Back-propagate the sum of loss terms; the terms, detached."""
    torch.stack(list(terms.values())).sum().backward()
    return {k: v.detach() for k, v in terms.items()}


def relative_squared_error(current: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """||current - target||^2 / ||target||^2: scale-free, so each layer counts alike."""
    return (current - target).pow(2).sum() / (target.pow(2).sum() + EPS)


def fit_to_size(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Centre-crop, or mirror-tile then crop, a (N, 3, h, w) image to exactly (height, width).

    Mirror tiling keeps the local statistics (and so the spectrum's shape) of an exemplar
    smaller than the canvas without adding the hard edges that plain tiling would.
    """
    while image.shape[-2] < height:
        image = torch.cat([image, image.flip(-2)], dim=-2)
    while image.shape[-1] < width:
        image = torch.cat([image, image.flip(-1)], dim=-1)
    top = (image.shape[-2] - height) // 2
    left = (image.shape[-1] - width) // 2
    return image[..., top:top + height, left:left + width]


class SpectrumConstraint:
    """Fourier spectrum constraint after Liu, Gousseau & Xia (2016).

    The canvas is pulled towards its projection onto the images whose Fourier modulus is
    the exemplar's: each channel keeps its own phase and takes the target modulus. The
    projection is a fixed target for each evaluation (no gradient through it).

    Departure from the paper, on purpose: the target modulus is the exemplar's power
    spectrum averaged over crops and smoothed over neighbouring frequencies, not the
    exemplar's exact modulus with its shared colour phase. With an exemplar as large as the
    canvas, the exact version makes the exemplar itself (shifted) a perfect solution, and
    with the feature losses the optimisation converged to verbatim copies of it.
    Each crop's periodic component (Moisan 2011) is what is transformed: a photo's left
    and right edges differ, and the FFT, which wraps, sees that step as a strong vertical
    and horizontal line: a cross in the spectrum that the canvas then learns as straight
    seams and blocks.
    """

    def __init__(self, exemplar: torch.Tensor, height: int, width: int, crops: int = 8, seed: int = 0) -> None:
        reference = exemplar.float()
        generator = torch.Generator().manual_seed(seed)
        power = torch.zeros(1, 3, height, width, device=reference.device)
        patches = []
        if reference.shape[-2] >= height and reference.shape[-1] >= width:
            for _ in range(crops):
                top = int(torch.randint(0, reference.shape[-2] - height + 1, (1,), generator=generator))
                left = int(torch.randint(0, reference.shape[-1] - width + 1, (1,), generator=generator))
                patches.append(reference[..., top:top + height, left:left + width])
        else:
            patches.append(fit_to_size(reference, height, width))
        for patch in patches:
            patch = periodic_component(patch)
            centred = patch - patch.mean(dim=(2, 3), keepdim=True)
            power += torch.fft.fft2(centred).abs().pow(2)
        power = smooth_circular(power / len(patches))
        self.modulus = power.sqrt()
        # The mean colour sits in the zero frequency, which the centring removed.
        self.modulus[..., 0, 0] = reference.mean(dim=(2, 3)) * (height * width)
        self.scale = reference.var().clamp_min(1e-6)

    def projection(self, canvas: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            canvas_fft = torch.fft.fft2(canvas.float())
            phase = canvas_fft / canvas_fft.abs().clamp_min(EPS)
            return torch.fft.ifft2(phase * self.modulus).real

    def __call__(self, canvas: torch.Tensor) -> torch.Tensor:
        target = self.projection(canvas)
        return F.mse_loss(canvas.float(), target) / self.scale


def periodic_component(image: torch.Tensor) -> torch.Tensor:
    """The periodic part of the periodic + smooth decomposition of (N, C, H, W) images (Moisan 2011).

    Removes the smooth image whose Laplacian is the step across the wrap-around borders,
    so the FFT no longer sees the image's edges as a seam; the interior detail stays.
    """
    image = image.float()
    height, width = image.shape[-2:]
    boundary = torch.zeros_like(image)
    vertical = image[..., -1, :] - image[..., 0, :]
    boundary[..., 0, :] += vertical
    boundary[..., -1, :] -= vertical
    horizontal = image[..., :, -1] - image[..., :, 0]
    boundary[..., :, 0] += horizontal
    boundary[..., :, -1] -= horizontal
    cos_y = torch.cos(2 * torch.pi * torch.arange(height, device=image.device) / height)[:, None]
    cos_x = torch.cos(2 * torch.pi * torch.arange(width, device=image.device) / width)[None, :]
    denominator = 2 * cos_y + 2 * cos_x - 4
    denominator[0, 0] = 1.0  # the mean is left to the periodic part
    smooth_hat = torch.fft.fft2(boundary) / denominator
    smooth_hat[..., 0, 0] = 0
    return image - torch.fft.ifft2(smooth_hat).real


def smooth_circular(power: torch.Tensor) -> torch.Tensor:
    """3x3 binomial smoothing of a spectrum, wrapping around like frequencies do."""
    smoothed = power
    for dim in (-2, -1):
        smoothed = 0.5 * smoothed + 0.25 * (smoothed.roll(1, dims=dim) + smoothed.roll(-1, dims=dim))
    return smoothed


def random_directions(dim: int, count: int, generator: torch.Generator) -> torch.Tensor:
    """(dim, count) unit vectors, drawn on the CPU so a seed gives the same ones on any device."""
    directions = torch.randn(dim, count, generator=generator)
    return directions / directions.norm(dim=0, keepdim=True).clamp_min(EPS)


def sliced_wasserstein(current: torch.Tensor, target: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """Sliced Wasserstein distance between two point clouds (C, N) and (C, M), relative to the target's spread.

    Heitz et al. (CVPR 2021): project both on random unit directions, sort each projection
    and match sorted values. When the clouds differ in size the target's sorted values are
    read at the canvas's quantiles. It matches whole distributions, not just their second
    moments as a Gram matrix does, which keeps contrast and colour from drifting.
    """
    current_projected = directions.t() @ current.float()
    target_projected = directions.t() @ target.float()
    current_sorted = current_projected.sort(dim=1).values
    target_sorted = target_projected.sort(dim=1).values
    n, m = current_sorted.shape[1], target_sorted.shape[1]
    if n != m:
        index = ((torch.arange(n, device=target_sorted.device) + 0.5) * (m / n)).long().clamp_(max=m - 1)
        target_sorted = target_sorted[:, index]
    # correction=0: a one-point target (a deep layer of a tiny exemplar) has spread 0, not NaN.
    spread = target_projected.var(dim=1, correction=0).mean().clamp_min(1e-8)
    return (current_sorted - target_sorted).pow(2).mean() / spread


def sample_patches(image: torch.Tensor, size: int, max_points: int, generator: torch.Generator,
                   torus: bool = False) -> torch.Tensor:
    """(1, C, H, W) -> (C * size * size, N): raw pixel patches at N positions, for patch losses.

    All positions when there are at most ``max_points``, else a seeded random subset. Patches
    are gathered at the chosen positions only, so memory stays bounded at 2048 px where
    unfolding every patch would take gigabytes. On a torus, patches wrap over the edges.
    """
    tops, lefts = patch_positions(image, size, max_points, generator, torus)
    return gather_patches(image, tops, lefts, torch.arange(size, device=image.device), torus)


def patch_positions(image: torch.Tensor, size: int, max_points: int, generator: torch.Generator,
                    torus: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The top-left corners (tops, lefts) of sample_patches' patches: all, or a seeded random subset."""
    height, width = image.shape[-2:]
    rows, columns = (height, width) if torus else (height - size + 1, width - size + 1)
    if rows < 1 or columns < 1:
        raise ValueError(f"a {width}x{height} image is smaller than a {size} px patch")
    count = rows * columns
    positions = torch.randperm(count, generator=generator)[:max_points] if max_points and count > max_points \
        else torch.arange(count)
    positions = positions.to(image.device)
    return positions // columns, positions % columns


def gather_patches(image: torch.Tensor, tops: torch.Tensor, lefts: torch.Tensor, offsets: torch.Tensor,
                   torus: bool = False) -> torch.Tensor:
    """(1, C, H, W) -> (C * K * K, N): the pixels at ``offsets`` (K of them, along each axis) from each corner.

    Offsets past the image wrap on a torus and take the edge pixel otherwise.
    """
    height, width = image.shape[-2:]
    ys = tops[:, None] + offsets  # (N, K)
    xs = lefts[:, None] + offsets
    if torus:
        ys, xs = ys % height, xs % width
    else:
        ys, xs = ys.clamp(0, height - 1), xs.clamp(0, width - 1)
    patches = image[0][:, ys[:, :, None], xs[:, None, :]]  # (C, N, K, K)
    return patches.permute(0, 2, 3, 1).reshape(image.shape[1] * len(offsets) ** 2, -1)


def flatten_positions(features: torch.Tensor, max_points: int = 0,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """(1, C, H, W) -> (C, N): one point per position, for distribution losses.

    With ``max_points``, a seeded random subset of positions: sorting every position of a
    2048x2048 canvas would take gigabytes, while a quarter-million samples pin the
    distribution as well (a fresh subset each step covers the whole canvas over time).
    """
    points = features[0].reshape(features.shape[1], -1)
    if max_points and points.shape[1] > max_points:
        index = torch.randperm(points.shape[1], generator=generator)[:max_points].to(points.device)
        points = points[:, index]
    return points
