"""Run every benchmark that is present: `python -m bench [NAME…]`."""

from __future__ import annotations

import importlib
import sys

BENCHES = ("engine", "dirscan", "image", "git", "registry", "dask_audit", "differential")


def main() -> int:
    wanted = sys.argv[1:] or list(BENCHES)
    for name in wanted:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench.{name}":
                continue
            raise
        print(f"== {name}", flush=True)
        module.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
