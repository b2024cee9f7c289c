"""The exemplar's lighting (engine/lighting.py): taken out before a canvas larger than it is learned."""

import json

import numpy as np
import pytest

from tests.conftest import make_texture
from texstudio.engine.lighting import lighting_surface, remove_lighting, resolve_lighting
from texstudio.engine.presets import default_config
from texstudio.engine.generators import drive
from texstudio.engine.synthesis import run_synthesis, synthesize_and_score


def lit(texture: np.ndarray, strength: float = 0.3) -> np.ndarray:
    """``texture`` under light from the top left: brighter there, darker at the bottom right, a vignette."""
    height, width = texture.shape[:2]
    y, x = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    light = strength * (0.5 - 0.6 * y - 0.4 * x + 0.5 * (x - 0.5) ** 2)
    return np.clip(texture + light[..., None], 0, 1).astype(np.float32)


def test_remove_lighting_takes_out_a_gradient_and_keeps_the_texture():
    texture = make_texture(96) * 0.6 + 0.2  # room for the light without clipping
    result = remove_lighting(lit(texture))
    # What is left is the texture, less its own (small) smooth part, at the lit photo's mean.
    expected = texture - lighting_surface(texture) + (lit(texture).mean(axis=(0, 1)) - texture.mean(axis=(0, 1)))
    assert np.abs(result - expected).max() < 0.02
    assert np.abs(result.mean(axis=(0, 1)) - lit(texture).mean(axis=(0, 1))).max() < 1e-3
    # Halves that differed by the light agree again.
    assert abs(result[:48].mean() - result[48:].mean()) < 0.02 < abs(lit(texture)[:48].mean() - lit(texture)[48:].mean())


def test_remove_lighting_on_an_evenly_lit_texture_changes_little():
    texture = make_texture(128)
    assert np.abs(remove_lighting(texture) - texture).mean() < 0.01


def test_a_large_photo_is_fitted_on_a_sample_to_the_same_surface():
    texture = lit(np.tile(make_texture(64) * 0.6 + 0.2, (5, 6, 1)))  # 320 x 384: sampled every 2 and 3 px
    dense = texture.astype(np.float64)
    surface = lighting_surface(texture)
    assert surface.shape == texture.shape and abs(surface.mean()) < 1e-6
    # The light spans 0.3 x 1.05 of the range; the sampled fit finds it to within a few per cent of that.
    assert np.abs((dense - surface) - (dense - surface).mean(axis=(0, 1))).mean() < np.abs(dense - dense.mean(axis=(0, 1))).mean()


@pytest.mark.parametrize("setting, canvas, exemplar, expected", [
    ("auto", (128, 128), (64, 64), "remove"),  # 4x the pixels
    ("auto", (111, 111), (64, 64), "remove"),  # 3.01x
    ("auto", (110, 110), (64, 64), "keep"),  # 2.95x
    ("auto", (256, 256), (256, 128), "keep"),  # half a photo onto a square (the held-out check)
    ("auto", (256, 256), (256, 171), "keep"),  # a CPU default run from a 3:2 photo
    ("auto", (64, 64), (64, 64), "keep"),
    ("keep", (512, 512), (64, 64), "keep"),
    ("remove", (64, 64), (64, 64), "remove"),
])
def test_auto_removes_the_lighting_for_a_canvas_at_least_three_times_the_exemplars_pixels(setting, canvas, exemplar, expected):
    assert resolve_lighting(setting, canvas, exemplar) == expected


def test_the_run_records_which_ran_and_scores_against_what_it_learned_from():
    exemplar = lit(make_texture(48) * 0.6 + 0.2)
    config = default_config(96, 96, device="cpu").replace(steps=6, auto_layout=False, preview_every=0)
    assert config.lighting == "auto"
    result = drive(synthesize_and_score(config, exemplar))
    assert result.config.lighting == "remove"
    assert json.loads(json.dumps(result.sidecar()))["config"]["lighting"] == "remove"
    same_size = run_synthesis(config.replace(width=48, height=48, steps=2), exemplar)
    assert same_size.config.lighting == "keep"


def edge_bands(image: np.ndarray) -> float:
    """How far the mean grey of the 4 px along each edge strays from the interior's, summed."""
    grey = image.mean(axis=2)
    inner = grey[12:-12, 12:-12].mean()
    return float(sum(abs(band.mean() - inner) for band in (grey[:4], grey[-4:], grey[:, :4], grey[:, -4:])))


def test_a_canvas_larger_than_a_lit_exemplar_no_longer_paints_the_light_onto_its_edges():
    exemplar = lit(make_texture(64, seed=3) * 0.6 + 0.2, strength=0.5)
    config = default_config(128, 128, device="cpu").replace(steps=60, auto_layout=False, preview_every=0)
    kept = run_synthesis(config.replace(lighting="keep"), exemplar).image
    removed = run_synthesis(config, exemplar).image  # auto: removed at 4x the pixels
    assert edge_bands(removed) < 0.5 * edge_bands(kept)
