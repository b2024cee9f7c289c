"""The main window: docks for every panel and view, actions, status bar, settings persistence."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication, QDockWidget, QFileDialog, QHBoxLayout, QLabel, QMainWindow, QMessageBox, QScrollArea,
    QWidget,
)

from texstudio.engine.errors import TexstudioError
from texstudio.engine.imageio import load_image
from texstudio.gui.controller import RunController, describe_paths
from texstudio.gui.exemplar_panel import ExemplarPanel
from texstudio.gui.export_dialog import ExportDialog
from texstudio.gui.exporting import ExportRequest, planned_paths
from texstudio.gui.feature_maps_view import FeatureMapsView
from texstudio.gui.gram_view import GramView
from texstudio.gui.loss_plot_view import LossPlotView
from texstudio.gui.model import AppModel, RunState
from texstudio.gui.preview_view import PreviewView
from texstudio.gui.quality_view import QualityView
from texstudio.gui.settings import GuiSettings, save_settings
from texstudio.gui.settings_panel import SettingsPanel
from texstudio.gui.sysinfo import format_bytes, format_duration, resident_bytes
from texstudio.gui.throttle import Throttle
from texstudio.gui.training_panel import TrainingPanel
from texstudio.paths import resources_dir

log = logging.getLogger(__name__)
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.tif *.tiff *.bmp *.webp *.gif);;All files (*)"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif"}
SAMPLE_EXEMPLAR = "sample_exemplar.png"


class MainWindow(QMainWindow):
    def __init__(self, settings: GuiSettings | None = None, model: AppModel | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings or GuiSettings()
        self.model = model or AppModel(self.settings.config)
        self.model.recent_files = [Path(p) for p in self.settings.recent_files]
        self.controller = RunController(self.model, self)
        self.last_error: str | None = None  # the text of the last message box, for tests and logs
        self._message_box: QMessageBox | None = None
        self._batch_dialog = None  # made on first use (Run > Batch…), kept so a batch runs on when hidden
        self._closed = False
        self.setWindowTitle("texstudio")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.resize(1280, 800)

        self.exemplar_panel = ExemplarPanel(self.model)
        self.settings_panel = SettingsPanel(self.model)
        self.preview_view = PreviewView(self.model)
        self.quality_view = QualityView(self.model)
        self.loss_view = LossPlotView(self.model)
        self.gram_view = GramView(self.model)
        self.feature_view = FeatureMapsView(self.model)
        self.training_panel = TrainingPanel()
        self.docks: dict[str, QDockWidget] = {}
        for key, title, widget in (
            ("exemplar", "Exemplar", self.exemplar_panel), ("settings", "Settings", self.settings_panel),
            ("preview", "Preview", self._beside(self.preview_view, self.quality_view)),
            ("loss", "Loss", self.loss_view),
            ("gram", "Gram matrices", self.gram_view), ("features", "Feature maps", self.feature_view),
            ("training", "Training", self.training_panel),
        ):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock-{key}")  # saveState() needs names
            if key == "training":
                # A tall form: scroll it rather than let it force the window past the screen.
                scroll = QScrollArea()
                scroll.setWidgetResizable(True)
                scroll.setWidget(widget)
                widget = scroll
            dock.setWidget(widget)
            self.docks[key] = dock
        self._default_layout()
        self._build_actions()
        self._build_status_bar()

        self.exemplar_panel.open_requested.connect(self.open_dialog)
        self.feature_view.feature_maps_requested.connect(self._on_feature_maps_requested)
        self.feature_view.visualization_requested.connect(self._on_visualization_requested)
        self.training_panel.model_ready.connect(self.settings_panel.set_backbone)
        self.controller.run_finished.connect(self._on_run_finished)
        self.controller.run_failed.connect(self.show_error)
        self.controller.exported.connect(self._on_exported)
        self.controller.inspection_failed.connect(self.show_error)
        self.model.run_state_changed.connect(self._on_run_state_changed)
        self.model.result_changed.connect(self._update_actions)
        self.model.canvas_changed.connect(self._update_actions)
        self.model.photo_changed.connect(self._on_photo_changed)
        self.model.recent_files_changed.connect(self._on_recent_files_changed)
        self.model.notice_posted.connect(self._on_notice_posted)
        self._save_later = Throttle(self.save_settings, 500, self)
        self.model.config_changed.connect(self._save_later.trigger)
        self.model.region_changed.connect(self._save_later.trigger)

        self._restore_window()
        self._load_initial_exemplar()
        self._on_recent_files_changed()
        self._update_actions()

    # -- layout -----------------------------------------------------------------------------
    @staticmethod
    def _beside(main: QWidget, side: QWidget) -> QWidget:
        """``main`` with ``side`` in a narrow column to its right (the quality report by the preview)."""
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(main, 1)
        row.addWidget(side, 0)
        return box

    def _default_layout(self) -> None:
        docks = self.docks
        for dock in docks.values():
            dock.setFloating(False)
            dock.show()
        self.addDockWidget(Qt.LeftDockWidgetArea, docks["exemplar"])
        self.splitDockWidget(docks["exemplar"], docks["settings"], Qt.Vertical)
        self.addDockWidget(Qt.RightDockWidgetArea, docks["preview"])
        self.splitDockWidget(docks["preview"], docks["gram"], Qt.Horizontal)
        self.splitDockWidget(docks["preview"], docks["loss"], Qt.Vertical)
        self.splitDockWidget(docks["gram"], docks["features"], Qt.Vertical)
        self.tabifyDockWidget(docks["features"], docks["training"])
        docks["features"].raise_()
        self.resizeDocks([docks["exemplar"], docks["preview"], docks["gram"]], [370, 450, 460], Qt.Horizontal)
        self.resizeDocks([docks["exemplar"], docks["settings"]], [300, 460], Qt.Vertical)
        self.resizeDocks([docks["preview"], docks["loss"]], [450, 300], Qt.Vertical)
        self.resizeDocks([docks["gram"], docks["features"]], [300, 450], Qt.Vertical)

    def _action(self, text: str, slot, shortcuts=(), tip: str = "", checkable: bool = False) -> QAction:
        action = QAction(text, self)
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.setShortcutContext(Qt.WindowShortcut)
        if shortcuts:
            tip = f"{tip or text} ({', '.join(QKeySequence(s).toString() for s in shortcuts)})"
        action.setToolTip(tip or text)
        action.setStatusTip(tip or text)
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        self.open_action = self._action("&Open exemplar…", self.open_dialog, [QKeySequence.Open])
        self.export_action = self._action("&Export…", self.export_dialog, ["Ctrl+E"])
        self.quit_action = self._action("&Quit", self.close, [QKeySequence.Quit])
        self.start_action = self._action("&Start", self.start, ["F5", "Ctrl+Return"], "Synthesise from noise")
        self.pause_action = self._action("&Pause", self.toggle_pause, ["Space"], "Pause or resume", checkable=True)
        self.stop_action = self._action("S&top", self.stop, ["Esc"], "Stop; the canvas so far is kept")
        self.continue_action = self._action("&Continue", self.continue_run, ["Ctrl+Shift+Return"],
                                            "More iterations on the current canvas")
        self.variation_action = self._action("&New variation", self.new_variation, ["Ctrl+N"],
                                             "Same settings, next seed")
        self.tile_action = self._action("&Tile preview 3×3", self.preview_view.tile.toggle, ["Ctrl+T"])
        self.reset_layout_action = self._action("&Reset layout", self._default_layout)
        self.batch_action = self._action("&Batch…", self.batch_dialog,
                                         tip="Run the current settings over every photo of a folder")
        self.weights_action = self._action("Network &weights…", self.weights_dialog,
                                           tip="Download or import ImageNet weights for vgg19")

        menu = self.menuBar().addMenu("&File")
        menu.addAction(self.open_action)
        self.recent_menu = menu.addMenu("Open &recent")
        menu.addAction(self.export_action)
        menu.addSeparator()
        menu.addAction(self.quit_action)
        menu = self.menuBar().addMenu("&Run")
        for action in (self.start_action, self.pause_action, self.stop_action, self.continue_action,
                       self.variation_action):
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(self.batch_action)
        menu = self.menuBar().addMenu("&View")
        for dock in self.docks.values():
            menu.addAction(dock.toggleViewAction())
        menu.addSeparator()
        menu.addAction(self.tile_action)
        menu.addAction(self.reset_layout_action)
        menu = self.menuBar().addMenu("&Tools")
        menu.addAction(self.weights_action)

        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("toolbar-main")
        toolbar.setMovable(False)
        for action in (self.open_action, None, self.start_action, self.pause_action, self.stop_action,
                       self.continue_action, self.variation_action, None, self.export_action):
            toolbar.addSeparator() if action is None else toolbar.addAction(action)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.status_labels: dict[str, QLabel] = {}
        for key in ("state", "iteration", "rate", "elapsed", "eta", "device", "memory"):
            label = QLabel()
            label.setObjectName(f"status-{key}")
            bar.addPermanentWidget(label)
            self.status_labels[key] = label
        self._status_refresh = Throttle(self._update_status, 200, self)
        self.model.progress_changed.connect(self._status_refresh.trigger)
        self._memory_timer = QTimer(self)
        self._memory_timer.setInterval(1000)
        self._memory_timer.timeout.connect(self._update_memory)
        self._memory_timer.start()
        self._update_status()
        self._update_memory()

    def _update_status(self) -> None:
        model = self.model
        progress = model.progress
        state = model.run_state.value
        for part in (progress.label, progress.stage):
            if part:
                state += f" · {part}"
        labels = self.status_labels
        labels["state"].setText(state)
        labels["iteration"].setText(f"iteration {progress.iteration}/{progress.total}")
        labels["rate"].setText(f"{progress.rate:.2f} it/s" if progress.rate else "– it/s")
        labels["elapsed"].setText(f"elapsed {format_duration(progress.elapsed)}")
        running = model.run_state in (RunState.RUNNING, RunState.PAUSED)
        labels["eta"].setText(f"ETA {format_duration(progress.eta if running else None)}")
        labels["device"].setText(progress.device or model.config.device)

    def _update_memory(self) -> None:
        text = f"RAM {format_bytes(resident_bytes())}"
        if self.model.progress.device.startswith("cuda"):
            import torch  # only queried, never computed on, from the GUI thread

            text += f" · GPU {format_bytes(torch.cuda.memory_allocated())}"
        self.status_labels["memory"].setText(text)

    # -- exemplar ---------------------------------------------------------------------------
    def _load_initial_exemplar(self) -> None:
        """The last exemplar if it is still there, else the built-in sample (first start)."""
        last = self.settings.exemplar_path
        if last and Path(last).is_file():
            try:
                self.model.open_photo(last)
                region = self.settings.exemplar_region
                self.model.set_photo(self.model.photo, self.model.photo_path,
                                     tuple(region) if region else None, self.settings.exemplar_scale)
                return
            except TexstudioError as exc:
                self.model.post_notice(f"Could not reopen the last exemplar: {exc}")
        sample = resources_dir() / SAMPLE_EXEMPLAR
        try:
            self.model.set_photo(load_image(sample), sample)
        except TexstudioError as exc:
            self.model.post_notice(f"The built-in sample exemplar is missing: {exc}")

    def open_exemplar(self, path: str | Path) -> bool:
        """Open a photo as the exemplar (File > Open, drop, recent files); errors become a message."""
        try:
            self.model.open_photo(path)
        except TexstudioError as exc:
            self.show_error(str(exc))
            return False
        self.save_settings()
        return True

    def open_dialog(self) -> None:
        start = str(self.model.photo_path.parent) if self.model.photo_path else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open exemplar", start, IMAGE_FILTER)
        if path:
            self.open_exemplar(path)

    def _on_photo_changed(self) -> None:
        name = self.model.photo_path.name if self.model.photo_path else "untitled"
        self.setWindowTitle(f"texstudio — {name}")
        self.model.set_feature_maps(None)

    def _on_recent_files_changed(self) -> None:
        self.recent_menu.clear()
        for path in self.model.recent_files:
            action = self.recent_menu.addAction(str(path))
            action.triggered.connect(lambda _=False, p=path: self._on_recent_chosen(p))
        self.recent_menu.setEnabled(bool(self.model.recent_files))
        self._save_later.trigger()

    def _on_recent_chosen(self, path: Path) -> None:
        if not Path(path).is_file():
            self.model.remove_recent(path)
            self.show_error(f"{path} no longer exists; removed from the recent files.")
            return
        self.open_exemplar(path)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_path(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        path = self._dropped_path(event.mimeData())
        if path is not None:
            event.acceptProposedAction()
            self.open_exemplar(path)

    @staticmethod
    def _dropped_path(mime) -> Path | None:
        for url in mime.urls() if mime.hasUrls() else []:
            if url.isLocalFile() and Path(url.toLocalFile()).suffix.lower() in IMAGE_SUFFIXES:
                return Path(url.toLocalFile())
        return None

    # -- runs -------------------------------------------------------------------------------
    def _guarded(self, action) -> None:
        try:
            action()
        except TexstudioError as exc:
            self.show_error(str(exc))

    def start(self) -> None:
        if self.model.run_state is RunState.IDLE:
            self._guarded(self.controller.start)

    def continue_run(self) -> None:
        if self.model.run_state is RunState.IDLE:
            self._guarded(self.controller.continue_run)

    def new_variation(self) -> None:
        if self.model.run_state is RunState.IDLE:
            self._guarded(self.controller.new_variation)

    def toggle_pause(self) -> None:
        self.controller.toggle_pause()
        self._update_actions()

    def stop(self) -> None:
        self.controller.stop()
        self.controller.stop_inspection()

    def _on_run_state_changed(self) -> None:
        self._update_actions()
        self._status_refresh.trigger()

    def _update_actions(self) -> None:
        state = self.model.run_state
        idle = state is RunState.IDLE
        has_exemplar = self.model.photo is not None
        for action in (self.start_action, self.variation_action):
            action.setEnabled(idle and has_exemplar)
        self.continue_action.setEnabled(idle and has_exemplar and self.model.canvas is not None)
        self.pause_action.setEnabled(state in (RunState.RUNNING, RunState.PAUSED))
        self.pause_action.setChecked(state is RunState.PAUSED)
        self.pause_action.setText("Resume" if state is RunState.PAUSED else "Pause")
        self.stop_action.setEnabled(state in (RunState.RUNNING, RunState.PAUSED))
        self.export_action.setEnabled(idle and has_exemplar)
        self.open_action.setEnabled(idle)
        self.settings_panel.setEnabled(idle)

    def _on_run_finished(self, result) -> None:
        if result is not None:
            how = "stopped" if result.stopped else "finished"
            self.statusBar().showMessage(
                f"Synthesis {how} after {result.iterations} iterations in {format_duration(result.elapsed)} "
                f"on {result.device} ({result.backbone})", 10000)
        if self.docks["features"].isVisible() and self.model.photo is not None:
            self.feature_view.request_maps()

    # -- inspection -------------------------------------------------------------------------
    def _on_feature_maps_requested(self, layer: str, max_channels: int) -> None:
        self._guarded(lambda: self.controller.compute_feature_maps(layer, max_channels))

    def _on_visualization_requested(self, layer: str, channel: int) -> None:
        self._guarded(lambda: self.controller.visualize_channel(layer, channel))

    def batch_dialog(self) -> None:
        from texstudio.gui.batch_dialog import BatchDialog

        if self._batch_dialog is None:
            self._batch_dialog = BatchDialog(self.model, self)
        if self._batch_dialog.isVisible():
            self._batch_dialog.raise_()  # already open, maybe behind the main window
        else:
            self._batch_dialog.show()

    def weights_dialog(self) -> None:
        from texstudio.gui.weights_dialog import WeightsDialog

        dialog = WeightsDialog(parent=self)
        # Backbones are built per run, so new weights need nothing more than a note.
        dialog.weights_changed.connect(lambda: self.model.post_notice("Weights placed: the next run uses them."))
        dialog.exec()

    # -- export ---------------------------------------------------------------------------
    def export_dialog(self) -> None:
        if self.model.run_state is not RunState.IDLE:
            return
        dialog = ExportDialog(self.model, self.settings.export, self)
        self._export_dialog = dialog  # reachable from tests driving the real dialog
        if dialog.exec() == ExportDialog.Accepted:
            self.settings.export = dialog.remembered()
            self.export(dialog.request())
        self._export_dialog = None

    def export(self, request: ExportRequest) -> bool:
        """Export as asked, after confirming any overwrite; runs in the worker."""
        seeds = None
        if request.variations > 1 or self.model.result is None:
            seeds = [self.model.config.seed + k for k in range(request.variations)]
            tileable = self.model.config.tileable
        else:
            tileable = self.model.result.config.tileable
        clashes = [p for p in planned_paths(request, seeds if request.variations > 1 else None, tileable)
                   if p.exists()]
        if clashes:
            if not self.confirm_overwrite(clashes):
                return False
            request = request.with_overwrite()
        self._guarded(lambda: self.controller.export(request))
        return True

    def confirm_overwrite(self, paths: list[Path]) -> bool:
        names = "\n".join(str(p) for p in paths[:8]) + ("\n…" if len(paths) > 8 else "")
        answer = QMessageBox.question(
            self, "texstudio — Overwrite?", f"{len(paths)} file(s) already exist:\n{names}\n\nReplace them?",
            QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
        return answer == QMessageBox.Yes

    def _on_exported(self, paths: list) -> None:
        self.last_export = [Path(p) for p in paths]
        self.statusBar().showMessage(describe_paths(self.last_export), 15000)

    # -- messages ---------------------------------------------------------------------------
    def show_error(self, message: str, details: str = "") -> None:
        """A readable, non-blocking message box (the worker's errors arrive here too)."""
        self.last_error = message
        log.warning("shown to the user: %s", message)
        box = QMessageBox(QMessageBox.Warning, "texstudio", message, QMessageBox.Ok, self)
        if details:
            box.setDetailedText(details)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.open()
        self._message_box = box

    def _on_notice_posted(self, message: str) -> None:
        log.info("%s", message)
        self.statusBar().showMessage(message, 15000)
        self.notice = message

    # -- persistence ------------------------------------------------------------------------
    def _restore_window(self) -> None:
        settings = self.settings
        try:
            if settings.window_geometry:
                self.restoreGeometry(QByteArray.fromBase64(settings.window_geometry.encode()))
            if settings.window_state:
                self.restoreState(QByteArray.fromBase64(settings.window_state.encode()))
        except (ValueError, TypeError):
            pass  # a bad saved layout only costs the layout

    def save_settings(self) -> None:
        if self._closed:
            return
        model, settings = self.model, self.settings
        settings.config = model.config
        settings.recent_files = [str(p) for p in model.recent_files]
        settings.exemplar_path = str(model.photo_path) if model.photo_path else None
        settings.exemplar_region = list(model.region) if model.photo is not None else None
        settings.exemplar_scale = model.exemplar_scale
        settings.window_geometry = bytes(self.saveGeometry().toBase64()).decode()
        settings.window_state = bytes(self.saveState().toBase64()).decode()
        try:
            save_settings(settings)
        except OSError as exc:
            self.statusBar().showMessage(f"Could not save settings: {exc}", 10000)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop the worker cleanly (stop token, quit, wait) before the window goes."""
        self.controller.shutdown()
        self.training_panel.shutdown()
        if self._batch_dialog is not None:
            self._batch_dialog.panel.shutdown()
        self._memory_timer.stop()
        self.save_settings()
        # A pending save would otherwise fire later and write this window's state again,
        # after whatever the next window (or test) has saved.
        self._save_later.cancel()
        self._status_refresh.cancel()
        self._closed = True
        if self._message_box is not None:
            try:
                self._message_box.close()
            except RuntimeError:
                pass  # already deleted on close
        super().closeEvent(event)
        QApplication.processEvents()
