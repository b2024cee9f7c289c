import numpy as np

from texstudio.engine.metrics import (
    color_distance, copy_fraction, patch_distance, quality_report, spectrum_distance,
)

from ..conftest import make_texture


def test_metrics_separate_a_second_crop_from_broken_versions():
    texture = make_texture(128, seed=7)
    exemplar, reference = texture[:, :64], texture[:, 64:]
    shuffled = exemplar.reshape(-1, 3)[np.random.default_rng(0).permutation(64 * 128)].reshape(exemplar.shape)
    tinted = np.clip(reference + np.array([0.2, 0.0, -0.1], np.float32), 0, 1)
    # Colour: a tint is far, shuffling is the same colours.
    assert color_distance(tinted, exemplar) > 3 * color_distance(reference, exemplar)
    assert color_distance(shuffled, exemplar) < 1e-6
    # Spectrum and patches: shuffling destroys structure, a second crop keeps it.
    assert spectrum_distance(shuffled, exemplar) > 3 * spectrum_distance(reference, exemplar)
    assert patch_distance(shuffled, exemplar) > 2 * patch_distance(reference, exemplar)


def test_copy_detection_flags_verbatim_patches_only():
    texture = make_texture(96, seed=8)
    exemplar = texture[:64, :64]
    assert copy_fraction(exemplar.copy(), exemplar) == 1.0
    collage = np.concatenate([exemplar[:, :32], texture[:64, 64:96]], axis=1)  # left half copied
    assert 0.3 < copy_fraction(collage, exemplar) < 0.7
    # A copy with synthesis-like noise on it is still a copy; another texture's patches are not.
    noisy = np.clip(exemplar + np.random.default_rng(0).normal(0, 0.05, exemplar.shape), 0, 1).astype(np.float32)
    assert copy_fraction(noisy, exemplar) > 0.9
    assert copy_fraction(make_texture(64, seed=11), exemplar) < 0.2


def test_layout_copies_are_caught_at_a_coarser_scale():
    from texstudio.engine.metrics import layout_copy_fraction

    texture = make_texture(128, seed=9)
    exemplar = texture[:64, :64]
    # Same arrangement, different fine detail: the exemplar blurred plus fresh noise.
    rng = np.random.default_rng(1)
    blurred = (exemplar + np.roll(exemplar, 1, 0) + np.roll(exemplar, 1, 1) + np.roll(exemplar, (1, 1), (0, 1))) / 4
    layout = np.clip(blurred + rng.normal(0, 0.06, exemplar.shape), 0, 1).astype(np.float32)
    assert layout_copy_fraction(layout, exemplar) > 0.5
    assert layout_copy_fraction(texture[64:, 64:], exemplar) < 0.2


def test_quality_report_has_every_metric():
    texture = make_texture(64)
    report = quality_report(texture, texture, tileable=True)
    assert set(report) == {"color_distance", "spectrum_distance", "patch_distance", "copy_fraction", "seam_score"}
