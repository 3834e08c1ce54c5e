"""A YAML file read the way a config file needs it: its data, where each key and value stands in the
file (to point an error at its line), every key given twice in one mapping (all of them in one pass),
and syntax errors that name the file rather than `"<unicode string>"`.

>>> doc = read_yaml("a: 1\\nb:\\n  c: [x, y]\\n", name="c.yaml")
>>> doc.data["b"]["c"], str(doc.locate(("b", "c", 1))), str(doc.locate(("b", "c"), key=True))
(['x', 'y'], 'c.yaml:3:10', 'c.yaml:3:3')
>>> doc = read_yaml("a: 1\\nb:\\n  c: x\\n  c: z\\n", name="c.yaml")
>>> doc.data["b"]["c"], [(path, str(again), first.line) for path, again, first in doc.duplicates]
('z', [(('b', 'c'), 'c.yaml:4:3', 3)])
>>> read_yaml("a: b: c\\n", name="c.yaml")
Traceback (most recent call last):
driftwarden.core.yaml_document.YamlSyntaxError: c.yaml:1:5: not valid YAML: mapping values are not allowed here
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

__all__ = ["Location", "YamlDocument", "YamlSyntaxError", "read_yaml"]

Path = tuple[str | int, ...]  # mapping keys and sequence indexes from the top of the document


@dataclass(frozen=True)
class Location:
    """A place in a file, `file:line:column` (both counted from 1), as compilers and editors write it."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    @classmethod
    def of(cls, mark: yaml.Mark) -> Location:
        return cls(mark.name, mark.line + 1, mark.column + 1)


class YamlSyntaxError(ValueError):
    """The text is not YAML; `str()` is one line: `file:line:column: not valid YAML: what`."""

    def __init__(self, where: Location | str, problem: str) -> None:
        super().__init__(f"{where}: not valid YAML: {problem}")
        self.where = where
        self.problem = problem


@dataclass(frozen=True)
class YamlDocument:
    name: str
    data: Any
    root: yaml.Node | None
    duplicates: tuple[tuple[Path, Location, Location], ...]  # each key given again in its mapping: where again, first

    def locate(self, path: Sequence[str | int], *, key: bool = False, exact: bool = False) -> Location | None:
        """Where the value at `path` stands (its key, with `key`). When the file does not give the
        whole path: where the deepest part it gives stands (a missing key: its mapping), or None
        with `exact`. None for an empty document."""
        if self.root is None:
            return None
        node, key_node = self.root, None
        for part in path:
            child = _child(node, part)
            if child is None:
                return None if exact else Location.of(node.start_mark)
            key_node, node = child
        mark = key_node.start_mark if key and key_node is not None else node.start_mark
        return Location.of(mark)


def read_yaml(text: str, *, name: str) -> YamlDocument:
    """Parse `text` with YAML's safe loader; YamlSyntaxError (naming `name`) when it is not YAML.
    A key given twice keeps its last value, and is listed in `duplicates` for the caller to refuse."""
    try:
        loader = yaml.SafeLoader(text)  # reads the whole text, refusing characters YAML does not allow
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        problem = f"character #x{exc.character:04x} is not allowed ({exc.reason})"
        raise YamlSyntaxError(Location(name, line, column), problem) from exc
    loader.name = name  # the name marks and errors carry (the reader's default: "<unicode string>")
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, name) from exc
    finally:
        loader.dispose()
    return YamlDocument(name, data, root, tuple(_duplicates(root, (), set())) if root is not None else ())


def _syntax_error(exc: yaml.MarkedYAMLError, name: str) -> YamlSyntaxError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "cannot be parsed"
    if exc.context and exc.problem and exc.context_mark is not None:
        problem += f" ({exc.context} on line {exc.context_mark.line + 1})"
    return YamlSyntaxError(Location.of(mark) if mark is not None else name, problem)


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node | None, yaml.Node] | None:
    """(key node, value node) of `part` in a mapping or sequence node; None when it is not there."""
    if isinstance(node, yaml.MappingNode):
        found = None
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                found = key_node, value_node  # the last one: the value YAML keeps
        return found
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return None, node.value[part]
    return None


def _duplicates(node: yaml.Node, path: Path, seen_nodes: set[int]) -> Iterator[tuple[Path, Location, Location]]:
    if id(node) in seen_nodes:  # an alias: its node was walked where it was anchored (and may hold itself)
        return
    seen_nodes.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[str, Location] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key in first:
                yield (*path, key), Location.of(key_node.start_mark), first[key]
            elif key is not None:
                first[key] = Location.of(key_node.start_mark)
            yield from _duplicates(value_node, (*path, key if key is not None else "?"), seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicates(item, (*path, i), seen_nodes)
