"""Wider pipes: a bulk writer and its reader wake once a megabyte, not once 64 KiB."""

from __future__ import annotations

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["PIPE_BYTES", "widen_pipe"]

#: the most an unprivileged Linux process may ask for (``/proc/sys/fs/pipe-max-size``)
PIPE_BYTES = 1 << 20


def widen_pipe(fd: int, size: int = PIPE_BYTES) -> None:
    """Ask for a pipe buffer of ``size`` bytes (Linux). Elsewhere, or above the system's
    limit, the pipe stays as it is: best effort, it works either way."""
    setpipe = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if setpipe is None:
        return
    try:
        fcntl.fcntl(fd, setpipe, size)
    except OSError:
        pass
