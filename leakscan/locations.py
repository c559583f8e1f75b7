"""Typed locations: one frozen dataclass per provenance kind, each saying where in words
(:meth:`label`, the text the table shows) and in JSON (:meth:`to_dict`, the report fields).

``location_of(provenance)`` reads a :class:`~leakscan.model.Provenance` into its kind's class;
reporters and policies ask it for a path, an image or a label instead of guessing keys.
Fields the kind does not name (a structured value's ``key``/``manifest``/``document``, or
anything newer) are kept in ``extra`` and reported after the kind's own, in their order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Protocol

Extra = tuple[tuple[str, Any], ...]

#: the fields a structured value adds to the place it lies in (leakscan.sources.manifests):
#: a Secret's data key, the manifest kind, the document number in the file
STRUCTURED_FIELDS = frozenset({"key", "manifest", "document"})


def short_digest(text: str) -> str:
    """``sha256:0123456789ab``: a digest shortened as ``docker images`` shows it."""
    algo, _, hexa = text.partition(":")
    return f"{algo}:{hexa[:12]}" if hexa else text[:19]


def _pos(line: int | None) -> str:
    return f":{line}" if line is not None else ""


@dataclass(frozen=True, slots=True)
class _Base:
    kind: ClassVar[str] = ""
    extra: Extra

    @property
    def path(self) -> str | None:
        return None

    @property
    def image(self) -> str | None:
        return None

    @property
    def image_digest(self) -> str | None:
        return None

    @property
    def commit(self) -> str | None:
        return None

    @property
    def field(self) -> str | None:
        """The value inside the place (a config field, a commit message), if one is named."""
        return None

    @property
    def name(self) -> str | None:
        """The variable (of an environment), if one is named."""
        return None

    def label(
        self, line: int | None = None, column: int | None = None, created_by: bool = True
    ) -> str:
        text = f"{self.path or self.field or ''}{_pos(line)}"
        if column is not None and line is not None:
            text += f":{column}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """``kind`` then every field that is set, as the JSON report has them."""
        values = {name: getattr(self, name) for name in _names(type(self))}
        values.update(self.extra)
        return _json(type(self), self.kind, values)


def _names(cls: type[_Base]) -> tuple[str, ...]:
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in fields(cls) if f.name != "extra")
    return names


_NAMES: dict[type[_Base], tuple[str, ...]] = {}


def _json(cls: type[_Base], kind: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON fields of a location: ``kind``, the class's own fields in their declared
    order, then the others in theirs; unset (``None``) fields left out."""
    out: dict[str, Any] = {"kind": kind}
    for name in _names(cls):
        value = values.get(name)
        if value is not None:
            out[name] = value
    for name, value in values.items():
        if value is not None and name not in out:
            out[name] = value
    return out


def _place(values: Mapping[str, Any]) -> tuple[object, ...]:
    kept = ((k, v) for k, v in values.items() if k not in STRUCTURED_FIELDS)
    return tuple(sorted(map(str, kept)))


@dataclass(frozen=True, slots=True)
class FileLocation(_Base):
    kind: ClassVar[str] = "file"
    path: str | None = None


@dataclass(frozen=True, slots=True)
class ImageLayerLocation(_Base):
    """A file in one layer of an image; ``state`` says whether a later layer deleted or
    overwrote it (``*_in_layer`` counted from 0 at the base)."""

    kind: ClassVar[str] = "image-layer"
    image: str | None = None
    image_digest: str | None = None
    platform: str | None = None
    layer_digest: str | None = None
    layer_index: int | None = None
    created_by: str | None = None
    path: str | None = None
    state: str | None = None
    deleted_in_layer: int | None = None
    overwritten_in_layer: int | None = None

    def layer_label(self) -> str:
        """``layer 4 (sha256:0123456789ab)``: counted from 1 at the base, as ``docker
        history`` numbers them from the bottom, with the layer's short digest."""
        index = self.layer_index
        number = int(index) + 1 if isinstance(index, int) else "?"
        digest = self.layer_digest
        return f"layer {number}" + (f" ({short_digest(digest)})" if digest else "")

    def label(
        self, line: int | None = None, column: int | None = None, created_by: bool = True
    ) -> str:
        text = f"{self.image} {self.layer_label()} {self.path}{_pos(line)}"
        if self.state and self.state != "present":
            n = self.deleted_in_layer
            if n is None:
                n = self.overwritten_in_layer
            text += f" [{self.state}{' in layer ' + str(n + 1) if isinstance(n, int) else ''}]"
        if created_by and self.created_by:
            text += f"  ({self.created_by})"
        return text


@dataclass(frozen=True, slots=True)
class ImageConfigLocation(_Base):
    """One field of an image's configuration (``Env[3]``, ``Labels[x]``, a history step)."""

    kind: ClassVar[str] = "image-config"
    image: str | None = None
    image_digest: str | None = None
    platform: str | None = None
    field: str | None = None

    def label(
        self, line: int | None = None, column: int | None = None, created_by: bool = True
    ) -> str:
        return f"{self.image} config {self.field}"


@dataclass(frozen=True, slots=True)
class GitLocation(_Base):
    """A place in a git repository: a file at the commit that introduced it, a commit or
    tag message (``field``), a tagged blob, an unreachable object or a staged file."""

    kind: ClassVar[str] = "git"
    repo: str | None = None
    ref: str | None = None
    tag_object: str | None = None
    commit: str | None = None
    author: str | None = None
    date: str | None = None
    refs: Any = None
    path: str | None = None
    object: str | None = None
    unreachable: bool | None = None
    field: str | None = None
    in_head: bool | None = None
    staged: bool | None = None

    def label(
        self, line: int | None = None, column: int | None = None, created_by: bool = True
    ) -> str:
        pos = _pos(line)
        commit = str(self.commit or "")[:10]
        who = " ".join(str(x) for x in (self.author, self.date) if x)
        if self.field == "message":
            text = f"commit message of {commit}{pos}"
        elif self.field == "tag-message":
            text = f"tag message of {self.ref}{pos}"
        elif self.field == "tagged-blob":
            text = f"blob tagged {self.ref}{pos}"
        elif self.unreachable:
            obj = str(self.object or "")[:12]
            text = f"unreachable blob {obj}{pos}"
            if self.path:
                text = f"{self.path}{pos} in unreachable blob {obj}"
            if commit:
                text += f" of dangling commit {commit}"
        elif self.staged:
            return f"{self.path}{pos} (staged)"
        else:
            text = f"{self.path}{pos}" + (f" @ {commit}" if commit else "")
        if who:
            text += f" {who}"
        if self.in_head is False:
            text += " [not in HEAD]"
        return text


@dataclass(frozen=True, slots=True)
class EnvLocation(_Base):
    """A variable of this process's environment, or of an env file (``file``)."""

    kind: ClassVar[str] = "env"
    file: str | None = None
    name: str | None = None

    def label(
        self, line: int | None = None, column: int | None = None, created_by: bool = True
    ) -> str:
        return f"{self.file or 'process'} env {self.name}"


@dataclass(frozen=True, slots=True)
class ContainerEnvLocation(_Base):
    """A variable of a container's environment."""

    kind: ClassVar[str] = "container-env"
    container: str | None = None
    name: str | None = None

    def label(
        self, line: int | None = None, column: int | None = None, created_by: bool = True
    ) -> str:
        return f"{self.container or 'process'} env {self.name}"


@dataclass(frozen=True, slots=True)
class ContainerConfigLocation(_Base):
    """A field of a container's configuration (``Cmd``, ``Labels[x]``)."""

    kind: ClassVar[str] = "container-config"
    container: str | None = None
    field: str | None = None


@dataclass(frozen=True, slots=True)
class OtherLocation(_Base):
    """A kind this module does not know (a plugin's): its fields as they came."""

    kind_name: str = ""

    def get(self, key: str) -> Any:
        return dict(self.extra).get(key)

    def _text(self, key: str) -> str | None:
        value = self.get(key)
        return None if value is None else str(value)

    @property
    def path(self) -> str | None:
        return self._text("path")

    @property
    def image(self) -> str | None:
        return self._text("image")

    @property
    def image_digest(self) -> str | None:
        return self._text("image_digest")

    @property
    def commit(self) -> str | None:
        return self._text("commit")

    @property
    def field(self) -> str | None:
        return self._text("field")

    @property
    def name(self) -> str | None:
        return self._text("name")

    def to_dict(self) -> dict[str, Any]:
        return _json(OtherLocation, self.kind_name, dict(self.extra))


Where = (
    FileLocation
    | ImageLayerLocation
    | ImageConfigLocation
    | GitLocation
    | EnvLocation
    | ContainerEnvLocation
    | ContainerConfigLocation
    | OtherLocation
)

_CLASSES: dict[str, type[_Base]] = {
    c.kind: c
    for c in (
        FileLocation,
        ImageLayerLocation,
        ImageConfigLocation,
        GitLocation,
        EnvLocation,
        ContainerEnvLocation,
        ContainerConfigLocation,
    )
}


def from_fields(kind: str, values: Mapping[str, Any]) -> Where:
    """The typed location of ``kind`` with these JSON fields (unknown ones kept in extra)."""
    cls = _CLASSES.get(kind)
    if cls is None:
        return OtherLocation(tuple(values.items()), kind)
    names = _names(cls)
    kwargs = {k: v for k, v in values.items() if k in names}
    extra = tuple((k, v) for k, v in values.items() if k not in names)
    return cls(extra, **kwargs)  # type: ignore[return-value]


class _Provenance(Protocol):  # leakscan.model.Provenance (the model imports this module)
    @property
    def kind(self) -> str: ...

    @property
    def fields(self) -> Mapping[str, Any]: ...


def location_of(provenance: _Provenance) -> Where:
    """The typed location a provenance describes."""
    return from_fields(provenance.kind, provenance.fields)


def json_of(provenance: _Provenance) -> dict[str, Any]:
    """``location_of(provenance).to_dict()``, without making the location (reports call it
    for every location)."""
    return _json(_CLASSES.get(provenance.kind, OtherLocation), provenance.kind, provenance.fields)


def place_of(provenance: _Provenance) -> tuple[object, ...]:
    """``location_of(provenance).place()``, without making the location."""
    return _place(json_of(provenance))
