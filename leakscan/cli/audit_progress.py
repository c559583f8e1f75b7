"""An audit's progress on stderr: a live bar on a terminal, one status line a minute elsewhere.

Both say the images done and the total, the repository being audited, layers cached and
scanned, the scan rate (MB/s) and the time left. The clock is injected (tests never sleep).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from leakscan.audit.progress import Snapshot
from leakscan.report.safe_text import terminal

INTERVAL = 60.0  # seconds between status lines on a non-terminal


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def status_text(snap: Snapshot, elapsed: float) -> str:
    """``12/65 images · repo app/web · layers 40 cached, 12 scanned · 85.2 MB/s · ETA 3m10s``
    (a distributed audit adds ``· cluster 30/56 layers`` after the layers: back, sent)"""
    rate = snap.bytes_scanned / elapsed / 1e6 if elapsed > 0 else 0.0
    if snap.images_done and snap.images_total >= snap.images_done:
        eta = _duration(elapsed / snap.images_done * (snap.images_total - snap.images_done))
    else:
        eta = "?"
    failed = f" · {snap.failed} failed" if snap.failed else ""
    cluster = ""
    if snap.cluster_layers is not None:
        cluster = f" · cluster {snap.cluster_layers[0]}/{snap.cluster_layers[1]} layers"
    return (
        f"{snap.images_done}/{snap.images_total} images · repo {terminal(snap.repository)[:60]} · "
        f"layers {snap.layers_cached} cached, {snap.layers_scanned} scanned{cluster} · "
        f"{rate:.1f} MB/s · ETA {eta}{failed}"
    )


class AuditStatus:
    """The CLI's :class:`~leakscan.audit.progress.AuditProgress`."""

    def __init__(
        self,
        stream: TextIO,
        is_terminal: bool,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
        interval: float = INTERVAL,
    ) -> None:
        self.stream = stream
        self.is_terminal = is_terminal
        self.enabled = enabled
        self.clock = clock
        self.interval = interval
        self.started = clock()
        self.last_line = self.started
        self._bar: object | None = None

    def start(self, total: int) -> None:
        self.started = self.last_line = self.clock()
        if not self.enabled:
            return
        if self.is_terminal:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                unit="image",
                file=self.stream,
                leave=False,
                dynamic_ncols=True,
                bar_format="{n_fmt}/{total_fmt} |{bar:20}| {desc}",
            )
        else:
            self.stream.write(f"leakscan: audit of {total} image(s) started\n")
            self.stream.flush()

    def update(self, snap: Snapshot) -> None:
        if not self.enabled:
            return
        now = self.clock()
        text = status_text(snap, now - self.started)
        if self._bar is not None:
            if now - self.last_line < 0.2 and snap.images_done < snap.images_total:
                return  # a live line redrawn five times a second at most
            self.last_line = now
            bar = self._bar
            bar.n = snap.images_done  # type: ignore[attr-defined]
            bar.set_description_str(text.split(" · ", 1)[1], refresh=True)  # type: ignore[attr-defined]
        elif not self.is_terminal and now - self.last_line >= self.interval:
            self.last_line = now
            self.stream.write(f"leakscan: {text}\n")
            self.stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()  # type: ignore[attr-defined]
            self._bar = None
