"""A small real repository the git fuzz targets damage (built with the git CLI)."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.fuzz.seeds import SECRET
from tests.sources.git.gitrepo import GitRepo


class Built:
    """A small repository: the secret in the first commit, later commits touching another
    file, an annotated tag, a branch. ``loose`` keeps every object loose; ``packed`` is
    the same history after ``git gc``."""

    def __init__(self, root: Path) -> None:
        repo = GitRepo(root / "loose")
        repo.commit("add settings", {".env": f"GITHUB_TOKEN={SECRET}\n", "README": "hi\n"})
        repo.commit("notes", {"notes.txt": "first line\n" * 30})
        repo.git("tag", "-a", "v1", "-m", "release one\n\nwith a body")
        repo.git("branch", "side")
        repo.commit("more notes", {"notes.txt": "first line\n" * 30 + "second\n"})
        self.loose = repo.path
        self.notes = {repo.git("rev-parse", f"{rev}:notes.txt") for rev in ("HEAD~1", "HEAD")}
        self.commit = repo.git("cat-file", "commit", "HEAD").encode() + b"\n"
        self.tag = repo.git("cat-file", "tag", "v1").encode() + b"\n"
        self.packed = root / "packed"
        shutil.copytree(self.loose, self.packed)
        GitRepo(self.packed, init=False).git("gc", "-q", "--prune=now")

    def objects(self, which: Path) -> list[str]:
        """Paths (relative to the repository) of the files git reads objects and refs from."""
        git = which / ".git"
        found = [p for p in (git / "objects").rglob("*") if p.is_file() and "info" not in p.parts]
        found += [git / "HEAD", git / "packed-refs", *(git / "refs").rglob("*")]
        return sorted(str(p.relative_to(which)) for p in found if p.is_file())
