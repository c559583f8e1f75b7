"""Command-line values converted without building a pydantic adapter for each parameter.

Typer (0.2x) converts every parameter's value of the command run through a pydantic
``TypeAdapter`` it builds on first use: importing pydantic and building the adapters of a
scan's ~30 options cost more than a small scan (~0.1 s). This module installs, once, a
builder that defers typer's own until a value needs it and converts the values that cannot go
wrong without it: an option left at ``None`` (no conversion at all), a ``str``/``int``/
``float`` already of its type, an integer written plainly, a list of strings, a path given as
text. Anything else (a bad value: the error messages) goes to typer's adapter as before.
A typer without these internals is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_NO = object()  # "not converted here: ask typer's own adapter"


def _plain_path(value: Any) -> bool:
    """A path given as text that ``Path`` keeps as written (errors name it the same)."""
    return type(value) is str and str(Path(value)) == value


def _decimal(text: str) -> bool:
    """An integer written plainly (``12``, ``-3``, ``007``): read alike by ``int`` and typer."""
    digits = text[1:] if text.startswith("-") else text
    return digits.isascii() and digits.isdigit()


def install() -> None:
    """Let typer convert simple values without pydantic (a typer without the hooks: no-op)."""
    try:
        from typer import _coercion, _param_types, core
    except ImportError:
        return
    original: Any = getattr(core, "build_runtime_param", None)
    base: Any = getattr(_coercion, "RuntimeParam", None)
    coerce_path: Any = getattr(_param_types, "coerce_cli_path", None)
    if original is None or base is None or coerce_path is None:
        return
    if getattr(original, "_leakscan", False):
        return

    def convert(descriptor: Any, value: Any, param: Any, ctx: Any) -> Any:
        annotation, info = descriptor.annotation, descriptor.parameter_info
        if info.parser is not None:
            return _NO
        kind = type(value)
        if annotation is str or annotation is float:
            return value if kind is annotation else _NO
        if annotation is int:
            if info.min is not None or info.max is not None or info.clamp:
                return _NO
            if kind is int:
                return value
            return int(value) if kind is str and _decimal(value) else _NO
        if annotation is Path and info.path_type is None:
            if not _plain_path(value):
                return _NO
            return coerce_path(Path(value), info, path_type=Path, param=param, ctx=ctx)
        if getattr(annotation, "__origin__", None) is list and kind in (list, tuple):
            args: tuple[Any, ...] = getattr(annotation, "__args__", ())
            item = args[0] if len(args) == 1 else None
            if item is str and all(type(v) is str for v in value):
                return list(value)
            if item is Path and info.path_type is None and all(_plain_path(v) for v in value):
                return [
                    coerce_path(Path(v), info, path_type=Path, param=param, ctx=ctx) for v in value
                ]
        return _NO

    @dataclass(frozen=True)
    class Deferred(base):  # type: ignore[misc]
        """Typer's runtime parameter, built the first time a value needs it."""

        descriptor: Any = None
        built: list[Any] = field(default_factory=list)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            quick = convert(self.descriptor, value, param, ctx)
            if quick is not _NO:
                return quick
            if not self.built:
                self.built.append(original(self.descriptor))
            return self.built[0]._coerce_value(value, param=param, ctx=ctx)

    def build(descriptor: Any) -> Any:
        if descriptor.file_annotation is not None:
            return original(descriptor)
        return Deferred(
            parameter_info=descriptor.parameter_info,
            annotation=descriptor.annotation,
            descriptor=descriptor,
        )

    build._leakscan = True  # type: ignore[attr-defined]
    setattr(core, "build_runtime_param", build)  # noqa: B010 (not exported by typer)
