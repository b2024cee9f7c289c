"""Fixtures for the widget tests: offscreen Qt, tiny configs, and no thread left behind."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from tests.conftest import make_texture  # noqa: E402
from texstudio.engine.config import SynthConfig  # noqa: E402

# Small enough that a run takes about a second on 2 CPU cores; real torch, real VGG19 layers.
TINY = SynthConfig(width=32, height=32, steps=4, layers=("relu1_1", "relu2_1"), gram_weight=1.0,
                   sw_weight=0.0, spectrum_weight=0.0, pyramid_levels=1, preview_every=1, device="cpu")

# Markers for this folder's widget tests: Qt warnings fail a test, except the offscreen
# platform's note about size hints, which says nothing about our code.
QT_MARKS = [pytest.mark.qt_log_level_fail("WARNING"), pytest.mark.qt_log_ignore("propagateSizeHints"),
            pytest.mark.timeout(120)]


@pytest.fixture(scope="session", autouse=True)
def pyqtgraph_configured():
    """What run_app does once at start (row-major images), before any view exists."""
    from texstudio.gui.app import configure_pyqtgraph

    configure_pyqtgraph()


@pytest.fixture(autouse=True)
def garbage_collected_in_the_gui_thread(qapp):
    """What create_application does: cycles are collected by a GUI-thread timer, never by a
    worker thread; and each test's leftovers (closed windows) go before the next test starts."""
    import gc

    from texstudio.gui.app import collect_garbage_in_gui_thread

    collect_garbage_in_gui_thread()
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def no_leftover_threads():
    """Fail a test that leaves a worker QThread running (it would abort the process later)."""
    yield
    from texstudio.gui.worker import running_threads

    leftover = running_threads()
    for thread in leftover:
        thread.quit()
        thread.wait()
    if leftover:
        pytest.fail(f"{len(leftover)} worker thread(s) still running after the test: "
                    f"{[t.objectName() for t in leftover]}")


@pytest.fixture
def exemplar():
    return make_texture(48, seed=1)


@pytest.fixture
def model(exemplar):
    from texstudio.gui.model import AppModel

    model = AppModel(TINY)
    model.set_photo(exemplar)
    return model


@pytest.fixture
def controller(qtbot, model):
    from texstudio.gui.controller import RunController

    controller = RunController(model)
    yield controller
    controller.shutdown()


@pytest.fixture
def window(qtbot):
    """The real main window on tiny settings, shown offscreen."""
    from texstudio.gui.main_window import MainWindow
    from texstudio.gui.settings import GuiSettings

    window = MainWindow(GuiSettings(config=TINY))
    qtbot.addWidget(window)
    window.show()
    yield window
    window.close()
