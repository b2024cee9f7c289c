"""Smoke-test a built texstudio bundle as a user would meet it: from outside the checkout,
with a clean environment, with nothing of the project installed.

    python3 packaging/smoke_test.py [BUNDLE_DIR] [--archive FILE.tar.xz] [--xvfb]
                                    [--screenshot PNG] [--require-gui] [--keep]

Standard library only, so the system python3 can run it. BUNDLE_DIR defaults to
dist/texstudio; --archive unpacks an archive into a temporary folder and tests that
instead. Checks, each printed PASS / FAIL / SKIP:

1. ``texstudio --version`` prints the package's version;
2. ``texstudio synth --help`` and ``texstudio weights list`` work (commands found, the
   weights manifest bundled);
3. ``texstudio synth`` on a generated 64x64 PNG (48 px, 3 steps, CPU, tileable) writes a
   48x48 PNG with varied pixels and a JSON sidecar holding the exemplar's SHA-256;
4. the GUI starts offscreen (QT_QPA_PLATFORM=offscreen) and is still running after a few
   seconds; then it is ended (the app has no auto-quit option);
5. with --xvfb: the GUI under a private Xvfb (QT_QPA_PLATFORM=xcb) shows a top-level
   window titled "texstudio"; then, when xdotool and ImageMagick's ``import`` exist, Start
   (F5) is pressed and a synthesis must visibly change the window (preview, loss plot)
   within two minutes; --screenshot saves the screen after that.

A bundle built before the GUI existed (no texstudio.gui.app) gives SKIP "GUI not
available yet" for 4 and 5, or FAIL with --require-gui. Exit status: 0 when nothing failed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GUI_MISSING = "GUI not available yet"


class Report:
    def __init__(self) -> None:
        self.failed = 0

    def line(self, status: str, name: str, detail: str = "") -> None:
        if status == "FAIL":
            self.failed += 1
        print(f"{status:4} {name}" + (f": {detail}" if detail else ""), flush=True)


# --- PNG without Pillow -------------------------------------------------------------------
def write_png(path: Path, width: int, height: int) -> None:
    """An 8-bit RGB test exemplar: smooth stripes plus a checker, so it has structure."""
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            checker = 60 if (x // 8 + y // 8) % 2 else 0
            row += bytes(((x * 4 + checker) % 256, (y * 4) % 256, (x * y + checker) % 256))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


def read_png(path: Path) -> tuple[int, int, int, list[bytes]]:
    """(width, height, channels, unfiltered rows) of an 8-bit non-interlaced PNG."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    if depth != 8 or interlace:
        raise ValueError(f"unexpected PNG format: depth {depth}, interlace {interlace}")
    raw, stride, rows, prev = zlib.decompress(idat), width * channels, [], bytes(width * channels)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = prev[i], prev[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, channels, rows


# --- running the bundle -----------------------------------------------------------------
def clean_env(tmp: Path, **extra: str) -> dict:
    """No venv, no PYTHONPATH, no user config: a home and XDG folders of its own."""
    home = tmp / "home"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TMPDIR": str(tmp),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_RUNTIME_DIR": str(tmp / "runtime"),
    }
    (tmp / "runtime").mkdir(mode=0o700, exist_ok=True)
    home.mkdir(exist_ok=True)
    env.update(extra)
    return env


def run(exe: Path, args: list[str], tmp: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(exe), *args], cwd=tmp, env=clean_env(tmp), capture_output=True,
                          text=True, timeout=timeout)


def tail(text: str, lines: int = 15) -> str:
    return "\n     | ".join([""] + text.strip().splitlines()[-lines:])


def expected_version() -> str | None:
    init = REPO / "texstudio" / "__init__.py"
    if not init.exists():
        return None
    match = re.search(r'^__version__\s*=\s*"([^"]+)"', init.read_text(encoding="utf-8"), re.M)
    return match.group(1) if match else None


def check_cli(exe: Path, tmp: Path, report: Report) -> None:
    t0 = time.monotonic()
    proc = run(exe, ["--version"], tmp, timeout=120)
    version = expected_version()
    out = proc.stdout.strip()
    if proc.returncode == 0 and out.startswith("texstudio ") and (version is None or out == f"texstudio {version}"):
        report.line("PASS", "--version", f"{out!r} in {time.monotonic() - t0:.1f} s")
    else:
        report.line("FAIL", "--version", f"exit {proc.returncode}, {out!r}, expected {version!r}{tail(proc.stderr)}")

    proc = run(exe, ["synth", "--help"], tmp)
    ok = proc.returncode == 0 and "--tileable" in proc.stdout
    report.line("PASS" if ok else "FAIL", "synth --help", "" if ok else f"exit {proc.returncode}{tail(proc.stderr)}")

    proc = run(exe, ["weights", "list"], tmp)
    ok = proc.returncode == 0 and "vgg19" in proc.stdout
    report.line("PASS" if ok else "FAIL", "weights list",
                proc.stdout.strip().splitlines()[0] if ok and proc.stdout.strip() else
                f"exit {proc.returncode}{tail(proc.stdout + proc.stderr)}")


def check_synthesis(exe: Path, tmp: Path, report: Report) -> None:
    exemplar = tmp / "exemplar.png"
    write_png(exemplar, 64, 64)
    out = tmp / "out" / "tile.png"
    out.parent.mkdir()
    args = ["synth", str(exemplar), "-o", str(out), "--size", "48", "--steps", "3",
            "--device", "cpu", "--quiet", "--tileable", "--seed", "1"]
    t0 = time.monotonic()
    proc = run(exe, args, tmp, timeout=600)
    elapsed = time.monotonic() - t0
    if proc.returncode != 0:
        report.line("FAIL", "synth", f"exit {proc.returncode} after {elapsed:.1f} s{tail(proc.stdout + proc.stderr)}")
        return
    try:
        width, height, channels, rows = read_png(out)
    except (OSError, ValueError, KeyError, zlib.error) as exc:
        report.line("FAIL", "synth", f"{out} is not a readable PNG: {exc}")
        return
    distinct = len(set(b"".join(rows)))
    if (width, height) != (48, 48) or channels not in (3, 4) or distinct < 16:
        report.line("FAIL", "synth", f"{width}x{height}x{channels}, {distinct} distinct values")
        return
    report.line("PASS", "synth", f"{width}x{height} RGB PNG, {distinct} distinct values, {elapsed:.1f} s")

    sidecar = out.with_suffix(".json")
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        report.line("FAIL", "sidecar", f"{sidecar}: {exc}")
        return
    digest = hashlib.sha256(exemplar.read_bytes()).hexdigest()
    if digest in json.dumps(data):
        report.line("PASS", "sidecar", f"{sidecar.name} records the exemplar's SHA-256")
    else:
        report.line("FAIL", "sidecar", f"{sidecar.name} lacks the exemplar's SHA-256 {digest[:12]}...")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_gui(exe: Path, tmp: Path, log: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen([str(exe)], cwd=tmp, env=clean_env(tmp, **env), stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def gui_missing(log_text: str) -> bool:
    return "texstudio.gui.app" in log_text and ("No module named" in log_text or "ModuleNotFoundError" in log_text)


def early_exit(name: str, proc: subprocess.Popen, log: Path, report: Report, require_gui: bool) -> bool:
    """True (and reported) when the GUI process has already ended."""
    if proc.poll() is None:
        return False
    text = log.read_text(errors="replace")
    if gui_missing(text) and not require_gui:
        report.line("SKIP", name, f"{GUI_MISSING} (this bundle has no texstudio.gui.app)")
    else:
        report.line("FAIL", name, f"exited {proc.returncode} before the wait ended{tail(text)}")
    return True


def check_gui_offscreen(exe: Path, tmp: Path, report: Report, wait: float, require_gui: bool) -> None:
    log = tmp / "gui-offscreen.log"
    proc = start_gui(exe, tmp, log, QT_QPA_PLATFORM="offscreen")
    try:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if early_exit("gui offscreen", proc, log, report, require_gui):
                return
            time.sleep(0.2)
        report.line("PASS", "gui offscreen", f"still running after {wait:.0f} s; ended it")
    finally:
        stop(proc)


def free_display() -> int:
    for number in range(97, 200):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            return number
    raise RuntimeError("no free X display number")


def top_level_titles(display: str) -> list[str]:
    proc = subprocess.run(["xwininfo", "-root", "-children"], env={"DISPLAY": display, "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=20)
    return re.findall(r'^\s+0x[0-9a-f]+ "([^"]*)"', proc.stdout, re.M)


def grab_ppm(display: str, path: Path) -> bytes | None:
    """The root window's pixels (RGB bytes) via ImageMagick's import, or None."""
    proc = subprocess.run(["import", "-window", "root", f"ppm:{path}"],
                          env={"DISPLAY": display, "PATH": "/usr/bin:/bin"}, capture_output=True, timeout=60)
    if proc.returncode != 0 or not path.exists():
        return None
    data = path.read_bytes()
    # Binary PPM: "P6", width, height, maxval, then RGB bytes.
    fields = re.match(rb"P6\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
    return data[fields.end():] if fields else None


def changed_fraction(before: bytes, after: bytes) -> float:
    """Share of pixels that differ between two same-sized RGB screenshots."""
    if len(before) != len(after) or not before:
        return 0.0
    step = 3 * 7  # every 7th pixel is plenty and keeps this fast in pure Python
    differ = sum(1 for i in range(0, len(before) - 2, step) if before[i:i + 3] != after[i:i + 3])
    return differ / (len(before) // step)


def check_gui_synthesis(display: str, proc: subprocess.Popen, tmp: Path, report: Report, wait: float) -> None:
    """Press Start (F5) in the window and see the preview and plots change."""
    if shutil.which("xdotool") is None or shutil.which("import") is None:
        report.line("SKIP", "gui synthesis", "needs xdotool and ImageMagick's import")
        return
    env = {"DISPLAY": display, "PATH": "/usr/bin:/bin"}
    before = grab_ppm(display, tmp / "before.ppm")
    found = subprocess.run(["xdotool", "search", "--name", "^texstudio"], env=env, capture_output=True, text=True)
    window = found.stdout.split()[0] if found.stdout.split() else None
    if window is None or before is None:
        report.line("FAIL", "gui synthesis", "could not find the window or take a screenshot")
        return
    subprocess.run(["xdotool", "windowactivate", "--sync", window], env=env, capture_output=True, timeout=20)
    subprocess.run(["xdotool", "windowfocus", "--sync", window], env=env, capture_output=True, timeout=20)
    # XTEST key presses go to the focused window (there is no window manager to activate it;
    # events sent with --window are synthetic and Qt ignores them).
    subprocess.run(["xdotool", "key", "F5"], env=env, capture_output=True, timeout=20)
    t0, fraction = time.monotonic(), 0.0
    while time.monotonic() - t0 < wait and proc.poll() is None:
        time.sleep(5)
        after = grab_ppm(display, tmp / "after.ppm")
        fraction = changed_fraction(before, after) if after else 0.0
        if fraction > 0.05:
            break
    if proc.poll() is not None:
        report.line("FAIL", "gui synthesis", f"the app exited {proc.returncode} after Start")
    elif fraction > 0.05:
        report.line("PASS", "gui synthesis", f"Start (F5) changed {fraction:.0%} of the screen "
                    f"within {time.monotonic() - t0:.0f} s")
    else:
        report.line("FAIL", "gui synthesis", f"the screen barely changed ({fraction:.1%}) {wait:.0f} s after Start (F5)")


def check_gui_xvfb(exe: Path, tmp: Path, report: Report, timeout: float, screenshot: Path | None,
                   require_gui: bool) -> None:
    for tool in ("Xvfb", "xwininfo"):
        if shutil.which(tool) is None:
            report.line("SKIP", "gui xvfb", f"{tool} is not installed (apt-get install xvfb x11-utils)")
            return
    number = free_display()
    display = f":{number}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    log = tmp / "gui-xvfb.log"
    proc = None
    try:
        for _ in range(50):
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                break
            time.sleep(0.1)
        t0 = time.monotonic()
        proc = start_gui(exe, tmp, log, QT_QPA_PLATFORM="xcb", DISPLAY=display)
        titles: list[str] = []
        while time.monotonic() - t0 < timeout:
            if early_exit("gui xvfb", proc, log, report, require_gui):
                return
            titles = top_level_titles(display)
            if any(t.startswith("texstudio") for t in titles):
                break
            time.sleep(0.5)
        else:
            report.line("FAIL", "gui xvfb", f"no window titled texstudio after {timeout:.0f} s "
                        f"(top-level windows: {titles}){tail(log.read_text(errors='replace'))}")
            return
        opened = time.monotonic() - t0
        time.sleep(3)  # let the first paint (and the sample's preview) finish
        if proc.poll() is not None:
            report.line("FAIL", "gui xvfb", f"window opened, then the app exited {proc.returncode}"
                        f"{tail(log.read_text(errors='replace'))}")
            return
        report.line("PASS", "gui xvfb",
                    f"window {[t for t in titles if t.startswith('texstudio')][0]!r} opened in {opened:.1f} s")
        check_gui_synthesis(display, proc, tmp, report, wait=120)
        if screenshot is not None:
            if shutil.which("import") is None:
                report.line("SKIP", "screenshot", "ImageMagick's import is not installed")
            else:
                shot = subprocess.run(["import", "-window", "root", str(screenshot)],
                                      env={"DISPLAY": display, "PATH": "/usr/bin:/bin"},
                                      capture_output=True, text=True, timeout=60)
                report.line("PASS" if shot.returncode == 0 else "FAIL", "screenshot",
                            str(screenshot) if shot.returncode == 0 else shot.stderr.strip())
    finally:
        if proc is not None:
            stop(proc)
        stop(xvfb)


def unpack(archive: Path, tmp: Path) -> Path:
    target = tmp / "unpacked"
    target.mkdir()
    t0 = time.monotonic()
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="tar") if hasattr(tarfile, "data_filter") else tar.extractall(target)
    folders = [p for p in target.iterdir() if p.is_dir()]
    if len(folders) != 1:
        raise SystemExit(f"smoke_test: {archive} should hold one folder, not {[p.name for p in folders]}")
    print(f"     unpacked {archive.name} in {time.monotonic() - t0:.0f} s", flush=True)
    return folders[0]


def main() -> int:
    parser = argparse.ArgumentParser(description="Smoke-test a built texstudio bundle.")
    parser.add_argument("bundle", nargs="?", type=Path, default=REPO / "dist" / "texstudio",
                        help="the one-folder bundle (default: dist/texstudio)")
    parser.add_argument("--archive", type=Path, help="test this .tar.xz instead, unpacked to a temp folder")
    parser.add_argument("--xvfb", action="store_true", help="also open the window under a private Xvfb")
    parser.add_argument("--screenshot", type=Path, help="with --xvfb: save the screen here (PNG)")
    parser.add_argument("--gui-wait", type=float, default=8.0, help="seconds the offscreen GUI must survive")
    parser.add_argument("--require-gui", action="store_true", help="fail (not skip) when the bundle has no GUI")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="texstudio-smoke-"))
    report = Report()
    try:
        bundle = unpack(args.archive.resolve(), tmp) if args.archive else args.bundle.resolve()
        exe = bundle / "texstudio"
        if not (exe.is_file() and os.access(exe, os.X_OK)):
            print(f"smoke_test: no executable {exe}; build it with bash packaging/build_linux.sh", file=sys.stderr)
            return 2
        print(f"     bundle {bundle}; working in {tmp}", flush=True)
        check_cli(exe, tmp, report)
        check_synthesis(exe, tmp, report)
        check_gui_offscreen(exe, tmp, report, args.gui_wait, args.require_gui)
        if args.xvfb:
            shot = args.screenshot.resolve() if args.screenshot else None
            check_gui_xvfb(exe, tmp, report, 60, shot, args.require_gui)
    finally:
        if args.keep:
            print(f"     kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("smoke test " + ("passed" if report.failed == 0 else f"FAILED ({report.failed} checks)"))
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
