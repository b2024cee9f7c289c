"""The settings file: corrupt, hand-edited or half-written, it never stops the studio starting.

The basic cases (bad JSON, wrong types, other versions) are tests/gui/test_model_headless.py;
here are generated corruptions, odd paths, and a crash in the middle of saving. Exports
never overwriting without confirmation: tests/gui/test_main_window.py::test_export_asks_before_overwriting
and tests/engine/test_cli.py::test_existing_output_is_not_overwritten_unless_asked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.reliability.faults import REPO, cli_env, leftovers, limit_file_size
from texstudio.gui.settings import EXPORT_CHOICES, GuiSettings, load_settings, save_settings, settings_path

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                    max_leaves=8)
ODD_PATHS = st.sampled_from(["", "relative/photo.png", "/tmp/\0evil.png", "~/photo.png", "/" + "a" * 5000,
                             "/dev/zero", "/proc/self/mem", "C:\\photo.png", "/tmp/ok.png"])
KEYS = ["config", "recent_files", "exemplar_path", "exemplar_region", "exemplar_scale", "export",
        "window_geometry", "window_state"]


def valid_settings() -> dict:
    good = GuiSettings(recent_files=["/tmp/a.png", "/tmp/b.png"], exemplar_path="/tmp/a.png",
                       exemplar_region=[0, 0, 16, 16], export={"folder": "/tmp", "name": "t.png", "format": "PNG",
                                                               "bit_depth": 16, "columns": 3, "rows": 2})
    return good.to_dict()


def check_usable(loaded: GuiSettings) -> None:
    """What the window will follow: absolute, NUL-free paths and values its widgets accept."""
    for path in [*loaded.recent_files, *([loaded.exemplar_path] if loaded.exemplar_path else [])]:
        assert isinstance(path, str) and os.path.isabs(path) and "\0" not in path and len(path) < 4096
    export = loaded.export
    assert set(export) <= {"folder", "name", *EXPORT_CHOICES, "columns", "rows"}
    for key, choices in EXPORT_CHOICES.items():
        assert key not in export or export[key] in choices
    assert "name" not in export or "/" not in export["name"]
    assert all(1 <= export[key] <= 16 for key in ("columns", "rows") if key in export)
    assert loaded.window_geometry is None or isinstance(loaded.window_geometry, str)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(KEYS), value=JSON | ODD_PATHS | st.lists(ODD_PATHS, max_size=4))
@example(key="recent_files", value=["/tmp/\0evil.png", "relative.png", 5, "/tmp/ok.png"])
@example(key="export", value={"folder": "/tmp/\0x", "name": "../../etc/passwd", "columns": "3", "format": 5})
@example(key="exemplar_path", value=5)
@example(key="config", value={"backbone": "\0", "width": 32, "height": 32})
def test_any_value_in_any_field_loads_or_falls_back(key, value):
    data = valid_settings()
    data[key] = value
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    loaded, notice = load_settings()
    if notice is not None:
        assert loaded == GuiSettings() and "Using defaults" in notice and "\n" not in notice
    check_usable(loaded)


@settings(max_examples=30, deadline=None)
@given(cut=st.floats(0, 1), flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.binary(min_size=1,
                                                                                               max_size=1)),
                                           max_size=4))
@example(cut=1.0, flips=[]).via("untouched")
def test_a_damaged_file_loads_or_falls_back(cut, flips):
    text = bytearray(json.dumps(valid_settings()).encode())
    for where, byte in flips:
        text[int(where * len(text))] = byte[0]
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(text[: int(len(text) * cut)]))
    loaded, notice = load_settings()
    assert notice is None or "Using defaults" in notice
    check_usable(loaded)


def test_deeply_nested_json_is_a_notice_not_a_crash():
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[" * 100_000)
    loaded, notice = load_settings()
    assert loaded == GuiSettings() and "Using defaults" in notice


def test_a_crash_while_saving_keeps_the_previous_settings(tmp_path):
    target = tmp_path / "gui-settings.json"
    before = GuiSettings(recent_files=["/tmp/kept.png"])
    save_settings(before, target)
    kept = target.read_bytes()
    writer = textwrap.dedent(f"""
        import signal
        from pathlib import Path
        from texstudio.gui.settings import GuiSettings, save_settings
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
        save_settings(GuiSettings(recent_files=["/tmp/" + "x" * 5000]), Path({str(target)!r}))
    """)
    done = subprocess.run([sys.executable, "-c", writer], cwd=REPO, env=cli_env(), capture_output=True,
                          preexec_fn=limit_file_size(len(kept) + 100), timeout=120)
    assert done.returncode == -25, done.stderr  # killed by SIGXFSZ in the middle of the write
    assert target.read_bytes() == kept
    assert load_settings(target) == (before, None)
    assert len(leftovers(tmp_path)) == 1  # a hidden temp file, never read as the settings
