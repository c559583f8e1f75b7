"""Dataclasses made through the cache of compiled methods are the ones ``dataclasses`` makes
without it (same code, annotations, docs and behaviour), a later run compiles nothing, and
a damaged cache file is compiled anew."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from leakscan import codecache, keptdict

METHODS = ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__")


def _classes() -> list[type]:
    """A frozen, slotted value with defaults (the model's kind), a plain one without a
    docstring (its ``__doc__`` is its signature) and an ordered one."""

    @dataclasses.dataclass(frozen=True, slots=True)
    class Value:
        """A value."""

        name: str
        size: int | None = None
        tags: tuple[str, ...] = ()
        extra: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)

    @dataclasses.dataclass
    class Plain:
        path: Path
        count: int = 0

    @dataclasses.dataclass(order=True, frozen=True)
    class Ordered:
        rank: int
        label: str = "x"

    return [Value, Plain, Ordered]


def _functions(cls: type) -> dict[str, Callable[..., Any]]:
    return {
        name: vars(cls)[name]
        for name in (*METHODS, "__lt__", "__ge__")
        if callable(vars(cls).get(name))
    }


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("LEAKSCAN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(keptdict.atexit, "register", lambda fn: fn)
    monkeypatch.setattr(codecache, "_installed", False)
    monkeypatch.setattr(dataclasses, "exec", exec, raising=False)  # taken back after the test
    codecache.codes.forget()
    yield tmp_path
    codecache.codes.forget()


def _same(made: list[type], plain: list[type]) -> None:
    for cls, ref in zip(made, plain, strict=True):
        assert cls.__doc__ == ref.__doc__
        ours, theirs = _functions(cls), _functions(ref)
        assert ours.keys() == theirs.keys() and "__init__" in ours
        for name, fn in ours.items():
            assert fn.__code__ == theirs[name].__code__, (cls, name)
            assert fn.__annotations__ == theirs[name].__annotations__, (cls, name)
            assert fn.__defaults__ == theirs[name].__defaults__, (cls, name)
    value, plain_value = made[0]("a", 3, ("t",)), plain[0]("a", 3, ("t",))
    assert repr(value) == repr(plain_value).replace(plain[0].__qualname__, made[0].__qualname__)
    assert value == made[0]("a", 3, ("t",), {"other": 1}) and hash(value) == hash(
        made[0]("a", 3, ("t",))
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.name = "b"  # type: ignore[misc]
    assert made[2](1) < made[2](2)


def test_a_later_run_takes_the_same_methods_from_the_file(fresh: Path) -> None:
    plain = _classes()  # dataclasses' own exec
    codecache.install()
    first = _classes()
    assert codecache.codes.added  # compiled, and kept for the file
    codecache.codes.save()
    assert list(fresh.glob("dataclass-code-*"))

    codecache.codes.forget()  # a new run
    again = _classes()
    assert codecache.codes.added == {}  # nothing compiled: all of it came from the file
    _same(first, plain)
    _same(again, plain)


def test_a_damaged_file_is_compiled_anew(fresh: Path) -> None:
    plain = _classes()
    codecache.codes.file().parent.mkdir(parents=True, exist_ok=True)
    codecache.codes.file().write_bytes(b"\x00not marshal")
    codecache.install()
    made = _classes()
    assert codecache.codes.added
    _same(made, plain)
    codecache.codes.save()
    codecache.codes.forget()
    _classes()
    assert codecache.codes.added == {}
