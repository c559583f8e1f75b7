"""Typed locations: each kind's JSON fields come out as the sources put them in, in order,
and its label is the text the table shows."""

from __future__ import annotations

from typing import Any

import pytest

from leakscan.locations import (
    ContainerEnvLocation,
    FileLocation,
    GitLocation,
    ImageLayerLocation,
    OtherLocation,
    location_of,
    place_of,
)
from leakscan.model import Location, Provenance
from leakscan.report.table import describe

IMAGE = {"image": "app:1", "image_digest": "sha256:" + "ab" * 32, "platform": "linux/amd64"}
GIT = {"repo": "r", "commit": "c0ffee" * 6, "author": "Ann <a@x>", "date": "2024-01-02"}
# every field order a source writes today (see the sources' Provenance(...) calls)
AS_WRITTEN: list[tuple[str, dict[str, Any]]] = [
    ("file", {"path": "k8s/secret.yaml"}),
    ("file", {"path": "k8s/secret.yaml", "key": "data.token", "manifest": "Secret", "document": 2}),
    (
        "image-layer",
        {
            **IMAGE,
            "layer_digest": "sha256:" + "cd" * 32,
            "layer_index": 3,
            "created_by": "COPY . /app",
            "path": "app/.env",
            "state": "deleted",
            "deleted_in_layer": 5,
        },
    ),
    ("image-config", {**IMAGE, "field": "Env[3]"}),
    ("git", {**GIT, "refs": ["main"], "path": "a.txt", "in_head": False}),
    ("git", {**GIT, "refs": ["main"], "field": "message"}),
    ("git", {"repo": "r", "ref": "v1", "tag_object": "t", "author": "A", "field": "tag-message"}),
    ("git", {"repo": "r", "ref": "v1", "field": "tagged-blob"}),
    ("git", {**GIT, "unreachable": True, "field": "message"}),
    ("git", {**GIT, "path": "a.txt", "object": "0b", "unreachable": True}),
    ("git", {"repo": "r", "path": "a.txt", "staged": True}),
    ("env", {"name": "TOKEN"}),
    ("env", {"file": ".env", "name": "TOKEN"}),
    ("container-env", {"container": "web", "name": "TOKEN"}),
    ("container-config", {"container": "web", "field": "Cmd"}),
    ("plugin-kind", {"where": "somewhere", "path": "x"}),
]


@pytest.mark.parametrize(("kind", "fields"), AS_WRITTEN)
def test_json_fields_come_out_as_written(kind: str, fields: dict[str, Any]) -> None:
    out = Provenance(kind, {**fields, "unset": None}).to_dict()
    assert list(out.items()) == [("kind", kind), *fields.items()]


def test_each_kind_reads_into_its_class() -> None:
    assert isinstance(location_of(Provenance("file", {"path": "a"})), FileLocation)
    git = location_of(Provenance("git", {"repo": "r", "commit": "c1", "path": "p"}))
    assert isinstance(git, GitLocation) and (git.commit, git.path, git.image) == ("c1", "p", None)
    env = location_of(Provenance("container-env", {"container": "web", "name": "T"}))
    assert isinstance(env, ContainerEnvLocation) and env.name == "T" and env.path is None
    other = location_of(Provenance("plugin-kind", {"path": "x", "image": "i"}))
    assert isinstance(other, OtherLocation) and (other.path, other.image) == ("x", "i")


@pytest.mark.parametrize(
    ("kind", "fields", "line", "label"),
    [
        ("file", {"path": "a/b.py"}, 4, "a/b.py:4:7"),
        ("env", {"name": "TOKEN"}, None, "process env TOKEN"),
        ("container-env", {"container": "web", "name": "T"}, None, "web env T"),
        ("image-config", IMAGE | {"field": "Env[3]"}, None, "app:1 config Env[3]"),
        ("git", {"repo": "r", "path": "p", "staged": True}, 2, "p:2 (staged)"),
        (
            "image-layer",
            IMAGE
            | {
                "layer_index": 0,
                "path": "x",
                "state": "overwritten",
                "overwritten_in_layer": 2,
                "created_by": "RUN x",
            },
            None,
            "app:1 layer 1 x [overwritten in layer 3]  (RUN x)",
        ),
    ],
)
def test_label_is_the_table_text(
    kind: str, fields: dict[str, Any], line: int | None, label: str
) -> None:
    where = location_of(Provenance(kind, fields))
    assert where.label(line, 7) == label
    assert describe(Location(Provenance(kind, fields), line, 7)) == label


def test_a_layer_label_leaves_created_by_out_when_asked() -> None:
    where = location_of(
        Provenance("image-layer", {"image": "i", "path": "x", "created_by": "RUN x"})
    )
    assert isinstance(where, ImageLayerLocation)
    assert where.label(created_by=False) == "i layer ? x"


def test_a_structured_value_has_the_place_of_its_file() -> None:
    file = place_of(Provenance("file", {"path": "s.yaml"}))
    value = place_of(Provenance("file", {"path": "s.yaml", "key": "data.t", "manifest": "Secret"}))
    assert file == value != place_of(Provenance("file", {"path": "o"}))
