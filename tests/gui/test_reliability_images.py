"""Every awkward image opened in the window: it shows, or a message says why and the window works on."""

from __future__ import annotations

import pytest

from tests.gui.conftest import QT_MARKS
from tests.reliability.badfiles import IMAGE_CASES, make_case
from texstudio.gui.model import RunState

pytestmark = QT_MARKS
WAIT = 60_000


def test_the_image_matrix_in_the_window(qtbot, window, tmp_path):
    for name, (file_name, _, outcome, shape) in IMAGE_CASES.items():
        path = make_case(tmp_path, name)
        before = window.model.photo_path
        window.last_error = None
        opened = window.open_exemplar(path)
        if outcome == "refused":
            assert not opened, name
            # One readable line in a message box, naming the file or what is wrong with it.
            assert window.last_error and "\n" not in window.last_error, name
            assert file_name in window.last_error or "px" in window.last_error, (name, window.last_error)
            assert "Traceback" not in window.last_error
            assert window._message_box.isVisible()
            window._message_box.close()
            assert window.model.photo_path == before, name  # the previous exemplar is still there
        else:
            assert opened and window.last_error is None, (name, window.last_error)
            assert window.model.photo.shape == (*shape, 3), name
            assert window.model.photo_path == path
    # After all of that, the window still synthesises.
    assert window.start_action.isEnabled()
    with qtbot.waitSignal(window.controller.run_finished, timeout=WAIT):
        window.start()
    assert window.model.run_state is RunState.IDLE and window.model.result is not None


def test_an_exemplar_scaled_below_the_minimum_is_a_message(qtbot, window):
    window.model.set_region((0, 0, 16, 16))
    window.model.set_exemplar_scale(0.05)  # 16 px at 5 %: a one-pixel exemplar
    with qtbot.waitSignal(window.controller.run_failed, timeout=WAIT):
        window.start()
    assert "needs at least 16 px" in window.last_error
    assert window.model.run_state is RunState.IDLE and window.start_action.isEnabled()
