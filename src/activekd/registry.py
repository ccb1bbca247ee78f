"""A tiny name -> factory registry shared by every family (strategies, students, teachers, datasets)."""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

from activekd.errors import ActiveKDError

T = TypeVar("T")


class UnknownNameError(ActiveKDError):
    """Raised for a name no registry entry has; the message lists the valid names."""


def parse_spec(spec: str) -> tuple[str, str | None]:
    """Split a ``KIND:ARG`` spec at its first colon: ``"file:a.npz"`` → ``("file", "a.npz")``, ``"standin"`` → ``("standin", None)``."""
    kind, sep, arg = spec.partition(":")
    return kind, (arg if sep else None)


class Registry(Generic[T]):
    """Maps names to objects. ``get`` on an unknown name raises, listing the known ones."""

    def __init__(self, family: str) -> None:
        self.family = family
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.family} {name!r} is already registered")
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.family} {name!r}; valid: {', '.join(sorted(self._items))}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items
