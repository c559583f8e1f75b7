def part(
    old: bytes,
    new: bytes,
    old_multiline: bool,
    context: int,
    context_bytes: int,
    markers: tuple[bytes, ...],
) -> tuple[bytes, frozenset[int]] | None: ...
