"""The one model-name resolver, shared by config validation and serving (Catalog.resolve).

A requested name is looked up as: alias (whose target is looked up as follows), provider name,
`prefix/id`, bare id (`gpt-4o` for `openai/gpt-4o`; the default provider wins a tie, else the first
declared), then wildcard providers (`openai/*` serves `openai/anything`). Validation asking "is this a
configured model?" and the gateway answering a request therefore never disagree. Pure: no pydantic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NameEntry:
    """What a provider entry contributes to name lookup."""

    name: str  # its `name`, else its model
    model: str  # prefix/id
    default: bool = False

    @property
    def model_id(self) -> str:
        return self.model.split("/", 1)[1]

    @property
    def wildcard(self) -> bool:
        return self.model_id == "*" or self.model_id.endswith("/*")


@dataclass(frozen=True, slots=True)
class Match:
    """Entry `index` serves the name; for a wildcard entry, `model` is the prefix/id it serves."""

    index: int
    model: str | None = None


class ModelNames:
    __slots__ = ("_by_bare", "_by_model", "_by_name", "_prefixes", "_wildcards", "aliases")

    def __init__(self, entries: Sequence[NameEntry], aliases: Mapping[str, str]) -> None:
        self._by_name: dict[str, int] = {}
        self._by_model: dict[str, int] = {}
        self._by_bare: dict[str, int] = {}
        self._wildcards: list[tuple[str, int]] = []
        self._prefixes = {e.model.split("/", 1)[0] for e in entries}
        self.aliases = dict(aliases)
        for i, entry in enumerate(entries):
            if entry.wildcard:
                self._wildcards.append((entry.model[:-1], i))
                continue
            self._by_name.setdefault(entry.name, i)
            self._by_model.setdefault(entry.model, i)
            first = self._by_bare.get(entry.model_id)
            if first is None or (entry.default and not entries[first].default):
                self._by_bare[entry.model_id] = i

    def find(self, name: str) -> Match | None:
        """The entry serving a requested name (aliases followed once)."""
        return self.find_model(self.aliases.get(name, name))

    def find_model(self, name: str) -> Match | None:
        """The entry serving `name` as a provider name, prefix/id, bare id or wildcard (not an alias)."""
        index = self._by_name.get(name)
        if index is None:
            index = self._by_model.get(name)
        if index is None:
            index = self._by_bare.get(name)
        if index is not None:
            return Match(index)
        for stem, i in self._wildcards:
            if name.startswith(stem) and len(name) > len(stem):
                return Match(i, name)
        return None

    def exists(self, name: str) -> bool:
        return self.find(name) is not None

    def is_prefix_wildcard(self, name: str) -> bool:
        """`prefix/*` naming every model of a configured provider prefix (budget targets)."""
        return name.endswith("/*") and name[:-2] in self._prefixes
