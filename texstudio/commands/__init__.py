"""One module per ``texstudio`` subcommand.

Each module defines ``NAME``, ``add_parser(subparsers)`` and ``run(args) -> int``; the CLI
finds them here, so adding a command never means editing cli.py.
"""
