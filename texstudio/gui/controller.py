"""Starts, pauses and stops the worker jobs and feeds their results into the model.

The only place that creates ``Task``s: the window's actions and the tests drive runs
through it, so both exercise the same threads.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from texstudio.engine.config import SynthConfig
from texstudio.engine.devices import resolve_device
from texstudio.engine.errors import ConfigError
from texstudio.engine.synthesis import StepRecord, SynthResult, synthesize_and_score
from texstudio.engine.visualize import VisualizeRecord
from texstudio.gui.exporting import ExportRequest, VariationExported, export_result, export_variations
from texstudio.gui.jobs import feature_maps_job, visualization_job
from texstudio.gui.model import AppModel, ChannelVisualization, RunKind, RunState
from texstudio.gui.worker import Task


class RunController(QObject):
    """Owns at most one synthesis/export task and one inspection task at a time."""

    run_finished = Signal(object)  # SynthResult, or None for an export of an existing result
    run_failed = Signal(str, str)
    exported = Signal(list)  # paths written
    inspection_finished = Signal(object)
    inspection_failed = Signal(str, str)

    def __init__(self, model: AppModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.task: Task | None = None
        self.inspection: Task | None = None
        self._variation_index = 0
        self._variation_begun = 0  # the variation whose progress was last started
        self._variation_count = 0
        self._last_variation = None
        self._pending_inspection = None

    # -- synthesis ------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.task is not None and not self.task.done

    def _exemplar(self):
        exemplar = self.model.exemplar()
        if exemplar is None:
            raise ConfigError("open an exemplar image first (File > Open)")
        return exemplar

    def _device_name(self, config: SynthConfig) -> str:
        return str(resolve_device(config.device))  # raises ConfigError for a missing GPU

    def start(self) -> None:
        """Synthesise from noise with the current settings."""
        config = self.model.config.replace(init="noise")
        exemplar = self._exemplar()
        self._run(RunKind.START, config, lambda stop: synthesize_and_score(config, exemplar, stop))

    def new_variation(self) -> None:
        """Same settings, next seed."""
        self.model.set_config(self.model.config.replace(seed=self.model.config.seed + 1))
        config = self.model.config.replace(init="noise")
        exemplar = self._exemplar()
        self._run(RunKind.VARIATION, config, lambda stop: synthesize_and_score(config, exemplar, stop))

    def continue_run(self) -> None:
        """``steps`` more iterations starting from the current canvas."""
        canvas = self.model.canvas
        if canvas is None:
            raise ConfigError("nothing to continue: start a synthesis first")
        config = self.model.config.replace(init="image")
        exemplar = self._exemplar()
        self._run(RunKind.CONTINUE, config, lambda stop: synthesize_and_score(config, exemplar, stop, init=canvas))

    def _run(self, kind: RunKind, config: SynthConfig, make_generator, label: str = "") -> None:
        if self.busy:
            raise ConfigError("a run is already in progress; stop it first")
        device = self._device_name(config)
        self._release(self.task)
        self.task = Task(make_generator, name=kind.value.replace(" ", "-"), parent=self)
        self.task.progressed.connect(self._on_progressed)
        self.task.finished.connect(self._on_finished)
        self.task.failed.connect(self._on_failed)
        self.model.begin_run(kind, config.steps, device, label)
        self.task.start()

    def pause(self) -> None:
        if self.busy and self.model.run_state is RunState.RUNNING:
            self.task.pause()
            self.model.set_run_state(RunState.PAUSED)

    def resume(self) -> None:
        if self.busy and self.model.run_state is RunState.PAUSED:
            self.task.resume()
            self.model.set_run_state(RunState.RUNNING)

    def toggle_pause(self) -> None:
        if self.model.run_state is RunState.PAUSED:
            self.resume()
        else:
            self.pause()

    def stop(self) -> None:
        """Ask the run to stop; the canvas so far becomes the result (``run_finished`` follows)."""
        if self.busy:
            self.task.stop()
            self.model.set_run_state(RunState.STOPPING)

    # -- export ---------------------------------------------------------------------------
    def export(self, request: ExportRequest) -> None:
        """Write the current result, or synthesise and write K variations; overwrites were confirmed."""
        if request.variations <= 1 and self.model.result is not None:
            result = self.model.result
            if self.busy:
                raise ConfigError("a run is in progress; stop it first")
            self._release(self.task)
            self.task = Task(lambda stop: export_result(result, request), name="export", parent=self)
            self.task.finished.connect(self._on_exported)
            self.task.failed.connect(self.run_failed)
            self.task.start()
            return
        config = self.model.config.replace(init="noise")
        exemplar = self._exemplar()
        self._variation_index, self._variation_count, self._last_variation = 0, request.variations, None
        self._variation_begun = 0
        self._run(RunKind.EXPORT_VARIATIONS, config,
                  lambda stop: export_variations(config, exemplar, request, stop),
                  label=f"variation 1/{request.variations}")

    def _on_exported(self, paths) -> None:
        self.exported.emit(list(paths))

    # -- worker results -----------------------------------------------------------------
    def _on_progressed(self, item) -> None:
        model = self.model
        if isinstance(item, StepRecord):
            # A variation's first record starts its progress; growing yields several before its steps.
            if (model.run_kind is RunKind.EXPORT_VARIATIONS and item.iteration == 0
                    and 0 < self._variation_index != self._variation_begun):
                self._variation_begun = self._variation_index
                state = model.run_state
                model.begin_run(RunKind.EXPORT_VARIATIONS, item.total_steps, model.progress.device,
                                f"variation {self._variation_index + 1}/{self._variation_count}")
                model.set_run_state(state)  # a pause or stop asked for meanwhile still holds
            model.apply_record(item)
        elif isinstance(item, SynthResult):  # salvaged by a run that then failed (a NaN rollback)
            model.finish_run(item)
        elif isinstance(item, VariationExported):
            self._variation_index = item.index + 1
            self._last_variation = item
            model.finish_run(item.result)
            if item.index + 1 < item.count:
                model.set_run_state(RunState.RUNNING if not self.task.is_paused else RunState.PAUSED)

    def _on_finished(self, value) -> None:
        if self.model.run_kind is RunKind.EXPORT_VARIATIONS:
            self.model.finish_run(None)
            self.exported.emit(list(value or []))
            self.run_finished.emit(self._last_variation.result if self._last_variation else None)
            return
        self.model.finish_run(value)
        self.run_finished.emit(value)

    def _on_failed(self, message: str, details: str) -> None:
        self.model.fail_run()
        self.run_failed.emit(message, details)

    # -- inspection -------------------------------------------------------------------------
    @property
    def inspecting(self) -> bool:
        return self.inspection is not None and not self.inspection.done

    def compute_feature_maps(self, layer: str, max_channels: int) -> None:
        """Feature maps of ``layer`` for exemplar and canvas; a newer request replaces a running one."""
        config = self.model.config
        exemplar = self._exemplar()
        canvas = self.model.canvas

        def make(stop):
            return feature_maps_job(config, exemplar, canvas, layer, max_channels)

        self._inspect(make, "features")

    def visualize_channel(self, layer: str, channel: int, size: int = 96, steps: int = 120) -> None:
        config = self.model.config
        self.model.set_visualization(ChannelVisualization(layer, channel, total=steps))
        self._inspect(lambda stop: visualization_job(config, layer, channel, stop, size, steps), "visualize")

    def _inspect(self, make_generator, name: str) -> None:
        if self.inspecting:
            # Only the latest request matters: stop the current job, run this one after it.
            self._pending_inspection = (make_generator, name)
            self.inspection.stop()
            return
        self._release(self.inspection)
        self.inspection = Task(make_generator, name=name, parent=self)
        self.inspection.progressed.connect(self._on_inspection_progressed)
        self.inspection.finished.connect(self._on_inspection_finished)
        self.inspection.failed.connect(self._on_inspection_failed)
        self.inspection.start()

    def stop_inspection(self) -> None:
        self._pending_inspection = None
        if self.inspecting:
            self.inspection.stop()

    def _on_inspection_progressed(self, item) -> None:
        visualization = self.model.visualization
        if isinstance(item, VisualizeRecord) and visualization is not None:
            visualization.iteration = item.iteration
            visualization.activation = item.activation
            if item.image is not None:
                visualization.image = item.image
            self.model.set_visualization(visualization)

    def _on_inspection_finished(self, value) -> None:
        from texstudio.engine.visualize import VisualizeResult
        from texstudio.gui.model import FeatureMaps

        if self._run_pending():
            return
        if isinstance(value, FeatureMaps):
            self.model.set_feature_maps(value)
        elif isinstance(value, VisualizeResult) and self.model.visualization is not None:
            visualization = self.model.visualization
            visualization.image, visualization.activation = value.image, value.activation
            visualization.iteration, visualization.done = value.iterations, True
            self.model.set_visualization(visualization)
        self.inspection_finished.emit(value)

    def _on_inspection_failed(self, message: str, details: str) -> None:
        if self._run_pending():
            return
        self.inspection_failed.emit(message, details)

    def _run_pending(self) -> bool:
        if self._pending_inspection is None:
            return False
        make_generator, name = self._pending_inspection
        self._pending_inspection = None
        self._inspect(make_generator, name)
        return True

    @staticmethod
    def _release(task: Task | None) -> None:
        # A finished task's thread is joined; its QObjects can go.
        if task is not None and task.done:
            task.deleteLater()

    # -- teardown -------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop every job and join its thread (window closing, test teardown)."""
        self._pending_inspection = None
        for task in (self.task, self.inspection):
            if task is not None and not task.done:
                task.shutdown()
        if self.model.run_state is not RunState.IDLE:
            self.model.set_run_state(RunState.IDLE)


def describe_paths(paths: list[Path]) -> str:
    if not paths:
        return "nothing written"
    folder = Path(paths[0]).parent
    names = ", ".join(Path(p).name for p in paths[:6]) + (" …" if len(paths) > 6 else "")
    return f"wrote {len(paths)} file(s) to {folder}: {names}"
