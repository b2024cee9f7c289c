"""Command line: ``texstudio`` starts the GUI; ``texstudio COMMAND`` runs headless.

Bad input prints one line to stderr and exits 2; a fault at run time exits 1; an
interrupted run exits 130. Commands live in ``texstudio.commands``, one module each.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

EXIT_OK, EXIT_FAULT, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Raised instead of argparse's print-usage-and-exit, so every error is one line."""


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print the whole usage block first
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def command_modules() -> dict:
    import texstudio.commands as package

    modules = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"texstudio.commands.{info.name}")
        if hasattr(module, "NAME") and hasattr(module, "run"):
            modules[module.NAME] = module
    return modules


def build_parser(modules: dict) -> argparse.ArgumentParser:
    from texstudio import __version__

    parser = OneLineParser(
        prog="texstudio",
        description="Neural texture synthesis. With no command, starts the studio window.",
    )
    parser.add_argument("--version", action="version", version=f"texstudio {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    subparsers.add_parser("gui", help="start the studio window (the default)")
    for module in modules.values():
        module.add_parser(subparsers)
    return parser


def run_gui(argv: list[str]) -> int:
    from texstudio.gui.app import run_app

    return run_app(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from texstudio.engine.errors import NumericalError, ResourceError, TexstudioError, is_out_of_memory

    debug = "--debug" in argv
    try:
        modules = command_modules()
        args = build_parser(modules).parse_args(argv)
        if args.command in (None, "gui"):
            return run_gui([sys.argv[0]])
        return modules[args.command].run(args)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    except (NumericalError, ResourceError) as exc:
        print(f"texstudio: {exc}", file=sys.stderr)
        return EXIT_FAULT
    except TexstudioError as exc:
        print(f"texstudio: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("texstudio: interrupted; nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug or an environment fault: one line unless --debug
        if debug:
            raise
        if is_out_of_memory(exc):
            print("texstudio: out of memory; try a smaller --size, a smaller --history, --optimizer adam "
                  "or --device cpu", file=sys.stderr)
        else:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            print(f"texstudio: unexpected error: {type(exc).__name__}: {first} (run with --debug for details)",
                  file=sys.stderr)
        return EXIT_FAULT


if __name__ == "__main__":
    raise SystemExit(main())
