"""Exponential backoff, and the waits it asks for: injectable, so tests never sleep."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: waits ``seconds`` unless stopped; returns True when stopped (``threading.Event.wait``)
Wait = Callable[[float], bool]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays of ``base * factor**attempt`` seconds, at most ``cap``."""

    base: float = 1.0
    factor: float = 2.0
    cap: float = 60.0

    def delay(self, attempt: int) -> float:
        return float(min(self.cap, self.base * self.factor ** max(0, attempt)))
