"""Progress reporting protocol. Library code reports; only the CLI draws (tqdm)."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def task(self, description: str, total: int | None = None, unit: str = "B") -> None:
        """Start a new unit of progress (an image, a layer, a repository)."""

    def advance(self, amount: int = 1) -> None:
        """Advance the current unit."""

    def done(self) -> None:
        """Finish the current unit."""


class NoProgress:
    """The default: reports nothing."""

    def task(self, description: str, total: int | None = None, unit: str = "B") -> None:
        return None

    def advance(self, amount: int = 1) -> None:
        return None

    def done(self) -> None:
        return None
