"""``leakscan watch``: images and containers scanned as they appear on a Docker host.

The watch backfills every image and container it has not seen, then follows the daemon's
events; each new finding is emitted once per (fingerprint, image or container). Modules:
``daemon`` (the docker SDK, behind a small protocol), ``events`` (the event stream into a
bounded queue), ``backfill`` (what is on the host now), ``scanning`` (the scan pipeline, content
kept between units), ``state`` (SQLite: what was scanned and emitted), ``emit`` (JSON lines, the
webhook), ``backoff`` and ``loop`` (the whole, reconnecting).
"""

from __future__ import annotations
