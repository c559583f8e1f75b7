"""Run every benchmark that is present: `python -m bench [NAME…] [OPTIONS]`.

Options after the names go to the one bench that takes them (`python -m bench differential
--list-limit 80 --fail-on-unjudged`); `python -m bench.differential --help` lists them.
"""

from __future__ import annotations

import importlib
import sys

BENCHES = (
    "engine",
    "dirscan",
    "small",
    "image",
    "git",
    "registry",
    "dask_audit",
    "watch",
    "differential",
)
WITH_OPTIONS = ("differential",)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    cut = next((i for i, a in enumerate(args) if a.startswith("-")), len(args))
    wanted, options = args[:cut] or list(BENCHES), args[cut:]
    if options and (len(wanted) != 1 or wanted[0] not in WITH_OPTIONS):
        print(
            f"bench: options go to one bench ({', '.join(WITH_OPTIONS)}): "
            "python -m bench differential --list-limit 80",
            file=sys.stderr,
        )
        return 2
    for name in wanted:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench.{name}":
                continue
            raise
        print(f"== {name}", flush=True)
        if options:
            module.run(options)
        else:
            module.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
