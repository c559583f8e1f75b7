"""A layer scanned by an audit opens the archives inside it, like every other source."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

from leakscan.audit.layers import scan_layer
from leakscan.engine.detector import Detector
from leakscan.rules.loader import load_rules
from leakscan.sources.interface import SourceOptions
from tests.helpers import github_token, write_rules


def _layer(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_secret_inside_a_jar_in_a_layer_is_found_with_the_member_path(tmp_path: Path) -> None:
    token, plain = github_token(), github_token()
    jar = io.BytesIO()
    with zipfile.ZipFile(jar, "w") as z:
        z.writestr("BOOT-INF/classes/application.properties", f"gh.token={token}\n")
    layer = _layer({"app/app.jar": jar.getvalue(), "app/.env": f"T={plain}\n".encode()})
    detector = Detector(load_rules([write_rules(tmp_path / "rules")], include_builtin=False))
    seen: dict = {}  # type: ignore[type-arg]
    scanned = scan_layer(io.BytesIO(layer), "layer 0", detector, SourceOptions(), seen)
    found = {(path, m.secret) for path, m in scanned.matches}
    assert found == {
        ("app/app.jar!BOOT-INF/classes/application.properties", token),
        ("app/.env", plain),
    }
    # the same layer content again (another image): matches come from the run's memory
    again = scan_layer(io.BytesIO(layer), "layer 0", detector, SourceOptions(), seen)
    assert {(p, m.secret) for p, m in again.matches} == found
    assert again.files == 0
