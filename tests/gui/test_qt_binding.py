"""Guards against Qt-binding defects that would crash a long GUI session."""

from __future__ import annotations

import subprocess
import sys

import PySide6


def test_signal_emit_keeps_reference_counts():
    """PySide6 6.12.0's SignalInstance.emit() returns True without a new reference: every
    emit from Python drops one, and after a few thousand the interpreter aborts
    ("bool_dealloc: deallocating True or False"). Pin pyside6-essentials < 6.12 (6.11.0 is clean).
    """
    code = ("import sys; from PySide6.QtCore import QCoreApplication, QObject, Signal\n"
            "class W(QObject):\n    fired = Signal()\n"
            "app = QCoreApplication([]); w = W(); before = sys.getrefcount(True)\n"
            "for _ in range(200): w.fired.emit()\n"
            "print(before - sys.getrefcount(True))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    lost = int(run.stdout.strip() or -1) if run.returncode == 0 else None
    assert lost == 0, (f"PySide6 {PySide6.__version__}: 200 emits lost {lost} references to True "
                       f"(rc {run.returncode}); this binding crashes long sessions: pin pyside6-essentials<6.12")


def test_python_garbage_is_collected_in_the_gui_thread_not_in_a_worker(qtbot):
    """Cycles made and dropped in a worker are collected by the GUI thread's timer.

    With automatic collection on, the worker's own allocations collect them in the worker:
    the way Qt objects in garbage reached a deadlock once (texstudio/gui/app.py says how).
    """
    import gc
    import threading

    from texstudio.gui.app import collect_garbage_in_gui_thread

    collect_garbage_in_gui_thread()
    assert not gc.isenabled()
    gc.collect()
    collected_in: list[str] = []

    class Node:
        def __del__(self):
            collected_in.append(threading.current_thread().name)

    def make_garbage():
        for _ in range(2000):  # more than the generation-0 threshold: it would collect here
            node = Node()
            node.me = node
        del node

    worker = threading.Thread(target=make_garbage, name="worker")
    worker.start()
    worker.join()
    assert collected_in == []
    qtbot.waitUntil(lambda: len(collected_in) == 2000, timeout=5000)
    assert set(collected_in) == {threading.main_thread().name}
