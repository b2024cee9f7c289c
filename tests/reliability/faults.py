"""Real faults for the reliability tests: child processes, limits, dropped capabilities, mounts.

Nothing here mocks texstudio. A full disk is a tiny tmpfs (when this process may mount)
or an RLIMIT_FSIZE in a child process; a read-only folder is a read-only mount for
root (whom file modes do not stop) and mode 0555 for anyone else; an unreadable file
is mode 000 read by a child without root's file capabilities.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def cli_env(**extra: str) -> dict[str, str]:
    """The test's environment (isolated user folders) plus unbuffered output."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", **extra}


def run_cli(*args, preexec_fn=None, env=None, timeout: float = 300, cwd=None) -> subprocess.CompletedProcess:
    """``python -m texstudio ARGS`` in a fresh interpreter, as a user types it."""
    return subprocess.run([sys.executable, "-m", "texstudio", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, preexec_fn=preexec_fn, env=env or cli_env(), cwd=cwd or REPO)


def run_cli_many(argvs: list[list[str]], tmp_path: Path, timeout: float = 300) -> list[dict]:
    """Run ``texstudio.cli.main`` on each argv in ONE fresh interpreter, with each call's own stderr.

    Importing torch costs seconds per process; this keeps what matters of a real run (no
    pytest capture or warning filters, fd 2 captured so warnings and C-level output count)
    at one start-up for a whole matrix. Returns [{"code", "stderr"}], one per argv.
    """
    cases = tmp_path / "cli-cases.json"
    results = tmp_path / "cli-results.json"
    cases.write_text(json.dumps([[str(a) for a in argv] for argv in argvs]))
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("cli_driver.py")), str(cases), str(results)],
                          capture_output=True, text=True, timeout=timeout, env=cli_env(), cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(results.read_text())


def assert_one_line_error(code: int, stderr: str, expected_code: int = 2) -> str:
    """Exit ``expected_code``, exactly one line on stderr, from texstudio, and no traceback."""
    assert code == expected_code, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("texstudio") and "Traceback" not in stderr, stderr
    return lines[0]


def leftovers(folder: Path) -> list[str]:
    """Temp files an interrupted write could leave behind."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


# --- limits in a child process -----------------------------------------------------------

def limit_file_size(max_bytes: int):
    """preexec_fn: files may not grow past ``max_bytes``.

    Python ignores SIGXFSZ, so a write past the limit fails with EFBIG, as one on a full
    disk fails with ENOSPC. A child that restores SIGXFSZ's default is killed mid-write
    instead, as a crash or a power cut would stop it.
    """

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return apply


def as_unprivileged():
    """preexec_fn after which file modes apply to the child, root or not.

    Root reads anything through two capabilities (DAC override, DAC read-search). They
    are dropped from the bounding set before exec, so the child starts without them;
    its uid stays 0, so it still runs an interpreter that only root may reach.
    """

    def apply() -> None:
        if os.geteuid() != 0:
            return
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
            if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")

    return apply


PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2


@contextlib.contextmanager
def private_dir(tmp_path: Path):
    """A folder for files whose modes the test changes; restored so pytest can clean up."""
    folder = tmp_path / "modes"
    folder.mkdir()
    try:
        yield folder
    finally:
        for path in folder.rglob("*"):
            with contextlib.suppress(OSError):
                path.chmod(0o755 if path.is_dir() else 0o644)


# --- folders that refuse writes ------------------------------------------------------------

def _mount_tmpfs(target: Path, options: str) -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "texstudio-test", str(target)],
                          capture_output=True, text=True)
    return done.returncode == 0


def _unmount(target: Path) -> None:
    subprocess.run(["umount", str(target)], capture_output=True)


@contextlib.contextmanager
def full_disk(tmp_path: Path, size_kib: int = 64):
    """A real filesystem of ``size_kib`` KiB (tmpfs); skips where this process may not mount."""
    target = tmp_path / "full-disk"
    target.mkdir()
    if not _mount_tmpfs(target, f"size={size_kib}k,mode=0777"):
        pytest.skip("mounting a tiny tmpfs needs root (the RLIMIT_FSIZE tests cover a full disk elsewhere)")
    try:
        yield target
    finally:
        _unmount(target)


@contextlib.contextmanager
def read_only_dir(tmp_path: Path, seed_file: tuple[str, bytes] | None = None):
    """A folder this process really cannot write to, optionally holding one file."""
    target = tmp_path / "read-only"
    target.mkdir()
    if os.geteuid() == 0:
        # Root ignores file modes: a read-only mount is the honest way to refuse it.
        staging = tmp_path / "staging"
        staging.mkdir()
        if seed_file:
            (staging / seed_file[0]).write_bytes(seed_file[1])
        if not _mount_tmpfs(target, "size=1m,mode=0755"):
            pytest.skip("root cannot be refused a write without mounting, and mounting failed")
        try:
            for path in staging.iterdir():
                shutil.copy(path, target / path.name)
            subprocess.run(["mount", "-o", "remount,ro", str(target)], check=True, capture_output=True)
            yield target
        finally:
            _unmount(target)
        return
    if seed_file:
        (target / seed_file[0]).write_bytes(seed_file[1])
    target.chmod(0o555)
    try:
        yield target
    finally:
        target.chmod(0o755)
