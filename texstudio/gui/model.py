"""The GUI's state, free of Qt: exemplar, settings, run progress and results.

Widgets mirror this model and write back through it (STYLE.md rule 5); it announces
every change through ``events.Event``s. It never runs torch work: jobs are started by
``controller.RunController``, whose results the GUI thread feeds back in here.
"""

from __future__ import annotations

import enum
import math
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from texstudio.engine.backbones import MULTISCALE_KERNELS, VGG19_BLOCKS, RandomMultiscale, VGG19
from texstudio.engine.config import SynthConfig
from texstudio.engine.errors import TexstudioError
from texstudio.engine.models import describe_model, is_model_dir
from texstudio.engine.objective import SW_MAX_POINTS
from texstudio.engine.presets import default_config
from texstudio.engine.presets import presets as engine_presets
from texstudio.engine.imageio import MIN_EXEMPLAR_SIDE, load_image, resize_longest_side
from texstudio.engine.tiling import TILE_ABOVE_PIXELS, TILE_SIDE, activation_floats_per_pixel
from texstudio.gui.events import Event

MAX_RECENT = 10

# What a preset leaves as the user set it: the network and its layers, the seed, the device.
PRESET_KEEPS = ("backbone", "pooling", "layers", "layer_weights", "seed", "device")


def preset_names() -> tuple[str, ...]:
    return tuple(engine_presets())


def preset_config(name: str, current: SynthConfig) -> SynthConfig:
    """The engine's named preset, keeping the user's network, seed and device."""
    preset = engine_presets(device=current.device)[name]
    return preset.replace(**{key: getattr(current, key) for key in PRESET_KEEPS})


def layer_catalog(backbone: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(layers offered in the settings, default layers) for a backbone, without building it.

    Building VGG19 initialises 20 M weights (or loads a file): too slow for the GUI thread,
    so the names follow the engine's own naming from its architecture constants.
    Weights files are VGG19 weights, so they share its names.
    """
    if backbone == "random-multiscale":
        return tuple(f"relu_k{k}" for k in MULTISCALE_KERNELS), RandomMultiscale.default_layers
    if backbone not in ("vgg19",) and is_model_dir(backbone):
        try:
            info = describe_model(backbone)  # reads the folder's JSON only
            return info.layer_names or info.default_layers, info.default_layers
        except TexstudioError:
            pass  # an unreadable folder fails with a clear message when the run starts
    names = []
    for block, count in enumerate(VGG19_BLOCKS, start=1):
        names += [f"relu{block}_{index}" for index in range(1, count + 1)]
    return tuple(names), VGG19.default_layers


def estimate_memory_bytes(config: SynthConfig, exemplar_shape: tuple[int, int] | None) -> int:
    """A rough estimate of the working memory of one run, for the exemplar panel.

    Counts the activations kept for the backward pass down to the deepest layer used, for
    the larger of canvas and exemplar (the exemplar's are freed once its statistics are
    taken), plus the L-BFGS history, at the pyramid level that needs most. Images over
    TILE_ABOVE_PIXELS hold one tile's activations at a time (engine/tiling.py) unless a
    loss needs whole maps (the shifted Grams), so with a pyramid the largest level
    evaluated whole can be the one that sets the peak. Against the peaks measured by
    bench/tiling.py (default settings, one level): 3.5 GiB for 4.2 at 1024 px, 14 for
    14.5 at 2048 whole, 3 for 2.2 tiled (plus a history not yet full); torch itself adds
    about half a GiB. The sliced-Wasserstein loss adds its sample of positions, whatever
    the tiling: 5.0 GiB for 4.7 at 1024 px, 4.5 with the history full for 4.0 after 3
    steps at 2048 tiled (bench/results/tiling_sw_*). This is the CPU's rule; a GPU
    evaluates whole what fits in its free memory (tiling.needs_tiles).
    """
    layers = config.layers or layer_catalog(config.backbone)[1]
    floats_per_pixel = activation_floats_per_pixel(config.backbone, layers)
    tiles = not config.corr_weight  # the shifted Grams pair distant positions: whole maps

    def held(pixels: float) -> float:  # pixels whose activations are in memory at once
        # A tile and its margin (a few dozen pixels on each side).
        return min(pixels, (TILE_SIDE + 64) ** 2) if tiles and pixels > TILE_ABOVE_PIXELS else pixels

    exemplar = exemplar_shape[0] * exemplar_shape[1] if exemplar_shape else 0
    peak = 0.0
    for level in range(max(1, config.pyramid_levels)):
        shrink = 4 ** level
        canvas = config.width * config.height / shrink
        activations = max(held(canvas), held(exemplar / shrink)) * floats_per_pixel * 4
        history = 2 * config.lbfgs_history * canvas * 3 * 4 if config.optimizer == "lbfgs" else 2 * canvas * 3 * 4
        # SW sorts at most SW_MAX_POINTS positions a layer: their features for canvas and
        # exemplar, the gradient and the projections, about four floats per channel each.
        sample = min(canvas, SW_MAX_POINTS) * floats_per_pixel / 2 * 4 * 4 if config.sw_weight else 0
        peak = max(peak, activations + history + sample + canvas * 3 * 4 * 4)
    return int(peak)


class RunState(enum.Enum):
    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"


class RunKind(enum.Enum):
    START = "start"
    CONTINUE = "continue"
    VARIATION = "variation"
    EXPORT_VARIATIONS = "export variations"


class LossHistory:
    """Loss per iteration, total and per term, kept as growing lists (cheap appends)."""

    def __init__(self) -> None:
        self.iterations: list[int] = []
        self.total: list[float] = []
        self.terms: dict[str, list[float]] = {}

    def clear(self) -> None:
        self.iterations.clear()
        self.total.clear()
        self.terms.clear()

    def append(self, iteration: int, total: float, terms: dict[str, float]) -> None:
        self.iterations.append(iteration)
        self.total.append(total)
        for name, values in self.terms.items():
            values.append(terms.get(name, math.nan))
        for name, value in terms.items():
            if name not in self.terms:
                # A term first seen now: earlier iterations had no value for it.
                self.terms[name] = [math.nan] * (len(self.iterations) - 1) + [value]

    def __len__(self) -> int:
        return len(self.iterations)

    def values_at(self, iteration: float) -> tuple[int, dict[str, float]] | None:
        """The recorded iteration nearest to ``iteration`` and every value there."""
        if not self.iterations:
            return None
        index = int(np.argmin(np.abs(np.asarray(self.iterations) - iteration)))
        values = {"total": self.total[index]}
        values.update({name: series[index] for name, series in self.terms.items()})
        return self.iterations[index], values


@dataclass
class Progress:
    """What the status bar shows; rates exclude time spent paused."""

    iteration: int = 0
    total: int = 0
    elapsed: float = 0.0
    rate: float | None = None  # iterations per second
    eta: float | None = None  # seconds
    loss: float = math.nan
    device: str = ""
    label: str = ""  # e.g. "variation 2/4"
    stage: str = ""  # what the run does before its steps, e.g. "growing the layout ..., step 40 of 480"
    _window: deque = field(default_factory=lambda: deque(maxlen=20), repr=False)


@dataclass
class FeatureMaps:
    """Channels of one layer for the exemplar and the canvas, already scaled to [0, 1] together."""

    layer: str
    exemplar: np.ndarray  # (C, h, w)
    canvas: np.ndarray | None  # (C, h', w'), None before any canvas exists
    channels_total: int


@dataclass
class ChannelVisualization:
    layer: str
    channel: int
    image: np.ndarray | None = None
    iteration: int = 0
    total: int = 0
    activation: float = math.nan
    done: bool = False


class AppModel:
    """Everything the window shows, and the only place it is changed."""

    def __init__(self, config: SynthConfig | None = None) -> None:
        self.photo: np.ndarray | None = None  # the whole opened image
        self.photo_path: Path | None = None
        self.region: tuple[int, int, int, int] = (0, 0, 0, 0)  # x, y, width, height in photo pixels
        self.exemplar_scale: float = 1.0  # the region is downscaled by this before synthesis
        self.config = config if config is not None else default_config()
        self.canvas: np.ndarray | None = None
        self.result = None  # engine SynthResult of the last finished run
        self.target_grams: dict[str, np.ndarray] = {}
        self.current_grams: dict[str, np.ndarray] = {}
        self.losses = LossHistory()
        self.progress = Progress()
        self.run_state = RunState.IDLE
        self.run_kind: RunKind | None = None
        self.recent_files: list[Path] = []
        self.feature_maps: FeatureMaps | None = None
        self.visualization: ChannelVisualization | None = None
        self._iteration_offset = 0  # continuing numbers iterations after the previous run's
        self._paused_since: float | None = None
        self._paused_total = 0.0

        self.photo_changed = Event()
        self.region_changed = Event()
        self.config_changed = Event()
        self.canvas_changed = Event()
        self.grams_changed = Event()
        self.losses_changed = Event()
        self.progress_changed = Event()
        self.run_state_changed = Event()
        self.result_changed = Event()
        self.recent_files_changed = Event()
        self.feature_maps_changed = Event()
        self.visualization_changed = Event()
        self.notice_posted = Event()  # (message): something the user should read, not an error

    # -- exemplar -------------------------------------------------------------------------
    def open_photo(self, path: str | Path) -> None:
        """Load an image file as the photo; raises ImageLoadError with a readable message."""
        path = Path(path)
        image = load_image(path, min_side=MIN_EXEMPLAR_SIDE)
        self.set_photo(image, path)
        self.add_recent(path)

    def set_photo(self, image: np.ndarray, path: Path | None = None,
                  region: tuple[int, int, int, int] | None = None, scale: float | None = None) -> None:
        self.photo = image
        self.photo_path = path
        height, width = image.shape[:2]
        self.region = self._clamp_region(region) if region else (0, 0, width, height)
        if scale is not None:
            self.exemplar_scale = float(min(max(scale, 0.05), 1.0))
        self.photo_changed.emit()
        self.region_changed.emit()

    def _clamp_region(self, region: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        height, width = self.photo.shape[:2]
        x, y, w, h = (int(round(v)) for v in region)
        w = min(max(w, min(MIN_EXEMPLAR_SIDE, width)), width)
        h = min(max(h, min(MIN_EXEMPLAR_SIDE, height)), height)
        x = min(max(x, 0), width - w)
        y = min(max(y, 0), height - h)
        return x, y, w, h

    def set_region(self, region: tuple[int, int, int, int]) -> None:
        if self.photo is None:
            return
        region = self._clamp_region(region)
        if region != self.region:
            self.region = region
            self.region_changed.emit()

    def set_exemplar_scale(self, scale: float) -> None:
        scale = float(min(max(scale, 0.05), 1.0))
        if scale != self.exemplar_scale:
            self.exemplar_scale = scale
            self.region_changed.emit()

    def exemplar_shape(self) -> tuple[int, int] | None:
        """(height, width) of the exemplar the engine will get."""
        if self.photo is None:
            return None
        _, _, w, h = self.region
        longest = max(w, h)
        target = max(1, round(longest * self.exemplar_scale))
        if target >= longest:
            return h, w
        factor = target / longest
        return max(1, round(h * factor)), max(1, round(w * factor))

    def exemplar(self) -> np.ndarray | None:
        """The region of the photo, scaled: what synthesis matches. A fresh array."""
        if self.photo is None:
            return None
        x, y, w, h = self.region
        crop = np.ascontiguousarray(self.photo[y:y + h, x:x + w])
        return resize_longest_side(crop, round(max(w, h) * self.exemplar_scale)).copy()

    def add_recent(self, path: Path) -> None:
        path = Path(path).resolve()
        self.recent_files = [path] + [p for p in self.recent_files if p != path][:MAX_RECENT - 1]
        self.recent_files_changed.emit()

    def remove_recent(self, path: Path) -> None:
        self.recent_files = [p for p in self.recent_files if p != Path(path)]
        self.recent_files_changed.emit()

    def memory_estimate(self) -> int:
        return estimate_memory_bytes(self.config, self.exemplar_shape())

    # -- settings ---------------------------------------------------------------------------
    def set_config(self, config: SynthConfig) -> None:
        if config != self.config:
            self.config = config
            self.config_changed.emit()

    def apply_preset(self, name: str) -> None:
        self.set_config(preset_config(name, self.config))

    def post_notice(self, message: str) -> None:
        self.notice_posted.emit(message)

    # -- runs -----------------------------------------------------------------------------
    def set_run_state(self, state: RunState, kind: RunKind | None = None) -> None:
        now = time.perf_counter()
        if state is RunState.PAUSED and self._paused_since is None:
            self._paused_since = now
        elif state is not RunState.PAUSED and self._paused_since is not None:
            self._paused_total += now - self._paused_since
            self._paused_since = None
            # The rate window spans the pause otherwise: start measuring afresh.
            self.progress._window.clear()
        if kind is not None:
            self.run_kind = kind
        if state != self.run_state:
            self.run_state = state
            self.run_state_changed.emit()

    def begin_run(self, kind: RunKind, total_steps: int, device: str, label: str = "") -> None:
        """Reset what a new run replaces; continuing keeps the loss curve and extends it."""
        if kind is RunKind.CONTINUE and len(self.losses):
            self._iteration_offset = self.losses.iterations[-1]
        else:
            self._iteration_offset = 0
            self.losses.clear()
            self.current_grams = {}
            self.losses_changed.emit()
        self._paused_since = None
        self._paused_total = 0.0
        self.progress = Progress(total=total_steps, device=device, label=label)
        self.set_run_state(RunState.RUNNING, kind)
        self.progress_changed.emit()

    def apply_record(self, record) -> None:
        """Take in one engine StepRecord (from the worker, on the GUI thread)."""
        iteration = self._iteration_offset + record.iteration
        if record.note:  # e.g. auto_layout chose the structured split for this exemplar
            self.post_notice(record.note[0].upper() + record.note[1:] + ".")
        if record.losses:  # a pyramid level's first record has no losses yet
            self.losses.append(iteration, record.loss, record.losses)
            self.losses_changed.emit()
        if record.target_grams:
            self.target_grams = record.target_grams
        if record.grams:
            self.current_grams = record.grams
        if record.target_grams or record.grams:
            self.grams_changed.emit()
        if record.preview is not None:
            self.canvas = record.preview
            self.canvas_changed.emit()
        self._update_progress(record)

    def _update_progress(self, record) -> None:
        progress = self.progress
        elapsed = record.elapsed - self._paused_total
        progress.stage, progress.elapsed = record.stage, elapsed
        if record.stage:
            # Not one of the run's steps: the rate and the time left stay those of its steps.
            self.progress_changed.emit()
            return
        progress.iteration = record.iteration
        progress.total = record.total_steps
        progress.loss = record.loss
        window = progress._window
        window.append((record.iteration, elapsed))
        if len(window) >= 2 and window[-1][1] > window[0][1]:
            progress.rate = (window[-1][0] - window[0][0]) / (window[-1][1] - window[0][1])
            remaining = record.total_steps - record.iteration
            progress.eta = remaining / progress.rate if progress.rate > 0 else None
        self.progress_changed.emit()

    def finish_run(self, result) -> None:
        """A run ended (finished or stopped): its canvas is the result."""
        if result is not None:
            self.result = result
            self.canvas = result.image
            self.progress.device = result.device
            self.canvas_changed.emit()
            self.result_changed.emit()
        self.set_run_state(RunState.IDLE)
        self.progress_changed.emit()

    def fail_run(self) -> None:
        self.set_run_state(RunState.IDLE)

    # -- inspection -------------------------------------------------------------------------
    def set_feature_maps(self, maps: FeatureMaps | None) -> None:
        self.feature_maps = maps
        self.feature_maps_changed.emit()

    def set_visualization(self, visualization: ChannelVisualization | None) -> None:
        self.visualization = visualization
        self.visualization_changed.emit()
