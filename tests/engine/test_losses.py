import numpy as np
import torch

from texstudio.engine.losses import (
    SpectrumConstraint, channel_means, fit_to_size, gram_matrix, relative_squared_error,
)


def test_gram_is_symmetric_psd_and_matches_a_direct_computation():
    torch.manual_seed(0)
    features = torch.randn(2, 5, 7, 6)
    gram = gram_matrix(features)
    assert gram.shape == (2, 5, 5)
    assert torch.allclose(gram, gram.transpose(1, 2))
    eigenvalues = torch.linalg.eigvalsh(gram.double())
    assert eigenvalues.min() > -1e-9
    # Direct: sum over positions of f_i(p) f_j(p), divided by the number of positions.
    direct = torch.zeros(2, 5, 5)
    for n in range(2):
        for i in range(5):
            for j in range(5):
                direct[n, i, j] = (features[n, i] * features[n, j]).sum() / (7 * 6)
    assert torch.allclose(gram, direct, atol=1e-5)


def test_relative_error_is_scale_free_and_zero_at_target():
    target = torch.rand(4, 4) + 0.1
    current = target * 1.5
    assert relative_squared_error(target, target) == 0
    assert torch.isclose(relative_squared_error(current, target),
                         relative_squared_error(current * 10, target * 10))


def test_channel_means_is_the_spatial_mean():
    features = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    assert torch.allclose(channel_means(features), features.mean(dim=(2, 3)))


def test_fit_to_size_crops_or_mirror_tiles():
    image = torch.rand(1, 3, 10, 12)
    assert fit_to_size(image, 6, 8).shape == (1, 3, 6, 8)
    big = fit_to_size(image, 25, 30)
    assert big.shape == (1, 3, 25, 30)


def test_spectrum_projection_takes_the_target_modulus_and_keeps_the_canvas_phase():
    torch.manual_seed(1)
    exemplar = torch.rand(1, 3, 32, 32)
    canvas = torch.rand(1, 3, 16, 16)
    constraint = SpectrumConstraint(exemplar, 16, 16)
    projected = constraint.projection(canvas)
    canvas_fft, projected_fft = torch.fft.fft2(canvas), torch.fft.fft2(projected)
    assert torch.allclose(projected_fft.abs(), constraint.modulus, rtol=1e-3, atol=1e-3)
    strong = constraint.modulus > 1e-2
    assert torch.allclose(torch.angle(projected_fft)[strong], torch.angle(canvas_fft)[strong], atol=1e-3)
    # Projecting twice changes nothing, and the projection has zero loss.
    assert torch.allclose(constraint.projection(projected), projected, atol=1e-4)
    assert constraint(projected) < 1e-8 < constraint(canvas)


def test_spectrum_target_is_smoothed_so_the_exemplar_is_not_a_perfect_answer():
    # With an exemplar exactly the canvas's size, the exact modulus made a shifted copy of
    # the exemplar a zero-loss solution, and synthesis converged to copies of it.
    torch.manual_seed(2)
    exemplar = torch.rand(1, 3, 32, 32)
    constraint = SpectrumConstraint(exemplar, 32, 32)
    shifted = torch.roll(exemplar, shifts=(5, 9), dims=(2, 3))
    assert constraint(shifted) > 0.05
    # The mean colour is still pinned exactly.
    assert torch.allclose(constraint.projection(torch.rand(1, 3, 32, 32)).mean(dim=(2, 3)),
                          exemplar.mean(dim=(2, 3)), atol=1e-5)


def test_sliced_wasserstein_is_zero_for_the_same_cloud_and_grows_with_a_shift():
    from texstudio.engine.losses import random_directions, sliced_wasserstein

    generator = torch.Generator().manual_seed(0)
    cloud = torch.randn(8, 500, generator=generator)
    directions = random_directions(8, 16, generator)
    permuted = cloud[:, torch.randperm(500, generator=generator)]
    assert sliced_wasserstein(permuted, cloud, directions) < 1e-10  # order of points does not matter
    near = sliced_wasserstein(cloud + 0.1, cloud, directions)
    far = sliced_wasserstein(cloud + 1.0, cloud, directions)
    assert 0 < near < far
    # Different sizes: the target is read at the canvas's quantiles.
    bigger = torch.randn(8, 2000, generator=generator)
    assert sliced_wasserstein(cloud, bigger, directions) < sliced_wasserstein(cloud * 3, bigger, directions)


def test_sliced_wasserstein_sees_what_a_gram_matrix_misses():
    from texstudio.engine.losses import random_directions, sliced_wasserstein

    generator = torch.Generator().manual_seed(1)
    gaussian = torch.randn(1, 4000, generator=generator)
    signs = torch.sign(torch.randn(1, 4000, generator=generator))  # +-1: same second moment
    assert torch.isclose(gaussian.pow(2).mean(), signs.pow(2).mean(), rtol=0.1)
    directions = random_directions(1, 1, generator)
    assert sliced_wasserstein(signs, gaussian, directions) > 0.05


def test_periodic_component_removes_the_wrap_around_step_and_keeps_the_detail():
    from texstudio.engine.losses import periodic_component
    from texstudio.engine.metrics import seam_score

    y, x = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    detail = 0.1 * torch.sin(y * 0.7) * torch.cos(x * 0.9)
    ramp = (x / 64 + detail)[None, None].repeat(1, 3, 1, 1)  # a photo whose left and right edges differ
    periodic = periodic_component(ramp)
    as_image = lambda t: t[0].permute(1, 2, 0).numpy()  # noqa: E731
    assert seam_score(as_image(ramp)) > 10 and seam_score(as_image(periodic)) < 1.5
    # What is taken away is smooth: the fine detail (its Laplacian) is unchanged inside.
    laplacian = lambda t: (4 * t[..., 1:-1, 1:-1] - t[..., :-2, 1:-1] - t[..., 2:, 1:-1]  # noqa: E731
                           - t[..., 1:-1, :-2] - t[..., 1:-1, 2:])
    assert torch.allclose(laplacian(ramp)[..., 2:-2, 2:-2], laplacian(periodic)[..., 2:-2, 2:-2], atol=1e-4)


def test_shifted_gram_is_a_sum_over_position_pairs_a_shift_apart():
    from texstudio.engine.losses import shifted_gram

    torch.manual_seed(0)
    features = torch.randn(1, 3, 6, 7)
    assert torch.allclose(shifted_gram(features, 0, 0), gram_matrix(features))
    planar, torus = shifted_gram(features, 1, 2), shifted_gram(features, 1, 2, torus=True)
    direct_planar, direct_torus = torch.zeros(3, 3), torch.zeros(3, 3)
    for i in range(3):
        for j in range(3):
            # Planar: only pairs inside the image; torus: every position, wrapping around.
            direct_planar[i, j] = (features[0, i, :5, :5] * features[0, j, 1:, 2:]).sum() / (5 * 5)
            wrapped = features[0, j].roll(shifts=(-1, -2), dims=(0, 1))
            direct_torus[i, j] = (features[0, i] * wrapped).sum() / (6 * 7)
    assert torch.allclose(planar[0], direct_planar, atol=1e-5)
    assert torch.allclose(torus[0], direct_torus, atol=1e-5)


def test_shifted_grams_see_a_layout_that_a_gram_matrix_misses():
    from texstudio.engine.losses import shifted_gram

    # Stripes two columns wide and one column wide: the same values in the same amounts,
    # so the same Gram matrix, but a different layout.
    wide = torch.tensor([1.0, 1.0, 0.0, 0.0]).repeat(8)[None, None, None, :].expand(1, 1, 8, 32)
    narrow = torch.tensor([1.0, 0.0]).repeat(16)[None, None, None, :].expand(1, 1, 8, 32)
    assert torch.allclose(gram_matrix(wide), gram_matrix(narrow))
    assert relative_squared_error(shifted_gram(wide, 0, 2), shifted_gram(narrow, 0, 2)) > 0.9


def test_correlation_shifts_scale_with_the_image_and_run_down_and_across():
    from texstudio.engine.losses import correlation_shifts

    assert correlation_shifts(256) == [(16, 0), (32, 0), (64, 0), (0, 16), (0, 32), (0, 64)]
    assert correlation_shifts(64) == [(4, 0), (8, 0), (16, 0), (0, 4), (0, 8), (0, 16)]
    # A tiny image still gets shifts inside it, each once.
    assert correlation_shifts(8) == [(1, 0), (2, 0), (0, 1), (0, 2)]
