"""Qt-free synthesis engine: configs, image I/O, backbones, losses, loops.

Nothing in this package may import PySide6 or pyqtgraph; a test checks it.
"""
