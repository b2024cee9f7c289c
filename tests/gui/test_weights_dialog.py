"""The Weights dialog alone, offscreen: states, download, import, verify, cancel, close.

Downloads come from a server on 127.0.0.1 started per test. Every test ends with the
worker thread joined; waits are on the dialog's own signals, which fire in the GUI thread.
"""

from __future__ import annotations

import hashlib
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from tests.local_http import LocalServer, closed_port_url  # noqa: E402
from texstudio import paths  # noqa: E402
from texstudio.engine.weights import Registry, WeightsEntry, load_registry  # noqa: E402
from texstudio.gui import weights_dialog  # noqa: E402
from texstudio.gui.weights_dialog import WeightsDialog  # noqa: E402

# The offscreen platform warns about size hints on show(); that says nothing about our code.
pytestmark = [pytest.mark.qt_log_level_fail("WARNING"), pytest.mark.qt_log_ignore("propagateSizeHints"),
              pytest.mark.timeout(60)]

PAYLOAD = bytes(range(256)) * 1200  # 300 KiB
BIG = bytes(range(256)) * 16384  # 4 MiB, served slowly so a cancel lands mid-transfer


@pytest.fixture(autouse=True)
def isolated_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXSTUDIO_WEIGHTS_DIR", str(tmp_path / "repo-weights"))
    for variable in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(variable, "*")


def entry_for(data: bytes, url: str = "", name: str = "tiny") -> WeightsEntry:
    return WeightsEntry(name=name, file=f"{name}.pth", url=url, size=len(data),
                        sha256=hashlib.sha256(data).hexdigest(), sha256_prefix=None,
                        licence="CC0", description="a test file")


@pytest.fixture
def make_dialog(qtbot):
    made = []

    def make(*entries: WeightsEntry) -> WeightsDialog:
        dialog = WeightsDialog(Registry(entries))
        qtbot.addWidget(dialog)
        made.append(dialog)
        return dialog

    yield make
    for dialog in made:
        dialog.shutdown()
        assert not dialog.busy  # no QThread outlives its test


def placed_files() -> list[str]:
    folder = paths.user_weights_dir()
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_the_table_shows_each_entry_and_its_state_and_the_notice(make_dialog):
    vgg19 = load_registry().get("vgg19")
    present, corrupt = entry_for(PAYLOAD, name="present"), entry_for(PAYLOAD, name="corrupt")
    paths.user_weights_dir().mkdir(parents=True)
    (paths.user_weights_dir() / "present.pth").write_bytes(PAYLOAD)
    (paths.user_weights_dir() / "corrupt.pth").write_bytes(PAYLOAD[:100])
    dialog = make_dialog(vgg19, present, corrupt)
    assert [dialog.state_of(n) for n in ("vgg19", "present", "corrupt")] == ["missing", "present", "corrupt"]
    assert dialog.table.item(0, 3).text().startswith("BSD-3-Clause")
    assert dialog.table.item(1, 4).text() == str(paths.user_weights_dir() / "present.pth")
    assert "texstudio weights download vgg19" in dialog.notice_label.text()
    assert not dialog.notice_label.isHidden()
    dialog.select("vgg19")
    assert not dialog.verify_button.isEnabled()  # nothing to verify when missing
    assert dialog.download_button.isEnabled() and not dialog.cancel_button.isEnabled()


def test_download_shows_progress_and_places_the_verified_file(qtbot, make_dialog):
    with LocalServer() as server:
        entry = entry_for(BIG, server.add("/tiny.pth", BIG, chunk_delay_s=0.002))
        dialog = make_dialog(entry)
        seen = []
        dialog.progressed.connect(lambda done, total: seen.append((done, total)))
        changed = []
        dialog.weights_changed.connect(lambda: changed.append(True))
        with qtbot.waitSignal(dialog.download_finished, timeout=30_000) as finished:
            qtbot.mouseClick(dialog.download_button, weights_dialog.Qt.MouseButton.LeftButton)
            assert dialog.busy and dialog.cancel_button.isEnabled() and not dialog.download_button.isEnabled()
    assert finished.args == [str(paths.user_weights_dir() / "tiny.pth")]
    assert (paths.user_weights_dir() / "tiny.pth").read_bytes() == BIG
    assert placed_files() == ["tiny.pth"]
    assert seen and all(total == len(BIG) for _, total in seen)
    assert dialog.progress_bar.value() == dialog.progress_bar.maximum()
    assert dialog.state_of("tiny") == "present" and changed == [True]
    assert not dialog.busy and dialog.download_button.isEnabled()


def test_a_wrong_checksum_is_reported_and_nothing_is_placed(qtbot, make_dialog):
    with LocalServer() as server:
        url = server.add("/tiny.pth", bytes(reversed(PAYLOAD)))
        dialog = make_dialog(entry_for(PAYLOAD, url))
        with qtbot.waitSignal(dialog.download_failed, timeout=30_000) as failed:
            dialog.start_download("tiny")
    assert "checksum mismatch" in failed.args[0]
    assert "checksum mismatch" in dialog.status_label.text()
    assert placed_files() == [] and dialog.state_of("tiny") == "missing"


def test_offline_is_a_clear_message(qtbot, make_dialog):
    dialog = make_dialog(entry_for(PAYLOAD, closed_port_url()))
    with qtbot.waitSignal(dialog.download_failed, timeout=30_000) as failed:
        dialog.start_download()
    assert "are you offline?" in failed.args[0] and placed_files() == []


def test_cancel_stops_the_download_and_places_nothing(qtbot, make_dialog):
    with LocalServer() as server:
        dialog = make_dialog(entry_for(BIG, server.add("/tiny.pth", BIG, chunk_delay_s=0.05)))
        seen = []
        dialog.progressed.connect(lambda done, total: seen.append(done))
        dialog.start_download()
        qtbot.waitUntil(lambda: any(done > 0 for done in seen), timeout=10_000)
        with qtbot.waitSignal(dialog.download_failed, timeout=10_000) as failed:
            qtbot.mouseClick(dialog.cancel_button, weights_dialog.Qt.MouseButton.LeftButton)
    assert "cancelled" in failed.args[0] and dialog.status_label.text().startswith("Cancelled")
    assert placed_files() == [] and not dialog.busy


def test_import_from_file_is_verified_and_placed(qtbot, make_dialog, tmp_path, monkeypatch):
    copy = tmp_path / "fetched-elsewhere.pth"
    copy.write_bytes(PAYLOAD)
    monkeypatch.setattr(weights_dialog.QFileDialog, "getOpenFileName",
                        staticmethod(lambda *args, **kwargs: (str(copy), "")))
    dialog = make_dialog(entry_for(PAYLOAD, closed_port_url()))  # the URL must not be used
    with qtbot.waitSignal(dialog.download_finished, timeout=30_000):
        qtbot.mouseClick(dialog.import_button, weights_dialog.Qt.MouseButton.LeftButton)
    assert (paths.user_weights_dir() / "tiny.pth").read_bytes() == PAYLOAD

    wrong = tmp_path / "wrong.pth"
    wrong.write_bytes(bytes(reversed(PAYLOAD)))
    (paths.user_weights_dir() / "tiny.pth").unlink()
    with qtbot.waitSignal(dialog.download_failed, timeout=30_000) as failed:
        dialog.import_file(wrong)
    assert "checksum mismatch" in failed.args[0] and placed_files() == []


def test_verify_hashes_the_file_and_finds_a_corrupt_one(qtbot, make_dialog):
    paths.user_weights_dir().mkdir(parents=True)
    (paths.user_weights_dir() / "tiny.pth").write_bytes(bytes(reversed(PAYLOAD)))  # right size, wrong bytes
    dialog = make_dialog(entry_for(PAYLOAD))
    assert dialog.state_of("tiny") == "present"  # size only, until hashed
    with qtbot.waitSignal(dialog.verify_finished, timeout=30_000) as verified:
        qtbot.mouseClick(dialog.verify_button, weights_dialog.Qt.MouseButton.LeftButton)
    assert verified.args == ["corrupt"] and dialog.state_of("tiny") == "corrupt"


def test_closing_during_a_download_stops_and_joins_the_worker(qtbot, make_dialog):
    with LocalServer() as server:
        dialog = make_dialog(entry_for(BIG, server.add("/tiny.pth", BIG, chunk_delay_s=0.05)))
        dialog.show()
        dialog.start_download()
        assert dialog.busy
        dialog.reject()
        assert not dialog.busy
        assert placed_files() == []
        # The stopped job's last report is still queued; it must not disturb the next job.
        dialog.registry = Registry([entry_for(PAYLOAD, server.add("/small.pth", PAYLOAD))])
        dialog.refresh()
        with qtbot.waitSignal(dialog.download_finished, timeout=30_000):
            dialog.start_download("tiny")
    assert placed_files() == ["tiny.pth"]
