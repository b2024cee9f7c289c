"""The layout stage: raw-pixel patch matching on the pyramid's coarse levels (engine/layout.py)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from texstudio.engine.config import SynthConfig
from texstudio.engine.errors import ConfigError
from texstudio.engine.imageio import resize_longest_side
from texstudio.engine.layout import (
    ENERGY_MIN_SIDE, LAYOUT_PATCH, PatchLayoutObjective, context_patches, gradient_energy, layout_optimizer, patch_share_kept,
    phase_views, shrunk_shape,
)
from texstudio.engine.losses import sample_patches
from texstudio.engine.metrics import patch_distance
from texstudio.engine.canvas import image_to_tensor
from texstudio.engine.synthesis import pyramid_plan, run_synthesis

from ..conftest import make_texture

CONFIG = SynthConfig(width=64, height=64, steps=4, backbone="random-multiscale", layers=("relu_k3", "relu_k5"),
                     gram_weight=1.0, color_weight=1.0, pyramid_levels=2, layout_steps=5, device="cpu",
                     preview_every=1)


def checkerboard(size: int = 64, square: int = 8) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size]
    cells = ((y // square + x // square) % 2).astype(np.float32)
    return np.stack([0.2 + 0.6 * cells, 0.3 + 0.4 * cells, 0.7 - 0.5 * cells], axis=-1)


def weave(size: int = 128, block: int = 16, period: int = 4, rows: bool = False, shift: int = 0) -> torch.Tensor:
    """(1, 3, size, size): blocks of strands running across or down, in a checkerboard (or in rows)."""
    y, x = np.mgrid[0:size, 0:size] + shift
    across = (y // block) % 2 == 0 if rows else ((y // block) + (x // block)) % 2 == 0
    strands = np.where(across, (y % period) < period // 2, (x % period) < period // 2).astype(np.float32)
    grey = 0.35 + 0.3 * strands
    return torch.from_numpy(np.stack([grey * 1.1, grey, grey * 0.7]))[None].clamp(0, 1)


def test_patches_are_every_window_or_a_bounded_subset_and_wrap_on_a_torus():
    image = torch.rand(1, 3, 12, 10)
    generator = torch.Generator().manual_seed(0)
    assert torch.equal(sample_patches(image, 7, 0, generator), F.unfold(image, 7)[0])
    wrapped = F.unfold(F.pad(image, (0, 6, 0, 6), mode="circular"), 7)[0]
    assert torch.equal(sample_patches(image, 7, 0, generator, torus=True), wrapped)
    subset = sample_patches(image, 7, 5, generator, torus=True)
    assert subset.shape == (147, 5)
    # Each sampled patch is one of the wrapped windows, not a blend of them.
    assert all(torch.isclose(wrapped, column[:, None]).all(dim=0).any() for column in subset.t())
    with pytest.raises(ValueError, match="smaller than a 7 px patch"):
        sample_patches(torch.rand(1, 3, 5, 20), 7, 0, generator)


def test_plan_gives_coarse_levels_the_layout_steps_and_full_size_all_the_steps():
    config = CONFIG.replace(width=128, height=128, steps=30, pyramid_levels=3, layout_steps=40)
    assert pyramid_plan(config) == [(32, 32, 4, 40), (64, 64, 2, 40), (128, 128, 1, 30)]
    # Levels below the finest laid-out one may take more: they are small, so steps there are cheap.
    coarse = config.replace(coarse_layout_steps=120)
    assert pyramid_plan(coarse) == [(32, 32, 4, 120), (64, 64, 2, 40), (128, 128, 1, 30)]
    assert pyramid_plan(config.replace(layout_steps=0)) == [(32, 32, 4, 10), (64, 64, 2, 10), (128, 128, 1, 10)]
    # No level below full size: nothing to lay out, --steps as they were.
    assert pyramid_plan(config.replace(pyramid_levels=1)) == [(128, 128, 1, 30)]


@pytest.mark.parametrize("bad", [-1, 5001, 2.5])
def test_layout_steps_out_of_range_are_refused(bad):
    with pytest.raises(ConfigError, match="layout_steps"):
        CONFIG.replace(layout_steps=bad)
    with pytest.raises(ConfigError, match="coarse_layout_steps"):
        CONFIG.replace(coarse_layout_steps=bad * 3)


@pytest.mark.parametrize("bad", [0, 17, 2.0, True])
def test_layout_phases_out_of_range_are_refused(bad):
    with pytest.raises(ConfigError, match="layout_phases must be 1 to 16"):
        CONFIG.replace(layout_phases=bad)


@pytest.mark.parametrize("bad", [-0.1, 1.5, True, "0.5"])
def test_layout_min_share_out_of_range_is_refused(bad):
    with pytest.raises(ConfigError, match="layout_min_share must be 0 to 1"):
        CONFIG.replace(layout_min_share=bad)


@pytest.mark.parametrize("shape", [(256, 128), (319, 160), (37, 300), (641, 213)])
def test_the_share_is_counted_on_the_plain_views_own_shape(shape):
    exemplar = np.zeros((*shape, 3), np.float32)
    for factor in (1, 2, 4, 8, 16):
        assert shrunk_shape(shape, factor) == phase_views(exemplar, factor, 1)[0].shape[:2]


def test_a_coarse_layout_level_runs_only_where_the_exemplar_keeps_its_share_of_patches():
    half, whole = (256, 128), (256, 256)  # a held-out half and a whole photo, both shrunk to 256 px
    # At 16 px the half is 16x8 px: 20 patches of its 30,500, against 100 of the canvas's 62,500.
    assert patch_share_kept(half, (256, 256), 16) == pytest.approx((20 / 30500) / (100 / 62500))
    assert patch_share_kept(half, (256, 256), 8) > 0.75 and patch_share_kept(whole, (256, 256), 16) == 1.0
    config = CONFIG.replace(width=256, height=256, steps=50, pyramid_levels=5, layout_steps=120,
                            layout_min_share=0.5)
    factors = {shape: [level[2] for level in pyramid_plan(config, shape)] for shape in (half, whole)}
    assert factors == {half: [8, 4, 2, 1], whole: [16, 8, 4, 2, 1]}
    assert [level[2] for level in pyramid_plan(config.replace(layout_min_share=0.0), half)] == [16, 8, 4, 2, 1]
    # Feature levels are not laid out: the share does not touch them.
    features = config.replace(layout_steps=0, pyramid_levels=3)
    assert pyramid_plan(features, half) == pyramid_plan(features.replace(layout_min_share=0.0), half)


def test_layout_levels_report_the_patch_term_then_the_features_take_over():
    records = []
    result = run_synthesis(CONFIG, make_texture(64), on_step=records.append)
    assert result.iterations == 9 and result.image.shape == (64, 64, 3)
    assert {r.total_steps for r in records} == {9}
    coarse = [r for r in records if r.level == 0 and r.iteration > 0]
    fine = [r for r in records if r.level == 1 and r.iteration > 5]
    assert len(coarse) == 5 and all(set(r.losses) == {"patch"} and r.grams is None for r in coarse)
    assert len(fine) == 4 and all("gram/relu_k3" in r.losses and "patch" not in r.losses for r in fine)
    assert records[-1].grams  # the Gram view gets its matrices back at full size


def test_phase_views_are_the_plain_shrink_and_shrinks_started_further_in():
    exemplar = make_texture(96, seed=3)[:64]  # 96 wide, 64 tall
    plain = resize_longest_side(exemplar, 24)
    assert len(phase_views(exemplar, 1, 4)) == 1 and phase_views(exemplar, 1, 4)[0] is exemplar
    assert len(phase_views(exemplar, 4, 1)) == 1 and np.array_equal(phase_views(exemplar, 4, 1)[0], plain)
    views = phase_views(exemplar, 4, 4)
    assert len(views) == 16 and np.array_equal(views[0], plain)
    # Offsets 0..3 px per axis: each view is the shrink of the exemplar cut there, and no two are alike.
    assert np.array_equal(views[1 * 4 + 2], resize_longest_side(exemplar[1:, 2:], round(94 / 4)))
    assert len({view.tobytes() for view in views}) == 16
    assert len(phase_views(exemplar, 2, 4)) == 4  # a shrink by 2 has 2 offsets per axis, not 4
    # Views too small for one patch are left out; the plain one always stays.
    small = phase_views(make_texture(16 * LAYOUT_PATCH, seed=1), 16, 16)
    assert 1 <= len(small) < 256 and all(min(v.shape[:2]) >= LAYOUT_PATCH for v in small)


def test_views_are_taken_only_where_the_exemplar_has_fewer_patches_than_the_canvas():
    from texstudio.engine.layout import phases_needed

    assert phases_needed((64, 128), (128, 128), torus=False, phases=4) == 4  # an exemplar half
    assert phases_needed((128, 128), (128, 128), torus=False, phases=4) == 1  # the canvas's size
    assert phases_needed((122, 128), (122, 122), torus=False, phases=4) == 1
    # On a torus every canvas position is a patch: the same exemplar has fewer than it.
    assert phases_needed((122, 122), (122, 122), torus=True, phases=4) == 4


def test_the_layout_matches_the_patches_of_every_view():
    exemplar = make_texture(40, seed=2)
    views = [image_to_tensor(view, torch.device("cpu")) for view in phase_views(exemplar, 2, 2)]
    one = PatchLayoutObjective(views[0], seed=0, level=0, torus=False)
    every = PatchLayoutObjective(views[0], seed=0, level=0, torus=False, shifted_views=views[1:])
    count = (20 - LAYOUT_PATCH + 1) ** 2
    assert one.all_theirs.shape[1] == count
    assert every.all_theirs.shape[1] == sum((v.shape[-2] - LAYOUT_PATCH + 1) * (v.shape[-1] - LAYOUT_PATCH + 1)
                                            for v in views) > 3 * count
    assert torch.equal(every.all_theirs[:, :count], one.all_theirs)  # the plain view's first, as before


def test_patch_matching_lays_out_a_checkerboard_from_noise():
    exemplar = checkerboard()
    target = image_to_tensor(exemplar, torch.device("cpu"))
    objective = PatchLayoutObjective(target, seed=0, level=0, torus=False)
    canvas = torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(1)).requires_grad_(True)
    optimizer = layout_optimizer(canvas, 150)
    with torch.no_grad():
        start_loss = float(objective(canvas)["patch"])
    start_distance = patch_distance(canvas.detach()[0].permute(1, 2, 0).numpy(), exemplar, scales=1)
    for _ in range(150):
        optimizer.zero_grad()
        objective(canvas)["patch"].backward()
        optimizer.step()
        with torch.no_grad():
            canvas.clamp_(0, 1)
    image = canvas.detach()[0].permute(1, 2, 0).numpy()
    with torch.no_grad():
        assert float(objective(canvas)["patch"]) < 0.2 * start_loss  # measured 0.10 (0.07 at a constant rate)
    assert patch_distance(image, exemplar, scales=1) < 0.4 * start_distance  # measured 0.33 (0.29 at a constant rate)


def test_the_layout_step_size_falls_along_a_half_cosine_to_zero_over_the_level():
    canvas = torch.zeros(1, 3, 8, 8, requires_grad=True)
    optimizer = layout_optimizer(canvas, 4)
    rates = []
    for _ in range(5):
        canvas.grad = torch.ones_like(canvas)
        optimizer.step()
        rates.append(optimizer.param_groups[0]["lr"])
    peak = rates[0]
    assert rates == pytest.approx([peak, peak * 0.8536, peak * 0.5, peak * 0.1464, 0.0], abs=1e-6)
    assert peak > 0 and canvas.detach().abs().max() > 0  # the first steps moved the canvas


def test_a_tileable_run_with_layout_levels_keeps_its_canvas_on_the_torus():
    from texstudio.engine.metrics import seam_score

    # A smooth exemplar, as in test_synthesis's torus test: a seam would stand out.
    exemplar = make_texture(64, seed=3)
    config = CONFIG.replace(width=48, height=48, pyramid_levels=2, layout_steps=30, steps=20, preview_every=0)
    tile = run_synthesis(config.replace(tileable=True), exemplar).image
    plain = run_synthesis(config, exemplar).image
    assert seam_score(tile) < 1.35
    assert seam_score(plain) > 1.5  # the same run off the torus shows one: the check can fail


def test_the_structured_preset_lays_out_four_levels_in_about_the_defaults_time():
    from texstudio.engine.presets import CPU_STEPS, default_config, presets

    quality = default_config(device="cpu")
    structured = presets(device="cpu")["structured"]
    assert structured == quality.replace(pyramid_levels=5, layout_steps=CPU_STEPS * 60 // 90,
                                         steps=CPU_STEPS * 25 // 90, auto_layout=False)
    assert quality.auto_layout  # the default lays out only an exemplar that repeats (test_periodicity)
    plan = pyramid_plan(structured)
    assert [level[0] for level in plan] == [16, 32, 64, 128, 256]  # layout levels go below the 32 px floor
    assert [level[-1] for level in plan] == [120, 120, 120, 120, 50]


def test_layout_levels_go_down_to_16_px_and_an_8_px_exemplar_and_feature_levels_do_not():
    config = SynthConfig(width=64, height=64, steps=4, pyramid_levels=3, layout_steps=2, device="cpu")
    assert [level[0] for level in pyramid_plan(config, (32, 200))] == [16, 32, 64]  # 32 / 4 = 8 px: enough
    assert [level[0] for level in pyramid_plan(config, (31, 200))] == [32, 64]  # 31 / 4: under one patch + 1
    assert [level[0] for level in pyramid_plan(config.replace(layout_steps=0), (200, 200))] == [32, 64]


def test_gradient_energy_tells_strands_running_across_from_strands_running_down():
    across = weave(64, block=64)  # one block: its strands run across (rows alternate)
    down = across.transpose(-1, -2)
    # Strands running down change from column to column: energy across (channel 0).
    for image, strong, weak in ((down, 0, 1), (across, 1, 0)):
        energy = gradient_energy(image, 4)
        assert energy.shape == (1, 2, 15, 15)  # 63 differences, pooled by 4
        assert float(energy[0, strong].min()) > 0.1 and float(energy[0, weak].max()) < 0.01
    wrapped = gradient_energy(weave(64), 4, torus=True)
    assert wrapped.shape == (1, 2, 16, 16) and torch.isfinite(wrapped).all()
    flat = torch.full((1, 3, 16, 16), 0.5, requires_grad=True)
    gradient_energy(flat, 2).sum().backward()
    assert torch.isfinite(flat.grad).all()  # a flat canvas (clamped, say) does not make NaN steps


def test_the_energy_term_sees_how_weave_blocks_are_arranged_on_the_finer_layout_levels():
    exemplar = weave()
    objective = PatchLayoutObjective(exemplar, seed=0, level=3, torus=False, canvas_shape=(128, 128),
                                     energy_weight=1.0)

    def mean_terms(canvas: torch.Tensor) -> dict[str, float]:
        runs = [objective(canvas) for _ in range(5)]  # fresh directions each call
        return {key: sum(float(run[key]) for run in runs) / len(runs) for key in runs[0]}

    same = mean_terms(weave(shift=5))  # the same checkerboard of blocks, another crop
    rows = mean_terms(weave(rows=True))  # the same strands, blocks in rows instead
    assert set(same) == {"patch", "energy"}
    assert rows["energy"] > 4 * same["energy"]  # measured 1.78 against 0.24
    # Below ENERGY_MIN_SIDE, with weight 0 (the default) or with no canvas shape given, only
    # the pixel patches count.
    coarse = PatchLayoutObjective(exemplar[..., :32, :32], 0, 0, False, (ENERGY_MIN_SIDE // 2,) * 2, 1.0)
    assert set(coarse(torch.rand(1, 3, 32, 32))) == {"patch"}
    assert set(PatchLayoutObjective(exemplar, 0, 3, False, (128, 128))(weave())) == {"patch"}
    assert set(PatchLayoutObjective(exemplar, 0, 3, False, energy_weight=1.0)(weave())) == {"patch"}


def test_a_run_with_the_energy_term_reports_it_on_the_finer_layout_levels_only():
    config = CONFIG.replace(width=128, height=128, pyramid_levels=3, layout_steps=3, steps=2,
                            layout_energy_weight=5.0)
    records = []
    run_synthesis(config, make_texture(128), on_step=records.append)
    terms = {r.level: set(r.losses) for r in records if r.losses}
    assert terms[0] == {"patch"}  # 32 px: under ENERGY_MIN_SIDE
    assert terms[1] == {"patch", "energy"}  # 64 px
    assert "energy" not in terms[2] and "gram/relu_k3" in terms[2]  # full size: the features'
    with pytest.raises(ConfigError, match="layout_energy_weight"):
        config.replace(layout_energy_weight=-1.0)


def test_each_context_patch_is_its_patch_above_the_blurred_image_every_2nd_px_around_it():
    image = torch.rand(1, 3, 14, 12)
    generator = torch.Generator().manual_seed(0)
    blurred = F.avg_pool2d(F.pad(image, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    # Offsets -3, -1, ..., 9 from each 7 px patch's corner: 13 px centred on the patch's middle.
    edge = F.unfold(F.pad(blurred, (3, 3, 3, 3), mode="replicate"), 7, dilation=2)[0]
    both = context_patches(image, 0, generator, 0.5)
    assert torch.allclose(both, torch.cat([F.unfold(image, 7)[0], 0.5 * edge]))
    blurred = F.avg_pool2d(F.pad(image, (1, 1, 1, 1), mode="circular"), 3, stride=1)
    wrapped = F.unfold(F.pad(blurred, (3, 9, 3, 9), mode="circular"), 7, dilation=2)[0]
    both = context_patches(image, 0, generator, 1.0, torus=True)
    assert torch.allclose(both[147:], wrapped)
    assert torch.equal(both[:147], sample_patches(image, 7, 0, generator, torus=True))


def stripes(runs: list[int], height: int, width: int) -> torch.Tensor:
    """(1, 3, height, width): upright stripes, dark and light in turn, of ``runs`` px, repeated across."""
    row = np.concatenate([np.full(run, 0.2 + 0.6 * (index % 2), np.float32) for index, run in enumerate(runs)])
    grey = np.tile(row, width // len(row) + 1)[:width]
    return torch.from_numpy(np.broadcast_to(grey, (3, height, width)).copy())[None]


def test_patch_context_tells_apart_arrangements_whose_7_px_patches_are_the_same():
    # Stripes of 10, 10, 10, 10 px and of 7, 13, 13, 7 px have the same 7 px windows (every
    # run at least 7 long, as many of each colour's runs, as many pixels inside them), so
    # matching patches alone cannot tell the second from the first; 13 px of context can.
    # 64 x 320 windows: every window of one period 8 times. (The context of the exemplar's
    # first and last few columns, which takes the edge pixel beyond them, is off by a little.)
    exemplar = stripes([10, 10, 10, 10], 70, 326)
    ours, other = stripes([10, 10, 10, 10], 64, 80), stripes([7, 13, 13, 7], 64, 80)

    def distance(canvas: torch.Tensor, weight: float) -> float:
        objective = PatchLayoutObjective(exemplar, 0, 1, True, (64, 80), context_weight=weight)
        return float(objective(canvas)["patch"])

    assert distance(other, 0.0) < 1e-6 and distance(ours, 0.0) < 1e-6
    assert distance(other, 1.0) > 10 * max(distance(ours, 1.0), 1e-4)


def test_patch_context_is_only_on_layout_levels_of_64_px_and_up_and_off_by_default():
    exemplar = image_to_tensor(checkerboard(), torch.device("cpu"))
    canvas = torch.rand(1, 3, 64, 64)
    assert PatchLayoutObjective(exemplar, 0, 1, False, (64, 64)).all_theirs.shape[0] == 147
    assert PatchLayoutObjective(exemplar, 0, 1, False, (64, 64), context_weight=1.0).all_theirs.shape[0] == 294
    assert PatchLayoutObjective(exemplar, 0, 1, False, (32, 32), context_weight=1.0).all_theirs.shape[0] == 147
    assert torch.isfinite(PatchLayoutObjective(exemplar, 0, 1, False, (64, 64), context_weight=1.0)(canvas)["patch"])
    with pytest.raises(ConfigError, match="layout_context_weight"):
        CONFIG.replace(layout_context_weight=-1.0)


def test_patch_context_is_off_by_default_and_reaches_the_layout_levels_of_64_px_and_up_when_set(monkeypatch):
    from texstudio.engine import synthesis
    from texstudio.engine.presets import default_config

    assert default_config(256, 256, "cpu").layout_context_weight == 0.0  # it copies more (docs/layout_context)
    made = []

    class Recorded(PatchLayoutObjective):  # the real objective, its context noted
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self.context_weight)

    monkeypatch.setattr(synthesis, "PatchLayoutObjective", Recorded)
    config = CONFIG.replace(width=128, height=128, steps=1, pyramid_levels=3, layout_steps=2,
                            layout_context_weight=0.5)
    run_synthesis(config, make_texture(96, seed=3))
    assert made == [0.0, 0.5]  # the 32 px level has none, the 64 px level has it
