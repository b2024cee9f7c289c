"""No loaded file runs code; nothing reaches the network at start-up or in a run.

Weights files with pickled code: tests/engine/test_backbones.py and test_weights.py
(test_a_pickle_payload_...). Paths from settings: tests/reliability/test_persistence.py
and tests/gui/test_reliability_settings.py. Here: a scan of the code for every way a
file could become code, a pickle posing as a trained model, and a run with sockets trapped.
"""

from __future__ import annotations

import ast
import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.reliability.faults import REPO, cli_env

PACKAGE = REPO / "texstudio"


def unsafe_calls(source: str, where: str) -> list[str]:
    """Every call in ``source`` that could turn what it reads into running code."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else ""
        keywords = {k.arg: k.value for k in node.keywords}
        line = f"{where}:{node.lineno}"
        if owner == "torch" and name == "load":
            flag = keywords.get("weights_only")
            if not (isinstance(flag, ast.Constant) and flag.value is True):
                problems.append(f"{line}: torch.load without weights_only=True")
        elif owner in ("pickle", "marshal", "shelve", "dill", "cloudpickle") and name in ("load", "loads", "open"):
            problems.append(f"{line}: {owner}.{name}")
        elif owner == "yaml" and name in ("load", "unsafe_load", "full_load"):
            problems.append(f"{line}: yaml.{name}")
        elif isinstance(func, ast.Name) and name in ("eval", "exec", "compile", "__import__"):
            problems.append(f"{line}: {name}()")
        elif owner == "os" and name in ("system", "popen"):
            problems.append(f"{line}: os.{name}")
        elif owner == "subprocess" and isinstance(keywords.get("shell"), ast.Constant) and keywords["shell"].value:
            problems.append(f"{line}: subprocess with shell=True")
        elif owner == "np" and name == "load":
            flag = keywords.get("allow_pickle")
            if flag is not None and not (isinstance(flag, ast.Constant) and flag.value is False):
                problems.append(f"{line}: np.load(allow_pickle=...)")
    return problems


def test_the_scan_finds_what_it_looks_for():
    bad = textwrap.dedent("""
        torch.load(p)
        torch.load(p, weights_only=False)
        pickle.loads(b)
        eval(text)
        subprocess.run(cmd, shell=True)
        net.eval()
        torch.load(p, weights_only=True)
    """)
    assert [problem.split(": ", 1)[1] for problem in unsafe_calls(bad, "x")] == [
        "torch.load without weights_only=True", "torch.load without weights_only=True", "pickle.loads", "eval()",
        "subprocess with shell=True"]


def test_no_code_path_turns_a_file_into_code():
    """Static guard: every deserialiser in texstudio is one that cannot execute what it reads."""
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        problems += unsafe_calls(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))
    assert problems == []


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_posing_as_a_trained_model_is_refused_and_never_runs(tmp_path):
    from texstudio.engine.backbones import build_backbone
    from texstudio.engine.errors import BackboneError
    from texstudio.engine.models import save_model
    from texstudio.engine.trainable import build_network

    folder = tmp_path / "model"
    save_model(build_network({"name": "fcn-lichen"}, seed=0), folder, {"name": "genuine"})
    assert build_backbone(str(folder)).name == "genuine"  # the folder is a real model...
    marker = tmp_path / "pwned"
    with open(folder / "model.safetensors", "wb") as handle:  # ...until its weights are swapped for code
        pickle.dump({"stages.conv1.weight": _Payload(str(marker))}, handle)
    with pytest.raises(BackboneError, match="not a usable weights file"):
        build_backbone(str(folder))
    assert not marker.exists()


OFFLINE = textwrap.dedent("""
    # A sitecustomize-like guard: any attempt to reach beyond this machine is recorded and refused.
    import ipaddress, json, os, sys
    attempts = []

    def local(host):
        if host in (None, "", "localhost") or str(host).startswith("/"):
            return True
        try:
            return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
        except ValueError:
            return False

    def guard(event, args):
        if event == "socket.connect" and isinstance(args[1], tuple) and not local(args[1][0]):
            attempts.append(f"connect {args[1]}")
            raise ConnectionRefusedError("network blocked by the test")
        if event == "socket.getaddrinfo" and not local(args[0]):
            attempts.append(f"resolve {args[0]}")
            raise OSError("name resolution blocked by the test")
        if event == "urllib.Request":
            attempts.append(f"urllib {args[0]}")

    sys.addaudithook(guard)
    report = {}
    from texstudio.cli import main
    report["synth"] = main(["synth", sys.argv[1], "-o", sys.argv[2], "--size", "32", "--steps", "2",
                            "--backbone", "vgg19", "--layers", "relu1_1", "--device", "cpu", "--quiet"])
    from PySide6.QtWidgets import QApplication
    app = QApplication(["texstudio"])
    from texstudio.gui.app import build_main_window, configure_pyqtgraph
    configure_pyqtgraph()
    window = build_main_window()
    window.show()
    app.processEvents()
    window.close()
    report["qt_network_loaded"] = "PySide6.QtNetwork" in sys.modules
    report["attempts"] = list(attempts)
    import socket  # the guard itself must work, or the test proves nothing
    try:
        socket.create_connection(("192.0.2.1", 80), timeout=1)
    except OSError as exc:
        report["probe"] = str(exc)
    report["probe_recorded"] = len(attempts) > len(report["attempts"])
    print(json.dumps(report))
""")


def test_a_run_and_the_window_start_never_touch_the_network(tmp_path, texture_file):
    done = subprocess.run([sys.executable, "-c", OFFLINE, str(texture_file), str(tmp_path / "out.png")],
                          capture_output=True, text=True, timeout=300, cwd=REPO,
                          env=cli_env(QT_QPA_PLATFORM="offscreen"))
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["synth"] == 0 and (tmp_path / "out.png").exists()
    assert report["attempts"] == [] and not report["qt_network_loaded"]
    assert report["probe_recorded"] and "blocked by the test" in report["probe"]


def test_settings_paths_are_never_taken_relative_to_where_the_studio_starts(tmp_path, monkeypatch):
    """A relative exemplar path in the settings would open whatever file sits there in the cwd."""
    from texstudio.gui.settings import load_settings, settings_path

    decoy = tmp_path / "decoy.png"
    decoy.write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"exemplar_path": "decoy.png", "recent_files": ["decoy.png", str(decoy)]}))
    settings, notice = load_settings()
    assert notice is None and settings.exemplar_path is None and settings.recent_files == [str(decoy)]
    assert os.path.isabs(settings.recent_files[0]) and Path(settings.recent_files[0]).is_file()
