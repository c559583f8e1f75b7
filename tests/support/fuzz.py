"""Hypothesis strategies shared by the fuzz tests: valid inputs made a little wrong."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

OPS = ("flip", "cut", "insert", "truncate")


@st.composite
def mutated(
    draw: Any,
    valid: bytes | st.SearchStrategy[bytes],
    *,
    min_ops: int = 0,
    max_cut: int = 64,
    max_insert: int = 32,
    zero_blocks: bool = False,
) -> bytes:
    """``valid`` (bytes, or drawn from a strategy) with up to six bytes flipped, runs cut or
    inserted, a tail truncated, and with ``zero_blocks`` 512-byte runs zeroed (tar ends)."""
    data = bytearray(draw(valid) if isinstance(valid, st.SearchStrategy) else valid)
    ops = (*OPS, "zero") if zero_blocks else OPS
    for _ in range(draw(st.integers(min_ops, 6))):
        if not data:
            break
        op = draw(st.sampled_from(ops))
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del data[i : i + draw(st.integers(1, max_cut))]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=max_insert))
        elif op == "zero":
            data[i : i + 512] = bytes(len(data[i : i + 512]))
        else:
            del data[i:]
    return bytes(data)
