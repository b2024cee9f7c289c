"""The Qt-free parts of the GUI: model, settings file, export planning, engine add-ons."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from tests.conftest import make_texture
from tests.gui.conftest import TINY
from texstudio.engine.cancel import StopToken
from texstudio.engine.errors import OutputExistsError
from texstudio.engine.presets import default_config
from texstudio.engine.features import backbone_for, feature_maps, mosaic, mosaic_cell, normalize_channels
from texstudio.engine.synthesis import run_synthesis
from texstudio.engine.visualize import visualize_channel
from texstudio.gui.exporting import ExportRequest, planned_paths, write_result
from texstudio.gui.model import AppModel, LossHistory, estimate_memory_bytes, layer_catalog, preset_config
from texstudio.gui.settings import GuiSettings, load_settings, save_settings, settings_path


def test_gui_state_modules_do_not_import_qt():
    code = ("import sys, texstudio.gui.model, texstudio.gui.settings, texstudio.gui.exporting, "
            "texstudio.gui.jobs, texstudio.gui.app, texstudio.engine.features, texstudio.engine.visualize; "
            "bad = [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph'))]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_loss_history_aligns_terms_that_appear_late():
    history = LossHistory()
    history.append(1, 3.0, {"gram/relu1_1": 1.0})
    history.append(2, 2.0, {"gram/relu1_1": 0.5, "spectrum": 0.2})
    assert history.terms["gram/relu1_1"] == [1.0, 0.5]
    assert math.isnan(history.terms["spectrum"][0]) and history.terms["spectrum"][1] == 0.2
    at, values = history.values_at(1.8)
    assert at == 2 and values["total"] == 2.0 and values["spectrum"] == 0.2


def test_region_is_clamped_and_scale_shrinks_the_exemplar():
    model = AppModel(TINY)
    model.set_photo(make_texture(64))
    model.set_region((50, -5, 40, 30))  # past the right edge and above the top
    assert model.region == (24, 0, 40, 30)
    model.set_exemplar_scale(0.5)
    assert model.exemplar_shape() == (15, 20)
    assert model.exemplar().shape == (15, 20, 3)
    model.set_region((0, 0, 2, 2))  # too small to synthesise from
    assert model.region[2:] == (16, 16)


def test_presets_keep_the_users_network_and_seed():
    config = TINY.replace(backbone="random-multiscale", layers=("relu_k3",), seed=42)
    seamless = preset_config("seamless tile", config)
    assert seamless.tileable and seamless.backbone == "random-multiscale"
    assert seamless.seed == 42 and seamless.layers == ("relu_k3",)


def test_layer_catalog_and_memory_estimate():
    offered, defaults = layer_catalog("vgg19")
    assert "relu1_1" in offered and set(defaults) <= set(offered)
    offered, defaults = layer_catalog("random-multiscale")
    assert defaults and set(defaults) <= set(offered)
    small = estimate_memory_bytes(TINY, (48, 48))
    large = estimate_memory_bytes(TINY.replace(width=512, height=512), (48, 48))
    assert 0 < small < large


def test_memory_estimate_knows_large_canvases_are_tiled():
    from texstudio.engine.presets import default_config

    config = default_config(2048, 2048, device="cpu").replace(pyramid_levels=1)
    tiled = estimate_memory_bytes(config, (2048, 2048))
    whole = estimate_memory_bytes(config.replace(corr_weight=1.0), (2048, 2048))  # shifted Grams need whole maps
    assert tiled < whole / 3  # measured 2.2 GiB against 14.5 (bench/tiling.py)
    # SW tiles too, but holds a sample of positions: measured 4.0 GiB after 3 steps at 2048 px, 4.7 at 1024 whole.
    sw = config.replace(gram_weight=0.0, sw_weight=1.0)
    assert tiled < estimate_memory_bytes(sw, (2048, 2048)) < 6 << 30
    assert 4 << 30 < estimate_memory_bytes(sw.replace(width=1024, height=1024), (1024, 1024)) < 6 << 30
    assert 12 << 30 < whole < 17 << 30
    # With a pyramid, the 1024 px level is evaluated whole and sets the peak (4.3 GiB measured).
    pyramid = estimate_memory_bytes(config.replace(pyramid_levels=3), (2048, 2048))
    assert pyramid > tiled and 3 << 30 < pyramid < 6 << 30


def test_settings_round_trip_and_missing_file(tmp_path):
    settings, notice = load_settings()
    assert notice is None and isinstance(settings, GuiSettings)
    settings.config = TINY.replace(seed=7)
    settings.recent_files = ["/some/photo.png"]
    save_settings(settings)
    again, notice = load_settings()
    assert notice is None
    assert again.config == settings.config and again.recent_files == ["/some/photo.png"]


@pytest.mark.parametrize("text", ["{not json", "[]", '{"config": {"width": -3}}',
                                  '{"config": {}, "exemplar_region": [1, 2]}'])
def test_corrupt_settings_fall_back_to_defaults_with_a_notice(text):
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    settings, notice = load_settings()
    assert settings == GuiSettings()
    assert "Using defaults" in notice
    assert path.with_name(path.name + ".corrupt").read_text() == text


def test_settings_from_another_version_keep_known_fields():
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"config": {**TINY.to_dict(), "a_future_field": 3}}))
    settings, notice = load_settings()
    assert notice is None and settings.config == TINY


@pytest.mark.parametrize("pyramid, expected", [({}, True), ({"pyramid_levels": 5}, False), ({"layout_steps": 40}, False)])
def test_settings_written_before_auto_layout_get_the_default_unless_the_pyramid_was_set_by_hand(pyramid, expected):
    old = {k: v for k, v in default_config().to_dict().items() if k != "auto_layout"}
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"config": {**old, **pyramid}, "version": 1}))
    settings, notice = load_settings()
    assert notice is None and settings.config.auto_layout is expected
    path.write_text(json.dumps({"config": {**old, "auto_layout": False}, "version": 1}))
    assert load_settings()[0].config.auto_layout is False  # a file that says off stays off


def test_settings_written_before_lighting_get_the_defaults_auto():
    old = {k: v for k, v in default_config().to_dict().items() if k != "lighting"}
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"config": old, "version": 1}))
    assert load_settings()[0].config.lighting == "auto"  # not SynthConfig's "keep"
    path.write_text(json.dumps({"config": {**old, "lighting": "keep"}, "version": 1}))
    assert load_settings()[0].config.lighting == "keep"


def test_export_writes_tile_sheet_and_sidecar_and_refuses_to_overwrite(tmp_path):
    result = run_synthesis(TINY.replace(tileable=True, steps=2), make_texture(48))
    request = ExportRequest(path=tmp_path / "tile.png", bit_depth=16, sheet=(2, 3))
    planned = planned_paths(request, None, tileable=True)
    written = write_result(result, request.path, request)
    assert sorted(written) == sorted(planned)
    from PIL import Image

    with Image.open(tmp_path / "tile_sheet2x3.png") as sheet:
        assert sheet.size == (64, 96)
    sidecar = json.loads((tmp_path / "tile.json").read_text())
    assert sidecar["config"]["tileable"] and sidecar["export"]["tiled_sheet"]["rows"] == 3
    with pytest.raises(OutputExistsError):
        write_result(result, request.path, request)
    write_result(result, request.path, request.with_overwrite())


def test_feature_maps_and_mosaic_cells():
    backbone = backbone_for(TINY)
    maps = feature_maps(backbone, make_texture(32), "relu2_1", max_channels=10)
    assert maps.shape == (10, 16, 16)
    a, b = normalize_channels(maps, maps * 2)
    assert a.min() >= 0 and b.max() <= 1
    tiles, grid = mosaic(a, gap=1)
    assert grid == (3, 4) and tiles.shape == (3 * 17 - 1, 4 * 17 - 1)
    assert mosaic_cell(17 * 2 + 3, 17 + 1, (16, 16), grid) == 6
    assert mosaic_cell(16, 0, (16, 16), grid) is None  # the gap between cells


def test_visualize_raises_the_channel_activation_and_honours_stop():
    backbone = backbone_for(TINY)
    steps = visualize_channel(backbone, "relu2_1", 3, size=32, steps=12, preview_every=4)
    records = []
    while True:
        try:
            records.append(next(steps))
        except StopIteration as done:
            result = done.value
            break
    assert [r.iteration for r in records] == list(range(1, 13))
    assert result.activation > 0 and result.activation >= records[3].activation * 0.9
    assert result.image.shape == (32, 32, 3) and 0 <= result.image.min() and result.image.max() <= 1
    stop = StopToken()
    stop.set()
    steps = visualize_channel(backbone, "relu2_1", 3, size=32, steps=12, stop=stop)
    with pytest.raises(StopIteration) as done:
        next(steps)
    assert done.value.value.stopped and done.value.value.iterations == 0
