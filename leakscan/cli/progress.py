"""tqdm progress bars on stderr, only when it is a terminal (tqdm is imported only then)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tqdm import tqdm


class TqdmProgress:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: tqdm | None = None

    def task(self, description: str, total: int | None = None, unit: str = "B") -> None:
        self.done()
        if self.enabled:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                desc=description[:40],
                unit=unit,
                unit_scale=unit == "B",
                file=sys.stderr,
                leave=False,
                dynamic_ncols=True,
            )

    def advance(self, amount: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(amount)

    def done(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def close(self) -> None:
        self.done()
