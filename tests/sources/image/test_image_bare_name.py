"""A bare ``name:tag`` is the local daemon's image when the daemon holds it, as ``docker run``
would take it; the locations say so (``docker-daemon:``)."""

from __future__ import annotations

import pytest

from tests.sources.image.conftest import BuiltImage
from tests.sources.image.helpers import by_secret, run_cli

pytestmark = pytest.mark.docker


def test_bare_name_is_read_from_the_local_daemon(built_image: BuiltImage, image_rules) -> None:  # type: ignore[no-untyped-def]
    code, doc, err = run_cli(
        [
            "scan",
            "image",
            "leakscan-test-app:1",
            "--rules",
            str(image_rules),
            "-f",
            "json",
            "--show-secrets",
            "--no-progress",
        ]
    )
    assert code == 1, err
    found = by_secret(doc)
    present = found[built_image.secrets["present"]]
    images = {loc.get("image") for loc in present["locations"]}
    assert images == {"docker-daemon:leakscan-test-app:1"}
