"""Process memory for the status bar; Qt-free and cheap enough to call a few times a second."""

from __future__ import annotations

import os
import sys


def resident_bytes() -> int | None:
    """Current resident set size of this process, or None where it cannot be read cheaply."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # macOS reports bytes, Linux kilobytes; this is the peak, the best we have there.
        return peak if sys.platform == "darwin" else peak * 1024
    except (ImportError, OSError):
        return None


def format_bytes(count: float | None) -> str:
    if count is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit in ("B", "KB") else f"{count:.1f} {unit}" if count < 10 else f"{count:.0f} {unit}"
        count /= 1024
    return f"{count:.0f} TB"


def format_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
