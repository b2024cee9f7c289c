"""Each panel, view and dialog built alone from a model, offscreen."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.gui.conftest import QT_MARKS, TINY
from texstudio.gui.model import FeatureMaps

pytestmark = QT_MARKS


def test_exemplar_panel_mirrors_and_writes_the_region(qtbot, model):
    from texstudio.gui.exemplar_panel import ExemplarPanel

    panel = ExemplarPanel(model)
    qtbot.addWidget(panel)
    model.set_region((4, 6, 30, 20))
    assert tuple(panel.roi.pos()) == (4, 6) and tuple(panel.roi.size()) == (30, 20)
    panel.roi.setPos((10, 12))  # as a drag does; the model snaps and clamps it
    assert model.region == (10, 12, 30, 20)
    panel.scale.setValue(50)
    assert model.exemplar_scale == 0.5
    assert "exemplar 15×10 px" in panel.info.text() and "memory" in panel.info.text()
    panel.whole_button.click()
    assert model.region == (0, 0, 48, 48)


def test_settings_panel_binds_the_config_and_refuses_invalid_values(qtbot, model):
    from texstudio.gui.settings_panel import SettingsPanel

    panel = SettingsPanel(model)
    qtbot.addWidget(panel)
    panel.width_box.setValue(64)
    panel.seed.setValue(9)
    panel.tileable.setChecked(True)
    assert (model.config.width, model.config.seed, model.config.tileable) == (64, 9, True)
    assert panel.width_box.maximum() == 8192 and panel.width_box.minimum() == 8  # engine limits

    panel.loss_weights["gram_weight"].setValue(0.0)  # every loss off: the engine says no
    assert model.config.gram_weight == 1.0
    assert panel.loss_weights["gram_weight"].value() == 1.0
    assert panel.error.isVisibleTo(panel) and "nothing to optimise" in panel.error.text()

    rows = {panel.layer_table.item(r, 0).text(): r for r in range(panel.layer_table.rowCount())}
    panel.layer_table.item(rows["relu3_1"], 0).setCheckState(Qt.Checked)
    assert model.config.layers == ("relu1_1", "relu2_1", "relu3_1")
    panel.layer_table.cellWidget(rows["relu2_1"], 1).setValue(2.5)
    assert model.config.layer_weights == (1.0, 2.5, 1.0)
    for name in ("relu1_1", "relu2_1", "relu3_1"):
        panel.layer_table.item(rows[name], 0).setCheckState(Qt.Unchecked)
    assert model.config.layers == ("relu3_1",)  # the last one cannot be switched off
    assert "At least one layer" in panel.error.text()

    panel.set_backbone("random-multiscale")
    assert model.config.backbone == "random-multiscale" and model.config.layers == ()
    assert panel.layer_table.item(0, 0).text().startswith("relu_k")

    model.set_config(model.config.replace(steps=77))  # the model changed elsewhere
    assert panel.steps.value() == 77
    assert "sw_weight" in panel.loss_weights  # fields the engine adds appear by themselves
    layout = panel.loss_weights["corr_weight"]
    assert "shifted" in layout.toolTip()
    layout.setValue(2.0)
    assert model.config.corr_weight == 2.0


def test_settings_panel_presets(qtbot, model):
    from texstudio.gui.settings_panel import SettingsPanel

    panel = SettingsPanel(model)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.preset_applied):
        panel.preset_buttons["seamless tile"].click()
    assert model.config.tileable and model.config.layers == TINY.layers
    assert panel.tileable.isChecked()
    noise = panel.advanced["pyramid_noise"]  # a later engine field, in the generic "Advanced" group
    assert noise.value() == model.config.pyramid_noise == 1.0 and "rings" in noise.toolTip()
    noise.setValue(0.0)
    assert model.config.pyramid_noise == 0.0
    noise.setValue(9.0)  # over the engine's limit: refused with its message, the editor snaps back
    assert model.config.pyramid_noise == 0.0 and noise.value() == 0.0
    assert "pyramid_noise must be 0 to 4" in panel.error.text()
    with qtbot.waitSignal(panel.preset_applied):
        panel.preset_buttons["structured"].click()
    layout_steps = panel.advanced["layout_steps"]
    assert model.config.pyramid_levels == 5 and model.config.layout_steps > 0
    assert layout_steps.value() == model.config.layout_steps and "patches" in layout_steps.toolTip()
    energy = panel.loss_weights["layout_energy_weight"]  # a weight among the others: off, explained, applied
    assert energy.value() == model.config.layout_energy_weight == 0.0 and "weaves" in energy.toolTip()
    energy.setValue(2.0)
    assert model.config.layout_energy_weight == 2.0
    context = panel.loss_weights["layout_context_weight"]
    assert context.value() == model.config.layout_context_weight == 0.0 and "copies" in context.toolTip()
    context.setValue(1.0)
    assert model.config.layout_context_weight == 1.0
    copy = panel.loss_weights["copy_weight"]  # on in the presets, for an exemplar smaller than the output
    assert copy.value() == model.config.copy_weight == 1.0 and "copy" in copy.toolTip()
    copy.setValue(0.0)
    assert model.config.copy_weight == 0.0
    assert model.config.layers == TINY.layers  # the preset keeps the user's network and layers
    auto = panel.advanced["auto_layout"]
    assert not auto.isChecked() and "repeats" in auto.toolTip()  # the structured preset is laid out always
    for name, on in (("quality", True), ("fast preview", False)):
        panel.preset_buttons[name].click()
        assert model.config.auto_layout is on and auto.isChecked() is on
    panel.advanced["pyramid_levels"].setValue(2)  # levels set by hand are the ones that run
    assert model.config.pyramid_levels == 2 and model.config.auto_layout is False and not auto.isChecked()
    auto.setChecked(True)
    assert model.config.auto_layout is True and model.config.pyramid_levels == 2
    auto.setChecked(False)
    assert model.config.auto_layout is False


def test_settings_panel_offers_the_lighting_as_a_choice(qtbot, model):
    from PySide6.QtWidgets import QComboBox

    from texstudio.gui.settings_panel import SettingsPanel

    panel = SettingsPanel(model)
    qtbot.addWidget(panel)
    panel.preset_buttons["quality"].click()
    lighting = panel.advanced["lighting"]
    assert isinstance(lighting, QComboBox) and "bands" in lighting.toolTip()
    assert [lighting.itemText(i) for i in range(lighting.count())] == ["auto", "remove", "keep"]
    assert lighting.currentText() == model.config.lighting == "auto"
    lighting.setCurrentText("keep")
    assert model.config.lighting == "keep"
    model.set_config(model.config.replace(lighting="remove"))  # and the other way, model to widget
    assert lighting.currentText() == "remove"


def test_preview_view_shows_the_canvas_and_tiles_it(qtbot, model):
    from texstudio.gui.preview_view import PreviewView

    view = PreviewView(model)
    qtbot.addWidget(view)
    model.canvas = np.random.default_rng(0).random((20, 30, 3), dtype=np.float32)
    model.canvas_changed.emit()
    view._redraw.flush()
    assert view.image.image.shape == (20, 30, 3)
    view.tile.setChecked(True)
    assert view.image.image.shape == (60, 90, 3)
    assert "30×20 px" in view.info.text()


def test_loss_plot_view_draws_one_curve_per_term_and_reads_out(qtbot, model):
    from texstudio.gui.loss_plot_view import LossPlotView

    view = LossPlotView(model)
    qtbot.addWidget(view)
    for i in range(1, 6):
        model.losses.append(i, 10.0 / i, {"gram/relu1_1": 6.0 / i, "gram/relu2_1": 4.0 / i})
    model.losses_changed.emit()
    view._redraw.flush()
    # new curves come one per redraw (see test_loss_plot_makes_new_curves_a_few_per_redraw_...)
    qtbot.waitUntil(lambda: len(view.term_curves) == 2, timeout=2000)
    assert set(view.term_curves) == {"gram/relu1_1", "gram/relu2_1"}
    x, y = view.total_curve.getOriginalDataset()
    assert list(x) == [1, 2, 3, 4, 5] and y[0] == 10.0
    assert view.plot.getPlotItem().ctrl.logYCheck.isChecked()
    text = view.readout_at(3.2)
    assert "iteration 3" in text and "gram/relu2_1 1.333" in text


def test_gram_view_shows_target_current_and_difference(qtbot, model):
    from texstudio.gui.gram_view import GramView

    view = GramView(model)
    qtbot.addWidget(view)
    rng = np.random.default_rng(0)
    target = {"relu1_1": rng.random((8, 8), dtype=np.float32), "relu2_1": rng.random((16, 16), dtype=np.float32)}
    model.target_grams = target
    model.current_grams = {k: v * 1.5 for k, v in target.items()}
    model.grams_changed.emit()
    view._redraw.flush()
    assert [view.layer.itemText(i) for i in range(view.layer.count())] == ["relu1_1", "relu2_1"]
    view.layer.setCurrentText("relu2_1")
    assert view.images["target"].image.shape == (16, 16)
    assert view.images["difference"].image.shape == (16, 16)
    low, high = view.diff_bar.levels()
    assert low == pytest.approx(-high)
    assert "16 channels" in view.info.text()


def test_feature_maps_view_grids_enlarges_and_asks_for_a_visualisation(qtbot, model):
    from texstudio.gui.feature_maps_view import FeatureMapsView

    view = FeatureMapsView(model)
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.feature_maps_requested) as request:
        view.refresh.click()
    assert request.args == [view.layer.currentText(), 64]
    rng = np.random.default_rng(0)
    model.set_feature_maps(FeatureMaps("relu1_1", rng.random((6, 8, 8), dtype=np.float32),
                                       rng.random((6, 4, 4), dtype=np.float32), 64))
    assert view.exemplar_image.image.shape == (2 * 9 - 1, 3 * 9 - 1)
    assert "6 of 64" in view.status.text()
    view.select_channel(4)
    assert np.array_equal(view.big_exemplar.image, model.feature_maps.exemplar[4])
    with qtbot.waitSignal(view.visualization_requested) as asked:
        view.visualize.click()
    assert asked.args == ["relu1_1", 4]


def test_export_dialog_builds_a_request(qtbot, model, tmp_path):
    from texstudio.gui.export_dialog import ExportDialog

    dialog = ExportDialog(model, {"folder": str(tmp_path), "name": "t.png"})
    qtbot.addWidget(dialog)
    assert not dialog.sheet.isEnabled()  # not tileable: no seamless sheet
    model.set_config(model.config.replace(tileable=True))
    dialog.variations.setValue(3)
    assert dialog.sheet.isEnabled()
    dialog.sheet.setChecked(True)
    dialog.format.setCurrentText("TIFF")
    dialog.bit_depth.setCurrentText("16")
    request = dialog.request()
    assert request.path == tmp_path / "t.tif" and request.bit_depth == 16
    assert request.sheet == (3, 3) and request.variations == 3
    dialog.path.setText(str(tmp_path / "missing" / "x.png"))
    dialog.accept()
    assert dialog.result() != dialog.DialogCode.Accepted and "does not exist" in dialog.error.text()


def test_quality_view_shows_the_report_and_flags_copies_and_seams(qtbot, model):
    from texstudio.engine.synthesis import StepRecord, SynthResult
    from texstudio.gui.model import RunKind
    from texstudio.gui.quality_view import QualityView

    view = QualityView(model)
    qtbot.addWidget(view)
    assert view.values["patch_distance"].text() == "–" and "when a run ends" in view.status.text()

    def finish(quality):
        model.finish_run(SynthResult(image=np.zeros((8, 8, 3), np.float32), config=model.config, iterations=1,
                                     stopped=False, elapsed=0.1, device="cpu", backbone="vgg19", quality=quality))

    # The last step is in, the report not yet: say that it is coming.
    model.begin_run(RunKind.START, total_steps=3, device="cpu")
    model.apply_record(StepRecord(iteration=2, total_steps=3, loss=1.0, losses={"gram": 1.0}, elapsed=1.0))
    assert "when a run ends" in view.status.text()
    model.apply_record(StepRecord(iteration=3, total_steps=3, loss=1.0, losses={"gram": 1.0}, elapsed=2.0))
    assert "Scoring" in view.status.text()
    finish({"color_distance": 0.01, "spectrum_distance": 0.2, "patch_distance": 0.05, "copy_fraction": 0.0,
            "seam_score": 0.9})
    assert view.values["patch_distance"].text() == "0.050" and view.values["copy_fraction"].text() == "0%"
    assert "Warning" not in view.status.text() and "seamless" in view.status.text()
    finish({"color_distance": 0.01, "spectrum_distance": 0.2, "patch_distance": 0.05, "copy_fraction": 0.4,
            "seam_score": 2.0})
    assert view.values["copy_fraction"].text() == "40%"
    assert "copies the exemplar" in view.status.text() and "seam" in view.status.text()
    assert "c0392b" in view.values["seam_score"].styleSheet()
    finish(None)
    assert view.values["color_distance"].text() == "–" and "not scored" in view.status.text()


def test_loss_plot_follows_the_run_in_round_steps_until_the_user_zooms(qtbot, model):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    from texstudio.gui.loss_plot_view import LossPlotView, round_up

    assert [round_up(v) for v in (0.3, 1, 1.5, 3, 7, 10, 11, 180, 1000, 1001)] == [1, 1, 2, 5, 10, 10, 20, 200, 1000, 2000]
    view = LossPlotView(model)
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show()
    viewbox = view.plot.getPlotItem().vb

    def step(i: int) -> tuple:
        model.losses.append(i, 3.0 / i, {"gram/relu1_1": 0.05 / i})
        view.redraw()
        (x0, x1), (y0, y1) = viewbox.viewRange()
        return round(x1, 6), round(y0, 6), round(y1, 6)

    ranges = [step(i) for i in range(1, 13)]
    # x ends just past 1, 2, 5, 10, 20; y spans the decades 10^-3..10^1 (0.05/12 = 4e-3 .. 3)
    assert len(set(ranges)) == 5 and ranges[5] == ranges[9] != ranges[10]
    assert -3.2 < ranges[-1][1] < -2.9 and 0.9 < ranges[-1][2] < 1.2
    # A turn of the mouse wheel over the plot zooms it by hand: the view stops following.
    centre = view.plot.viewport().rect().center()
    wheel = QWheelEvent(QPointF(centre), QPointF(view.plot.viewport().mapToGlobal(centre)), QPoint(0, 0),
                        QPoint(0, 120), Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(view.plot.viewport(), wheel)
    assert not view.following
    zoomed = viewbox.viewRange()
    step(25)
    assert viewbox.viewRange() == zoomed
    view.plot.getPlotItem().autoBtnClicked()  # the "A" button
    assert step(26)[0] == pytest.approx(50, rel=0.05) and view.following


def test_loss_plot_makes_new_curves_a_few_per_redraw_and_the_rest_soon_after(qtbot, model):
    from texstudio.gui.loss_plot_view import NEW_CURVES_PER_REDRAW, LossPlotView

    view = LossPlotView(model, interval_ms=20)
    qtbot.addWidget(view)
    names = [f"gram/relu_k{k}" for k in (3, 5, 7, 11, 15)]
    model.losses.append(1, 5.0, {name: 1.0 for name in names})
    view.redraw()
    assert len(view.term_curves) == NEW_CURVES_PER_REDRAW < len(names)
    qtbot.waitUntil(lambda: len(view.term_curves) == len(names), timeout=2000)
    assert [item.text for _sample, item in view.legend.items] == ["total", *sorted(names)]


def test_plot_grid_lines_are_opaque_and_blended_with_the_background(qtbot):
    """Translucent lines are ~10x slower in Qt's raster engine; the grid is drawn opaque instead."""
    import pyqtgraph as pg
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QColor, QImage, QPainter

    from texstudio.gui.plot_axes import OpaqueGridAxisItem, blended_over

    background = pg.mkColor(pg.getConfigOption("background"))
    grid = QColor(150, 150, 150, 64)
    expected = blended_over(grid, background)
    assert blended_over(QColor(150, 150, 150, 255), background).getRgb()[:3] == (150, 150, 150)
    image = QImage(20, 20, QImage.Format_RGB32)
    image.fill(QColor(200, 0, 0))  # a curve's colour where the grid line crosses it
    axis = OpaqueGridAxisItem("left")
    painter = QPainter(image)
    axis.drawPicture(painter, (pg.mkPen(grid), QPointF(0, 0), QPointF(0, 0)),
                     [(pg.mkPen(grid), QPointF(0, 10), QPointF(19, 10))], [])
    painter.end()
    assert QColor(image.pixel(10, 10)).getRgb()[:3] == expected.getRgb()[:3]
    assert expected.getRgb()[:3] == tuple(round(150 * 64 / 255 + c * (1 - 64 / 255)) for c in background.getRgb()[:3])
