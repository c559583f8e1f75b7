"""What is on the host now: every image, then every container, as targets."""

from __future__ import annotations

from leakscan.watch.daemon import Daemon
from leakscan.watch.events import Target


def backfill_targets(daemon: Daemon) -> list[Target]:
    """Images first (a container's env is compared with its image's), then containers."""
    images = [Target("image", i) for i in daemon.image_ids()]
    containers = [Target("container", c) for c in daemon.container_ids()]
    return images + containers
