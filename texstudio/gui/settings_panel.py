"""Every synthesis setting, bound to ``model.config``.

Editors have the engine's ranges, so most invalid values cannot be typed; a combination
the engine still rejects (e.g. every loss weight 0) is refused: the editors snap back to
the model and the engine's message is shown under them.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGridLayout, QGroupBox, QHBoxLayout, QHeaderView,
    QLabel, QLineEdit, QPushButton, QScrollArea, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout,
    QWidget,
)

from texstudio.engine.config import LIGHTINGS, MAX_EDGE_MARGIN, MAX_SIDE, OPTIMIZERS, POOLINGS, SynthConfig, with_hand_layout
from texstudio.engine.devices import DEVICE_CHOICES, resolve_device
from texstudio.engine.errors import TexstudioError
from texstudio.engine.models import list_models
from texstudio.gui.model import AppModel, layer_catalog, preset_names

BUILTIN_BACKBONES = ("vgg19", "random-multiscale")
BROWSE = "Weights file…"
BROWSE_MODEL = "Model folder…"
LABELS = {"sw_weight": "Sliced Wasserstein", "gap_weight": "Channel means (GAP)", "gram_weight": "Gram",
          "spectrum_weight": "Fourier spectrum", "color_weight": "Colour", "corr_weight": "Shifted Grams (rows)",
          "sw_directions": "SW directions (0 = auto)", "pyramid_levels": "Pyramid levels",
          "pyramid_noise": "Pyramid detail noise", "layout_steps": "Patch layout steps (0 = off)",
          "coarse_layout_steps": "Patch layout steps, coarser levels (0 = same)",
          "layout_grow_steps": "Patch layout: grow steps per ring (0 = off)",
          "layout_phases": "Patch layout: exemplar views per axis",
          "layout_min_share": "Patch layout: least patch share kept",
          "layout_energy_weight": "Layout: strand direction", "layout_copy_weight": "Layout: copy penalty",
          "layout_context_weight": "Layout: patch context", "copy_weight": "Copy penalty (full size)",
          "exemplar_size": "Exemplar max side (px, 0 = as is)",
          "auto_layout": "Lay out repeating or large-shaped exemplars",
          "auto_lattice": "Start clear lattices from their mean cell",
          "lighting": "Exemplar's lighting", "edge_margin": "Edge margin (px, cut off)"}
# Whole-number fields with a range of their own (others run from 0 up).
INT_RANGES = {"edge_margin": (0, MAX_EDGE_MARGIN)}
# Text fields that take one of a few values: a drop-down, not free text.
CHOICES = {"lighting": LIGHTINGS}
TIPS = {"corr_weight": "Gram matrices between features and their copies shifted by 1/16, 1/8 and 1/4 of the "
                       "image (Berger & Memisevic 2017), for rows and lattices; about a quarter more time per "
                       "step, and at 10 it evens out rows at some cost in colour",
        "pyramid_noise": "Fresh fine-scale noise added each time a pyramid level is enlarged, in units of the "
                         "exemplar's spread; 0 = plain enlarging (it leaves rings on fine textures)",
        "exemplar_size": "The exemplar is shrunk so its longer side is at most this",
        "edge_margin": "Pixels of canvas learned around the picture and cut off at the end: the network's "
                       "filters leave a thin line of busy pixels along an edge, and it falls in the margin. "
                       "It costs the picture a little colour and patch accuracy. A seamless tile has no edge "
                       "and takes none; 0 = off",
        "layout_steps": "Steps per pyramid level below full size that match the exemplar's raw 7x7 pixel "
                        "patches instead of the network's features: lays out cells, checks and rows the "
                        "features lose. The full-size level then gets all the steps. Needs 2 or more "
                        "pyramid levels (5, as the Structured preset); 0 = off",
        "coarse_layout_steps": "Patch layout steps on each level below the finest laid-out one; 0 = the "
                               "same as Patch layout steps. Those levels are small, so steps there cost "
                               "little: three times as many settle each tile on one grain and straighten "
                               "joints, but copy more of a small exemplar",
        "layout_grow_steps": "The coarsest patch-layout level is grown from a small square in its middle, ring "
                             "by ring outwards, this many steps per ring, so a lattice of bricks or tiles grows "
                             "from one place, with fewer faults where rows meet; 0 = from noise everywhere. "
                             "Not for seamless tiles",
        "layout_phases": "The patch-layout levels shrink the exemplar; this many views per axis, each "
                         "shrunk from a start a few pixels further in, give them more distinct patches to draw "
                         "from, so a small exemplar is copied less; 1 = the one plain shrink",
        "layout_min_share": "A coarse patch-layout level runs only where the exemplar, shrunk to it, keeps at "
                            "least this share of its 7x7 patches relative to the share the canvas keeps. A small "
                            "exemplar shrunk to a few patches makes the canvas out of repeats of them, and the "
                            "result copies the exemplar; 0 = every level down to 16 px",
        "layout_copy_weight": "On the patch-layout levels (the half-size one seen at quarter size), windows of the "
                              "canvas that copy one place of the exemplar are pushed off it, so a small exemplar "
                              "is rearranged less verbatim; a lattice's repeats match many places and are left "
                              "alone; 0 = off",
        "copy_weight": "On the full-size level, seen at half size, windows of the canvas that copy one place of "
                       "an exemplar smaller than the output are pushed off it: the layout's near-copies, "
                       "sharpened there, would otherwise come back as copies; 0 = off",
        "layout_context_weight": "On the patch-layout levels of 64 px and up, each 7x7 patch is matched together "
                                 "with the blurred canvas around it (13 px), so fine detail follows the larger "
                                 "shapes: brick rows run on instead of bending or breaking. It copies more of a "
                                 "small exemplar (watch the quality report's copy figure); 0 = off, 1 = tried",
        "layout_energy_weight": "On the finer patch-layout levels, also match which way the exemplar's edges "
                                "run, over several cells: for weaves whose blocks differ only in the direction "
                                "of their strands. It costs bricks, honeycomb and tread plate their regularity, "
                                "so it is off by default; 1 to 5 is the range tried",
        "auto_layout": "When the exemplar repeats (cells, checks, rows, tiles: its autocorrelation peaks again "
                       "beyond its centre) or is made of large soft shapes (lava, slime, clouds: most of its "
                       "detail survives a blur), run it as the Structured preset would: 5 pyramid levels, the "
                       "coarse ones laid out from pixel patches, in about the same time. Other exemplars "
                       "run as set. Off when patch layout steps are set by hand or when continuing",
        "auto_lattice": "With the layout on: when the exemplar's cells repeat on a clear lattice (bricks, "
                        "blocks, checks), start from the exemplar averaged over its lattice and tiled, rather "
                        "than laying the cells out: rows stay straight and in step across the picture",
        "lighting": "The photo's lighting (a smooth gradient or vignette across it). remove: take it out "
                    "before learning; keep: leave it; auto: remove it when the output has at least three "
                    "times the exemplar's pixels, where it came back as bright and dark bands along the edges"}
PRESET_TIPS = {"structured": "For cells, checks, tiles and roofs: 5 pyramid levels, the coarse ones laid out "
                             "from the exemplar's raw pixel patches, whatever the exemplar (worse than Quality "
                             "on grass and fine stochastic textures). Quality does this by itself for an "
                             "exemplar that repeats. "}
# Fields with their own editors; any other field (added to the engine later) gets a
# generic editor in "Advanced", so the panel never hides a setting.
DEDICATED = {"width", "height", "steps", "seed", "backbone", "pooling", "layers", "layer_weights",
             "optimizer", "lbfgs_history", "learning_rate", "init", "tileable", "device", "preview_every"}
HIDDEN = {"init"}  # chosen by the action (Start from noise, Continue from the canvas)
MAX_SEED = 2**31 - 1


def _spin(low: int, high: int, suffix: str = "", tip: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setSuffix(suffix)
    box.setToolTip(tip)
    box.setKeyboardTracking(False)  # commit on Enter/focus-out, not on every digit
    return box


def _double(low: float, high: float, decimals: int = 3, step: float = 0.1, tip: str = "") -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setDecimals(decimals)
    box.setSingleStep(step)
    box.setToolTip(tip)
    box.setKeyboardTracking(False)
    return box


def _label(name: str) -> str:
    if name in LABELS:
        return LABELS[name]
    return name.replace("_weight", "").replace("_", " ").capitalize()


class SettingsPanel(QScrollArea):
    preset_applied = Signal(str)

    def __init__(self, model: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self._syncing = False
        self._catalog_for: str | None = None
        self.setWidgetResizable(True)
        body = QWidget()
        self.setWidget(body)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)

        # Two to a row: four in one row overflowed the dock's default width.
        presets = QGridLayout()
        self.preset_buttons: dict[str, QPushButton] = {}
        for index, name in enumerate(preset_names()):
            button = QPushButton(name.capitalize())
            button.setToolTip(PRESET_TIPS.get(name, "") +
                              f"The engine's {name!r} preset; keeps the network, layers, seed and device")
            button.clicked.connect(lambda _=False, n=name: self._on_preset_clicked(n))
            presets.addWidget(button, index // 2, index % 2)
            self.preset_buttons[name] = button
        layout.addLayout(presets)

        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #ff6b6b")
        self.error.hide()
        layout.addWidget(self.error)

        # -- network
        network = QGroupBox("Network")
        form = QFormLayout(network)
        self.backbone = QComboBox()
        self.backbone.setToolTip("vgg19 uses ImageNet weights when found locally, otherwise seeded random weights")
        self.backbone.activated.connect(self._on_backbone_activated)
        form.addRow("Backbone", self.backbone)
        self.pooling = QComboBox()
        self.pooling.addItems(POOLINGS)
        self.pooling.currentTextChanged.connect(lambda v: self._commit(pooling=v))
        form.addRow("Pooling", self.pooling)
        self.layer_table = QTableWidget(0, 2)
        self.layer_table.setHorizontalHeaderLabels(["Layer", "Weight"])
        self.layer_table.verticalHeader().hide()
        self.layer_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
        self.layer_table.setMinimumHeight(140)
        self.layer_table.itemChanged.connect(self._on_layer_item_changed)
        form.addRow(self.layer_table)
        layout.addWidget(network)

        # -- loss terms: every float field named *_weight, so new terms appear by themselves
        losses = QGroupBox("Loss terms (0 = off)")
        form = QFormLayout(losses)
        self.loss_weights: dict[str, QDoubleSpinBox] = {}
        for f in dataclasses.fields(SynthConfig):
            if f.name.endswith("_weight") and f.name not in DEDICATED and isinstance(f.default, float):
                box = _double(0.0, 1e6, 4, 0.1, tip=TIPS.get(f.name, ""))
                box.valueChanged.connect(lambda v, n=f.name: self._commit(**{n: float(v)}))
                form.addRow(_label(f.name), box)
                self.loss_weights[f.name] = box
        layout.addWidget(losses)

        # -- optimisation
        optim = QGroupBox("Optimisation")
        form = QFormLayout(optim)
        self.optimizer = QComboBox()
        self.optimizer.addItems(OPTIMIZERS)
        self.optimizer.currentTextChanged.connect(lambda v: self._commit(optimizer=v))
        form.addRow("Optimiser", self.optimizer)
        self.steps = _spin(1, 1_000_000, tip="Network evaluations per run")
        self.steps.valueChanged.connect(lambda v: self._commit(steps=v))
        form.addRow("Steps", self.steps)
        self.learning_rate = _double(0.0001, 100.0, 4, 0.05, "L-BFGS: 1 is standard; Adam: in pixel units")
        self.learning_rate.valueChanged.connect(lambda v: self._commit(learning_rate=float(v)))
        form.addRow("Learning rate", self.learning_rate)
        self.lbfgs_history = _spin(1, 500, tip="L-BFGS memory: 2 × history image-sized vectors")
        self.lbfgs_history.valueChanged.connect(lambda v: self._commit(lbfgs_history=v))
        form.addRow("L-BFGS history", self.lbfgs_history)
        layout.addWidget(optim)

        # -- output
        output = QGroupBox("Output")
        form = QFormLayout(output)
        size = QHBoxLayout()
        self.width_box = _spin(8, MAX_SIDE, " px")
        self.height_box = _spin(8, MAX_SIDE, " px")
        self.width_box.valueChanged.connect(lambda v: self._commit(width=v))
        self.height_box.valueChanged.connect(lambda v: self._commit(height=v))
        size.addWidget(self.width_box)
        size.addWidget(QLabel("×"))
        size.addWidget(self.height_box)
        form.addRow("Size", size)
        self.tileable = QCheckBox("Seamless tile (canvas on a torus)")
        self.tileable.toggled.connect(lambda v: self._commit(tileable=bool(v)))
        form.addRow(self.tileable)
        seed_row = QHBoxLayout()
        self.seed = _spin(0, MAX_SEED)
        self.seed.valueChanged.connect(lambda v: self._commit(seed=v))
        self.random_seed = QPushButton("Random")
        self.random_seed.clicked.connect(lambda: self._commit(seed=random.randint(0, 99_999)))
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.random_seed)
        form.addRow("Seed", seed_row)
        self.device = QComboBox()
        for name in DEVICE_CHOICES:
            self.device.addItem(name)
            try:
                resolve_device(name)
            except TexstudioError as exc:
                item = self.device.model().item(self.device.count() - 1)
                item.setEnabled(False)  # a device this machine lacks cannot be chosen
                item.setToolTip(str(exc))
        self.device.currentTextChanged.connect(lambda v: self._commit(device=v))
        form.addRow("Device", self.device)
        self.preview_every = _spin(0, 100_000, tip="Show the canvas every N steps (0: only at the end)")
        self.preview_every.valueChanged.connect(lambda v: self._commit(preview_every=v))
        form.addRow("Preview every", self.preview_every)
        layout.addWidget(output)

        # -- anything else the engine defines
        self.advanced: dict[str, QWidget] = {}
        extra = [f for f in dataclasses.fields(SynthConfig)
                 if f.name not in DEDICATED | HIDDEN and f.name not in self.loss_weights]
        if extra:
            group = QGroupBox("Advanced")
            form = QFormLayout(group)
            for f in extra:
                editor = self._generic_editor(f.name, f.default)
                if editor is not None:
                    editor.setToolTip(TIPS.get(f.name, ""))
                    form.addRow(_label(f.name), editor)
                    self.advanced[f.name] = editor
            layout.addWidget(group)
        layout.addStretch(1)

        model.config_changed.connect(self._on_config_changed)
        self._on_config_changed()

    # -- editors ----------------------------------------------------------------------------
    def _generic_editor(self, name: str, default) -> QWidget | None:
        if isinstance(default, bool):
            box = QCheckBox()
            box.toggled.connect(lambda v: self._commit(**{name: bool(v)}))
        elif isinstance(default, int):
            box = _spin(*INT_RANGES.get(name, (0, MAX_SEED)))
            box.valueChanged.connect(lambda v: self._commit(**{name: int(v)}))
        elif isinstance(default, float):
            box = _double(0.0, 1e6, 4, 0.1)
            box.valueChanged.connect(lambda v: self._commit(**{name: float(v)}))
        elif name in CHOICES:
            box = QComboBox()
            box.addItems(CHOICES[name])
            box.currentTextChanged.connect(lambda v: self._commit(**{name: v}))
        elif isinstance(default, str):
            box = QLineEdit()
            box.editingFinished.connect(lambda: self._commit(**{name: box.text()}))
        else:
            return None  # a structured field: edited elsewhere or not from the GUI
        return box

    def _set_generic(self, editor: QWidget, value) -> None:
        if isinstance(editor, QCheckBox):
            editor.setChecked(bool(value))
        elif isinstance(editor, (QSpinBox, QDoubleSpinBox)):
            editor.setValue(value)
        elif isinstance(editor, QComboBox):
            editor.setCurrentText(str(value))
        elif isinstance(editor, QLineEdit):
            editor.setText(str(value))

    # -- model -> widgets -----------------------------------------------------------------
    def _on_config_changed(self) -> None:
        config = self.model.config
        self._syncing = True
        try:
            self._sync_backbone(config.backbone)
            self.pooling.setCurrentText(config.pooling)
            self._sync_layers(config)
            for name, box in self.loss_weights.items():
                box.setValue(getattr(config, name))
            self.optimizer.setCurrentText(config.optimizer)
            self.steps.setValue(config.steps)
            self.learning_rate.setValue(config.learning_rate)
            self.lbfgs_history.setValue(config.lbfgs_history)
            self.lbfgs_history.setEnabled(config.optimizer == "lbfgs")
            self.width_box.setValue(config.width)
            self.height_box.setValue(config.height)
            self.tileable.setChecked(config.tileable)
            self.seed.setValue(config.seed)
            self.device.setCurrentText(config.device)
            self.preview_every.setValue(config.preview_every)
            for name, editor in self.advanced.items():
                self._set_generic(editor, getattr(config, name))
        finally:
            self._syncing = False

    def _sync_backbone(self, backbone: str) -> None:
        self.backbone.clear()
        for name in BUILTIN_BACKBONES:
            self.backbone.addItem(name, name)
        for info in list_models():
            self.backbone.addItem(f"model: {info.name}", str(info.path))
        if self.backbone.findData(backbone) < 0:
            self.backbone.addItem(Path(backbone).name or backbone, backbone)
        self.backbone.addItem(BROWSE, BROWSE)
        self.backbone.addItem(BROWSE_MODEL, BROWSE_MODEL)
        self.backbone.setCurrentIndex(self.backbone.findData(backbone))
        self.backbone.setToolTip(backbone)

    def _sync_layers(self, config: SynthConfig) -> None:
        offered, defaults = layer_catalog(config.backbone)
        weights = config.weights_by_layer(defaults)
        names = list(offered) + [name for name in weights if name not in offered]
        self.layer_table.setRowCount(len(names))
        for row, name in enumerate(names):
            item = QTableWidgetItem(name)
            item.setFlags(Qt.ItemIsEnabled | Qt.ItemIsUserCheckable)
            item.setCheckState(Qt.Checked if name in weights else Qt.Unchecked)
            self.layer_table.setItem(row, 0, item)
            box = self.layer_table.cellWidget(row, 1)
            if box is None:
                box = _double(0.01, 1000.0, 2, 0.1)
                box.valueChanged.connect(self._on_layer_weight_changed)
                self.layer_table.setCellWidget(row, 1, box)
            box.setValue(weights.get(name, 1.0))
            box.setEnabled(name in weights)

    # -- widgets -> model ------------------------------------------------------------------
    def _commit(self, **changes) -> None:
        if self._syncing:
            return
        # Pyramid levels or layout steps set by hand are the ones that run, as on the CLI:
        # auto layout would replace them on a repeating exemplar. Its checkbox unticks.
        changes = with_hand_layout(changes)
        try:
            config = self.model.config.replace(**changes)
        except TexstudioError as exc:
            self.error.setText(str(exc))
            self.error.show()
            self._on_config_changed()  # snap back: the model never holds an invalid config
            return
        self.error.hide()
        self.model.set_config(config)

    def _on_backbone_activated(self, index: int) -> None:
        choice = self.backbone.itemData(index)
        if choice == BROWSE:
            choice, _ = QFileDialog.getOpenFileName(self, "VGG19 weights file", "",
                                                    "Weights (*.pth *.pt *.safetensors);;All files (*)")
        elif choice == BROWSE_MODEL:
            choice = QFileDialog.getExistingDirectory(self, "texstudio model folder")
        if not choice:
            self._on_config_changed()
            return
        self.set_backbone(str(choice))

    def set_backbone(self, backbone: str) -> None:
        """Use another network; layer names belong to a network, so its defaults come with it."""
        if backbone != self.model.config.backbone:
            self._commit(backbone=backbone, layers=(), layer_weights=())

    def _layers_from_table(self) -> tuple[tuple[str, ...], tuple[float, ...]]:
        layers, weights = [], []
        for row in range(self.layer_table.rowCount()):
            item = self.layer_table.item(row, 0)
            if item is not None and item.checkState() == Qt.Checked:
                layers.append(item.text())
                weights.append(float(self.layer_table.cellWidget(row, 1).value()))
        return tuple(layers), tuple(weights)

    def _on_layer_item_changed(self, _item) -> None:
        if self._syncing:
            return
        layers, weights = self._layers_from_table()
        if not layers:
            # An empty list would mean "backbone defaults" to the engine: not what unticking means.
            self.error.setText("At least one layer must be on.")
            self.error.show()
            self._on_config_changed()
            return
        self._commit(layers=layers, layer_weights=weights)

    def _on_layer_weight_changed(self, _value) -> None:
        if not self._syncing:
            layers, weights = self._layers_from_table()
            if layers:
                self._commit(layers=layers, layer_weights=weights)

    def _on_preset_clicked(self, name: str) -> None:
        self.model.apply_preset(name)
        self.error.hide()
        self.preset_applied.emit(name)
