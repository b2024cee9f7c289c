"""Start the GUI: ``texstudio`` with no arguments calls ``run_app``.

Qt is imported inside the functions, so importing this module (the CLI does, to find
``run_app``) stays cheap and Qt-free.
"""

from __future__ import annotations

import logging
import sys

from texstudio.paths import resources_dir


def configure_pyqtgraph() -> None:
    """Process-wide pyqtgraph options, set once before any plot exists."""
    import pyqtgraph as pg

    # Row-major: numpy (H, W[, 3]) images display upright without transposing each frame.
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True, background="k", foreground="d")


_GARBAGE_COLLECTOR = None  # the one GUI-thread collector of this process, kept alive here


def collect_garbage_in_gui_thread(interval_s: float = 1.0):
    """Turn off Python's automatic cycle collection and run it from a GUI-thread timer instead.

    The automatic collector runs in whichever thread happens to allocate. When that is a
    worker thread and the garbage holds Qt objects (a closed window's menus), shiboken
    hands their deletion to the GUI thread, which destroys them while holding the GIL and
    can deadlock against a worker that waits for the GIL inside Qt. Seen once in CI: the
    GUI thread stuck in ~QObject under runDeletionInMainThread, the worker in take_gil.
    pyqtgraph's GarbageCollector is the known cure (a QTimer that collects). Idempotent.
    """
    global _GARBAGE_COLLECTOR
    if _GARBAGE_COLLECTOR is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _GARBAGE_COLLECTOR = GarbageCollector(interval=interval_s)
    return _GARBAGE_COLLECTOR


def create_application(argv: list[str]):
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(argv or ["texstudio"])
    app.setApplicationName("texstudio")
    app.setOrganizationName("texstudio")
    # Matches resources/texstudio.desktop, so desktops group the window under its entry.
    app.setDesktopFileName("texstudio")
    icon = resources_dir() / "icons" / "texstudio.png"
    if icon.exists():
        from PySide6.QtGui import QIcon

        app.setWindowIcon(QIcon(str(icon)))
    configure_pyqtgraph()
    collect_garbage_in_gui_thread()
    return app


def build_main_window():
    """The main window with remembered settings (or defaults and a notice)."""
    from texstudio.gui.main_window import MainWindow
    from texstudio.gui.settings import load_settings

    settings, notice = load_settings()
    window = MainWindow(settings)
    if notice:
        window.model.post_notice(notice)
    return window


def run_app(argv: list[str]) -> int:
    """Run the GUI until its window closes; ``argv`` as for QApplication (program name first)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = create_application(list(argv))
    window = build_main_window()
    window.show()
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(run_app(sys.argv))
