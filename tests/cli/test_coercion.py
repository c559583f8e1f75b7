"""Option values converted without typer's pydantic adapters (``leakscan.cli.coercion``) come
out as typer's own conversion makes them: the same values, the same errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
import typer.main
from typer import _coercion, core
from typer._click import Context

import leakscan.cli.commands  # noqa: F401  (installs the conversion)


def _command(path: Path) -> Any:
    app = typer.Typer()

    @app.command()
    def run(
        text: Annotated[str | None, typer.Option()] = None,
        number: Annotated[int | None, typer.Option()] = None,
        ratio: Annotated[float | None, typer.Option()] = None,
        file: Annotated[Path | None, typer.Option()] = None,
        existing: Annotated[Path | None, typer.Option(exists=True, dir_okay=False)] = None,
        texts: Annotated[list[str] | None, typer.Option()] = None,
        files: Annotated[list[Path] | None, typer.Option()] = None,
    ) -> None:
        pass

    return typer.main.get_command(app)


VALUES: list[Any] = [
    None,
    "x",
    "",
    "3",
    " 3",
    "1_0",
    "007",
    "-12",
    "+3",
    "٣",
    3,
    True,
    3.5,
    "3.5",
    "nan",
    "-",
    "/tmp//a/",
    "a/../b",
    "file.txt",
    ("a", "b"),
    ["x"],
    (),
    ("a", 3),
    ("/tmp//a/", "c"),
]


def _outcome(runtime: Any, value: Any, param: Any, ctx: Context) -> tuple[str, Any]:
    try:
        return "value", runtime.coerce(value, param=param, ctx=ctx)
    except Exception as exc:
        return type(exc).__name__, str(exc)


OPTIONS = {"text", "number", "ratio", "file", "existing", "texts", "files"}


def test_values_are_converted_as_typer_converts_them(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("x")
    command = _command(tmp_path)
    ctx = Context(command)
    quick: dict[str, int] = {}  # option -> values converted without typer's adapter (not None)
    for param in command.params:
        descriptor = param.type_descriptor
        theirs = _coercion.build_runtime_param(descriptor)
        quick[param.name] = 0
        for value in VALUES:
            ours: Any = core.build_runtime_param(descriptor)  # type: ignore[attr-defined]
            assert type(ours) is not type(theirs)  # the conversion was installed
            with pytest.MonkeyPatch.context() as mp:
                mp.chdir(tmp_path)
                expected = repr(_outcome(theirs, value, param, ctx))  # repr: nan is nan
                assert repr(_outcome(ours, value, param, ctx)) == expected, (param.name, value)
            quick[param.name] += value is not None and not ours.built
    # every option above was compared (and typer's own), each on values converted here
    assert OPTIONS < set(quick), sorted(quick)
    assert all(quick[name] for name in OPTIONS), quick


def test_a_scan_does_not_import_pydantic(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("nothing here\n")
    code = (
        "import sys\n"
        "from leakscan.cli import app\n"
        "try:\n"
        "    app(sys.argv[1:], prog_name='leakscan')\n"
        "except SystemExit as exc:\n"
        "    print('pydantic' in sys.modules, exc.code)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, "scan", str(tmp_path), "-f", "json", "--no-progress",
         "-o", str(tmp_path / "out.json"), "--exclude", "*.bin", "-j", "1"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert out.stdout.split() == ["False", "0"], out.stderr[-2000:]
