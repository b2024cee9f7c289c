"""A hand-edited settings file with odd paths and values: the window starts and follows none of them."""

from __future__ import annotations

import json

from tests.gui.conftest import QT_MARKS, TINY
from texstudio.gui.settings import GuiSettings, settings_path

pytestmark = QT_MARKS


def test_odd_paths_and_values_in_the_settings_are_dropped_one_by_one(qtbot, tmp_path):
    photo = tmp_path / "kept.png"
    from PIL import Image

    Image.new("RGB", (32, 32), (90, 60, 30)).save(photo)
    data = GuiSettings(config=TINY).to_dict()
    data.update(
        exemplar_path="relative/elsewhere.png",  # relative: would depend on where the studio starts
        recent_files=[str(photo), "/tmp/\0evil.png", "../up.png", 5, "/" + "a" * 5000],
        export={"folder": "/tmp/\0x", "name": "../../etc/passwd", "format": 5, "bit_depth": "16",
                "columns": 99, "rows": 2, "sidecar": "yes"},
        window_geometry=12, window_state=["not", "base64"],
    )
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    from texstudio.gui.app import build_main_window
    from texstudio.gui.export_dialog import ExportDialog

    window = build_main_window()
    qtbot.addWidget(window)
    assert not hasattr(window, "notice")  # the rest of the file was fine: no "Using defaults"
    assert window.model.config == TINY
    assert window.model.photo_path.name == "sample_exemplar.png"  # the relative path was not followed
    assert [a.text() for a in window.recent_menu.actions()] == [str(photo)]
    assert window.settings.export == {"rows": 2}
    dialog = ExportDialog(window.model, window.settings.export, window)
    assert dialog.path.text().endswith("texture.png") and dialog.rows.value() == 2
    dialog.close()
    window.close()
