"""The bundled executable's entry point: the same CLI as the installed ``texstudio`` script."""

import multiprocessing

from texstudio.cli import main

if __name__ == "__main__":
    # Spawned worker processes (macOS, Windows) re-run this file; this routes them.
    multiprocessing.freeze_support()
    raise SystemExit(main())
