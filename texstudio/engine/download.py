"""Fetch a file from a URL or a local path, verify it, and only then put it in place.

Qt-free and stdlib-only. ``download`` is a generator, like every long loop in texstudio:
each yield is a progress point and the place where the StopToken is checked, so the CLI,
the tests and the GUI worker drive the same code. A destination is either the verified
file or untouched: bytes go to a temporary file in the destination's own folder (so the
final ``os.replace`` is a rename on one file system, which is atomic) and are renamed
only after the size and the SHA-256 match.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Generator
from pathlib import Path

from texstudio.engine.cancel import StopToken
from texstudio.engine.errors import TexstudioError

CHUNK_BYTES = 1 << 16
# Long enough for a slow mirror, short enough that a dead connection does not look like a hang;
# it also bounds how long a cancel waits when the server stalls mid-read.
TIMEOUT_S = 30.0

Progress = tuple[int, int | None]  # (bytes done, bytes total when known)


class DownloadError(TexstudioError):
    """A weights file could not be fetched, or what arrived is not the expected file."""


class OfflineError(DownloadError):
    """The source could not be reached at all (no network, DNS failure, refused, timed out)."""


class DownloadCancelled(DownloadError):
    """The user stopped the download; nothing was placed."""


def is_url(source: str | Path) -> bool:
    return isinstance(source, str) and urllib.parse.urlsplit(source).scheme in ("http", "https", "file")


def _describe(source: str | Path) -> str:
    if is_url(source):
        parts = urllib.parse.urlsplit(str(source))
        return parts.netloc or str(source)
    return str(source)


def _open(source: str | Path, timeout: float):
    """Return (readable stream, total bytes or None) for a URL or a local file."""
    if not is_url(source):
        path = Path(source).expanduser()
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            raise DownloadError(f"{path} does not exist") from None
        except IsADirectoryError:
            raise DownloadError(f"{path} is a folder, not a weights file") from None
        except OSError as exc:
            raise DownloadError(f"cannot read {path}: {exc.strerror or exc}") from None
        return handle, os.fstat(handle.fileno()).st_size
    request = urllib.request.Request(str(source), headers={"User-Agent": "texstudio"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{source} answered HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        text = getattr(reason, "strerror", None) or str(reason)
        if urllib.parse.urlsplit(str(source)).scheme == "file":
            raise DownloadError(f"cannot read {source}: {text}") from None
        raise OfflineError(f"cannot reach {_describe(source)} ({text}); are you offline?") from None
    except (TimeoutError, socket.timeout):
        raise OfflineError(f"{_describe(source)} did not answer within {timeout:.0f} s; are you offline?") from None
    except (http.client.HTTPException, OSError) as exc:
        raise OfflineError(f"cannot reach {_describe(source)} ({exc}); are you offline?") from None
    length = response.headers.get("Content-Length")
    total = int(length) if length and length.isdigit() else None
    return response, total


def _check_digest(actual: str, sha256: str | None, sha256_prefix: str | None, name: str) -> None:
    if sha256 and actual != sha256.lower():
        raise DownloadError(
            f"checksum mismatch: {name} has SHA-256 {actual[:16]}..., expected {sha256.lower()[:16]}...; "
            "it is not the registered file, nothing was placed"
        )
    if sha256_prefix and not actual.startswith(sha256_prefix.lower()):
        raise DownloadError(
            f"checksum mismatch: {name} has SHA-256 {actual[:16]}..., expected one starting "
            f"{sha256_prefix.lower()}; it is not the registered file, nothing was placed"
        )


def download(source: str | Path, dest: str | Path, sha256: str | None, stop: StopToken, *,
             size: int | None = None, sha256_prefix: str | None = None,
             timeout: float = TIMEOUT_S) -> Generator[Progress, None, Path]:
    """Copy ``source`` (URL or local path) to ``dest``; yields (bytes done, bytes total or None).

    The file is placed only if its size (when ``size`` is given) and SHA-256 match;
    otherwise, and on cancel, a ``DownloadError`` is raised and ``dest`` is untouched.
    Returns ``dest``. A generator closed early (e.g. by Ctrl-C in the consumer) also
    leaves nothing behind.
    """
    dest = Path(dest)
    if not sha256 and not sha256_prefix:
        # Refusing here keeps "verified before placed" true for every caller.
        raise DownloadError(f"no checksum known for {dest.name}; refusing to place an unverified file")
    label = Path(urllib.parse.urlsplit(str(source)).path).name if is_url(source) else Path(source).name
    label = label or dest.name
    stream, total = _open(source, timeout)
    temp: Path | None = None
    try:
        if size is not None and total is not None and total != size:
            raise DownloadError(
                f"{label} is {total} bytes, expected {size}: it is not the registered file, nothing was placed"
            )
        expected = total if total is not None else size
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            handle, temp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        except OSError as exc:
            raise DownloadError(f"cannot write to {dest.parent}: {exc.strerror or exc}") from None
        temp = Path(temp_name)
        digest = hashlib.sha256()
        done = 0
        with os.fdopen(handle, "wb") as out:
            yield done, expected
            while True:
                if stop.is_set():
                    raise DownloadCancelled(f"download of {dest.name} cancelled; nothing was placed")
                try:
                    block = stream.read(CHUNK_BYTES)
                except (TimeoutError, socket.timeout):
                    raise OfflineError(f"{_describe(source)} stopped sending after {done} bytes (timed out)") from None
                except (http.client.HTTPException, OSError) as exc:
                    raise OfflineError(f"connection to {_describe(source)} broke after {done} bytes ({exc})") from None
                if not block:
                    break
                try:
                    out.write(block)
                except OSError as exc:
                    raise DownloadError(f"cannot write to {dest.parent}: {exc.strerror or exc}") from None
                digest.update(block)
                done += len(block)
                if expected is not None and done > expected:
                    raise DownloadError(f"{label} is larger than the expected {expected} bytes; nothing was placed")
                yield done, expected
            out.flush()
            os.fsync(out.fileno())
        if expected is not None and done != expected:
            raise DownloadError(f"{label} is truncated: got {done} of {expected} bytes; nothing was placed")
        _check_digest(digest.hexdigest(), sha256, sha256_prefix, label)
        os.replace(temp, dest)
        temp = None
        return dest
    finally:
        stream.close()
        if temp is not None:
            temp.unlink(missing_ok=True)


def iter_sha256(path: str | Path, stop: StopToken | None = None) -> Generator[Progress, None, str]:
    """Hash a file; yields (bytes done, bytes total), returns the hex digest.

    Hashing the 548 MB VGG19 file takes seconds, long enough to deserve a progress bar
    and a way out.
    """
    path = Path(path)
    total = path.stat().st_size
    digest = hashlib.sha256()
    done = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            if stop is not None and stop.is_set():
                raise DownloadCancelled(f"checking {path.name} cancelled")
            digest.update(block)
            done += len(block)
            yield done, total
    return digest.hexdigest()


def sha256_of(path: str | Path) -> str:
    """The hex SHA-256 of a file (drains ``iter_sha256``)."""
    from texstudio.engine.generators import drive

    return drive(iter_sha256(path))
