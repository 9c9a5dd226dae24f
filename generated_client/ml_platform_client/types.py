"""Contains some shared types for properties"""

from collections.abc import ItemsView, Iterator, KeysView, Mapping, MutableMapping, ValuesView
from http import HTTPStatus
from typing import IO, Any, BinaryIO, Generic, Literal, TypeVar, cast

from attrs import define, fields


class Unset:
    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Unset = Unset()

# The types that `httpx.Client(files=)` can accept, copied from that library.
FileContent = IO[bytes] | bytes | str
FileTypes = (
    # (filename, file (or bytes), content_type)
    tuple[str | None, FileContent, str | None]
    # (filename, file (or bytes), content_type, headers)
    | tuple[str | None, FileContent, str | None, Mapping[str, str]]
)
RequestFiles = list[tuple[str, FileTypes]]


@define
class File:
    """Contains information for file uploads"""

    payload: BinaryIO
    file_name: str | None = None
    mime_type: str | None = None

    def to_tuple(self) -> FileTypes:
        """Return a tuple representation that httpx will accept for multipart/form-data"""
        return self.file_name, self.payload, self.mime_type


T = TypeVar("T")


@define
class Response(Generic[T]):
    """A response from an endpoint"""

    status_code: HTTPStatus | int
    content: bytes
    headers: MutableMapping[str, str]
    parsed: T | None


def status_of(code: int) -> HTTPStatus | int:
    """The HTTPStatus for ``code``, or the bare int for codes Python does not name (e.g. 520)."""
    try:
        return HTTPStatus(code)
    except ValueError:
        return code


class WireMapping:
    """Read-only dict-style access to a model's documented JSON shape.

    The documented API "returns the JSON response", and users' code indexes into it
    (``resp["Result"]["ModelID"]``); typed access (``resp.result.model_id``) works on the same object.
    """

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)

    def keys(self) -> KeysView[str]:
        return self.to_dict().keys()

    def values(self) -> ValuesView[Any]:
        return self.to_dict().values()

    def items(self) -> ItemsView[str, Any]:
        return self.to_dict().items()

    def __contains__(self, key: object) -> bool:
        return key in self.to_dict()

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __repr__(self) -> str:
        # Only the fields that are set (UNSET ones would bury the values), plus unknown wire keys.
        shown = [
            f"{a.name}={getattr(self, a.name)!r}"
            for a in fields(cast(Any, type(self)))
            if a.name != "additional_properties" and not isinstance(getattr(self, a.name), Unset)
        ]
        extra = getattr(self, "additional_properties", None)
        if extra:
            shown.append(f"additional_properties={extra!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


__all__ = ["UNSET", "File", "FileTypes", "RequestFiles", "Response", "Unset", "WireMapping", "status_of"]
