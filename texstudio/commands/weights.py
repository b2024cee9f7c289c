"""``texstudio weights``: list the known network weights, and download them on request."""

from __future__ import annotations

import argparse
import sys

NAME = "weights"


def add_parser(subparsers) -> None:
    weights = subparsers.add_parser(
        "weights",
        help="list known network weights, or download one (only when you ask)",
        description="Known network weights (the registry in weights/manifest.json), where they are "
        "and whether they are intact. Files are searched, in order, in the repository's weights/, "
        "the user data folder and torch's hub cache. Nothing is downloaded unless you run "
        "`texstudio weights download`.",
    )
    actions = weights.add_subparsers(dest="weights_command", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list", help="show each known file: present, missing or corrupt",
        description="Show each registered weights file with its state, path, size and licence. "
        "Sizes are always checked; a file's SHA-256 is checked when it was downloaded by texstudio "
        "or hashed before (remembered per path, size and modification time). --verify hashes the rest.",
    )
    listing.add_argument("--verify", action="store_true",
                         help="hash files whose SHA-256 is not known yet (seconds per file)")
    listing.add_argument("--quiet", action="store_true", help="no progress bar while hashing")
    fetch = actions.add_parser(
        "download", help="fetch a registered file, verify its SHA-256 and put it in the user folder",
        description="Download NAME from its registered URL (or take it from --from, a local file or "
        "another URL), check its size and SHA-256 against the registry, and only then move it into "
        "the user data folder. A failed, cancelled (Ctrl-C) or mismatching download places nothing.",
    )
    fetch.add_argument("name", metavar="NAME", help="registered name, e.g. vgg19 (see `texstudio weights list`)")
    fetch.add_argument("--from", dest="source", metavar="URL_OR_PATH",
                       help="take the file from here instead (e.g. a copy fetched on another machine); "
                       "it is still verified against the registry")
    fetch.add_argument("--force", action="store_true", help="fetch again even if an intact copy is present")
    fetch.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    if args.weights_command == "list":
        return run_list(args)
    return run_download(args)


def _size_text(size: int | None) -> str:
    if size is None:
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return "?"  # unreachable; keeps type checkers quiet


def _drain(steps, desc: str, quiet: bool):
    """Run a (done, total) progress generator to its end with a tqdm bar on stderr; return its value."""
    progress = None
    try:
        while True:
            try:
                done, total = next(steps)
            except StopIteration as finished:
                return finished.value
            if not quiet:
                if progress is None:
                    from tqdm import tqdm

                    progress = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
                                    file=sys.stderr, dynamic_ncols=True, leave=False)
                progress.update(done - progress.n)
    finally:
        # Closing the generator here (also on Ctrl-C) lets it delete its temporary file.
        steps.close()
        if progress is not None:
            progress.close()


def run_list(args: argparse.Namespace) -> int:
    from texstudio.engine.weights import MISSING, iter_status, load_registry, weights_search_path

    registry = load_registry()
    rows = [("NAME", "STATE", "SIZE", "LICENCE", "PATH")]
    missing = []
    for entry in registry:
        status = _drain(iter_status(entry, verify=args.verify), f"hashing {entry.file}", args.quiet)
        state = status.state
        if status.state == "present" and not status.hashed:
            state = "present (size ok, not hashed)"
        elif status.detail:
            state = f"{status.state} ({status.detail})"
        if status.state == MISSING:
            missing.append(entry.name)
        rows.append((entry.name, state, _size_text(status.size if status.size is not None else entry.size),
                     entry.licence.split(";")[0], str(status.path) if status.path else "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    if missing:
        folders = ", ".join(str(folder) for folder in weights_search_path())
        print(f"\nsearched, in order: {folders}")
        print(f"get a missing file with `texstudio weights download {missing[0]}` "
              "(or --from a copy fetched elsewhere)")
    return 0


def run_download(args: argparse.Namespace) -> int:
    from texstudio.engine.cancel import StopToken
    from texstudio.engine.download import OfflineError
    from texstudio.engine.weights import (
        CORRUPT,
        PRESENT,
        download_destination,
        download_weights,
        load_registry,
        weights_status,
    )

    entry = load_registry().get(args.name)
    status = weights_status(entry)
    if status.state == PRESENT and not args.force:
        checked = "SHA-256 verified" if status.hashed else "size matches; `texstudio weights list --verify` hashes it"
        print(f"{entry.name} is already present at {status.path} ({checked}); use --force to fetch it again",
              file=sys.stderr)
        return 0
    dest = download_destination(entry)
    source = args.source or entry.url
    try:
        placed = _drain(download_weights(entry, StopToken(), source=source, dest=dest),
                        entry.file, args.quiet)
    except OfflineError as exc:
        if args.source:
            raise
        raise OfflineError(f"{exc} Fetch {entry.url} on a machine with internet and run "
                           f"`texstudio weights download {entry.name} --from FILE`") from None
    print(f"placed {placed} (SHA-256 verified)", file=sys.stderr)
    if status.state == CORRUPT and status.path is not None and status.path != placed:
        print(f"note: a damaged copy at {status.path} comes first in the search order; delete it",
              file=sys.stderr)
    return 0
